// The summary a command prints at its end, for people (the JSON one is
// JobSummary::to_json).
#pragma once

#include <cstdio>
#include <string>

#include "sluice/job_summary.h"

namespace sluice::cli {

// "12.3 MiB": bytes in binary units, for people.
std::string human_bytes(double bytes);

// `files`: a run's summary (rows written to files, dead letters, resumes),
// else a stream's or a server's (records answered).
void print_summary(const JobSummary& s, std::FILE* out, bool files = true);

// A server's requests: answered, bad, shed, past their deadline, and the
// pauses at the open-file limit.
void print_served(const ServeStats& s, std::FILE* out);

}  // namespace sluice::cli
