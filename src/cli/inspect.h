// `sluice inspect FILE.parquet`: what a Parquet file holds.
#pragma once

#include <CLI/App.hpp>
#include <cstddef>
#include <cstdio>
#include <string>

namespace sluice::cli {

// Prints the schema, row groups (sizes, encodings, codecs, statistics) and
// the first `rows` rows; the process exit code.
struct InspectOptions {
  std::string path;
  std::size_t rows = 5;  // first rows printed
};

void add_inspect_options(CLI::App& cmd, InspectOptions& o);
int run_inspect(const InspectOptions& o, std::FILE* out);

}  // namespace sluice::cli
