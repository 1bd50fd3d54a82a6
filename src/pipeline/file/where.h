// A place in a pipeline file, for messages: "file:line:column".
#pragma once

#include <string>

namespace sluice::pipeline {

struct Where {
  std::string file;
  int line = 0;    // from 1
  int column = 0;  // from 1
  std::string str() const { return file + ":" + std::to_string(line) + ":" + std::to_string(column); }
};

}  // namespace sluice::pipeline
