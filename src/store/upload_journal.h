// UploadJournal: a directory of small files, one per S3 multipart upload in
// progress, so that a run that dies (killed, crashed, the network gone)
// leaves a record of the uploads it started. The next run that opens the
// same bucket finishes them: an upload whose parts were all sent is
// completed, any other is aborted, so no orphaned parts go on costing money.
//
// Each entry is written atomically (temporary file, fsync, rename) when the
// upload starts, rewritten when its completion begins, and removed once
// S3 has completed or aborted it. Entries name the process that wrote them:
// a live writer's uploads are never touched.
#pragma once

#include <string>
#include <vector>

#include "sluice/status.h"

namespace sluice::s3 {

struct JournalEntry {
  std::string service;  // where the upload lives: the endpoint URL, or "aws:<region>"
  std::string bucket;
  std::string key;
  std::string upload_id;
  bool completing = false;             // every part was sent; `etags` complete it
  std::vector<std::string> etags;      // in part order
  long pid = 0;                        // the writer: process id and its start time,
  unsigned long long start_ticks = 0;  // so a reused pid is not mistaken for it
};

class UploadJournal {
 public:
  // The directory is created on the first add().
  explicit UploadJournal(std::string dir) : dir_(std::move(dir)) {}

  // Records an entry for this process (pid and start time filled in).
  Status add(JournalEntry& e) const;
  // Rewrites an entry after a change (for example `completing`).
  Status update(const JournalEntry& e) const { return write(e); }
  void remove(const JournalEntry& e) const;
  // The entries left by processes that are no longer running, for one
  // service and bucket. An unreadable entry is an error naming its file.
  Result<std::vector<JournalEntry>> abandoned(const std::string& service, const std::string& bucket) const;

  const std::string& dir() const { return dir_; }

 private:
  Status write(const JournalEntry& e) const;
  std::string path_of(const JournalEntry& e) const;
  std::string dir_;
};

// The default journal directory: $SLUICE_UPLOAD_JOURNAL, else
// $XDG_STATE_HOME/sluice/uploads, else ~/.local/state/sluice/uploads.
std::string default_journal_dir();
// SLUICE_UPLOAD_JOURNAL, when set, is an absolute path.
Status check_journal_env();

}  // namespace sluice::s3
