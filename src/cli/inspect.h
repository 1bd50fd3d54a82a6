// `sluice inspect FILE.parquet`: what a Parquet file holds.
#pragma once

#include <cstddef>
#include <cstdio>
#include <string>

namespace sluice::cli {

// Prints the schema, row groups (sizes, encodings, codecs, statistics) and
// the first `rows` rows; the process exit code.
int run_inspect(const std::string& path, std::size_t rows, std::FILE* out);

}  // namespace sluice::cli
