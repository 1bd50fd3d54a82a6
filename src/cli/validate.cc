#include "validate.h"

#include <cstdio>

#include "sluice/job.h"

namespace sluice::cli {

void add_validate_options(CLI::App& cmd, ValidateOptions& o) {
  add_pipeline_file(cmd, o.file);
  cmd.add_flag("--offline", o.offline,
               "do not look at the input's and datasets' files or the cloud credentials (they are elsewhere, or made "
               "later); check the rest");
}

int validate_command(const ValidateOptions& o) {
  auto shape = Job::check(o.file.path, {.sets = o.file.sets}, /*look_at_files=*/!o.offline);
  if (!shape.ok()) {
    std::fprintf(stderr, "%s\n", shape.status().message().c_str());
    return 2;
  }
  std::printf("%s: OK: %zu step(s), %zu join(s), %zu output column(s)\n", o.file.path.c_str(), shape->steps,
              shape->joins, shape->output_columns);
  return 0;
}

}  // namespace sluice::cli
