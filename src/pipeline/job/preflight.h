// Preflight: what a run would otherwise find wrong only once it has started,
// checked before it does. `sluice run` checks it as it starts; `sluice
// validate` checks it too, so that a file that validates does not fail at
// once when run (`--offline` leaves out what needs the files).
#pragma once

#include <string>
#include <vector>

#include "pipeline/file/config.h"
#include "sluice/status.h"

namespace sluice::pipeline {

enum class FileChecks : std::uint8_t {
  kCheck,  // the input's and datasets' files exist, can be read, and hold the declared columns
  kSkip,   // not those (the files are elsewhere, or made later)
};

// Every problem found, one a line, each naming where it is: the API's
// settings (base_url, timeouts, headers), the input's and datasets' files,
// the output's address, and the environment variables sluice reads
// (SLUICE_CPU_THREADS; for an s3:// output, those check_store_environment
// names).
Status preflight(const PipelineConfig& config, FileChecks files);

}  // namespace sluice::pipeline
