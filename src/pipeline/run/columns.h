// Records that ended, as what the commit writes: the rows of those written
// in Parquet column batches, one per partition directory, with their input
// positions; the positions of those filtered or not joined; a dead-letter
// line (JSON) for each that failed, naming its input, line, key, step, URL
// and error. Pure CPU work, on a CPU thread.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "pipeline/plan/plan.h"
#include "pipeline/run/record.h"
#include "sluice/parquet/writer.h"

namespace sluice::pipeline {

struct Chunk {
  struct Part {
    parquet::ColumnBatch batch;
    std::vector<std::uint64_t> positions;  // of the batch's rows, in order
  };
  std::map<std::string, Part> parts;   // by partition directory ("" without partitions)
  std::vector<std::uint64_t> settled;  // positions of the records filtered or not joined
  std::uint64_t rows = 0;
  std::vector<std::string> dead;  // JSON lines
  std::uint64_t filtered = 0, not_joined = 0, dead_count = 0, unfinished = 0;
};

// The partition directory of a row, Hive style ("region=r1/kind=a/"; ""
// without partition_by), its values percent-encoded where a path could not
// hold them. Fails for values that make a name longer than a file system
// holds (255 bytes) or a path longer than 512 bytes (an S3 key holds 1,024
// with its prefix and file name): such a row cannot be written anywhere.
Result<std::string> partition_dir(const Plan& plan, const std::vector<Value>& row);

// `inputs` names the input files (a record's `input` indexes it).
Chunk to_columns(const Plan& plan, const std::vector<std::string>& inputs, std::vector<Record> batch);

}  // namespace sluice::pipeline
