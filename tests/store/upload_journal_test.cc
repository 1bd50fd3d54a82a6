#include "../../src/store/upload_journal.h"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

namespace sluice::s3 {
namespace {

std::string fresh_dir(const std::string& name) {
  std::string d = ::testing::TempDir() + "/sluice-journal-" + name + "-" + std::to_string(::getpid());
  std::filesystem::remove_all(d);
  return d;
}

TEST(UploadJournal, OnlyUploadsOfEndedProcessesAreAbandoned) {
  UploadJournal j(fresh_dir("ended"));
  JournalEntry mine{.service = "http://127.0.0.1:9000", .bucket = "b", .key = "dir/a b.parquet", .upload_id = "id/1+="};
  ASSERT_TRUE(j.add(mine).ok());
  EXPECT_EQ(mine.pid, ::getpid());

  pid_t child = ::fork();
  if (child == 0) ::_exit(0);
  ASSERT_GT(child, 0);
  ::waitpid(child, nullptr, 0);  // ended: its pid names no live process of the same start time
  JournalEntry theirs{.service = mine.service,
                      .bucket = "b",
                      .key = "k\nwith newline",
                      .upload_id = "id2",
                      .completing = true,
                      .etags = {"\"e1\"", "\"e 2\""},
                      .pid = child,
                      .start_ticks = 12345};
  ASSERT_TRUE(j.update(theirs).ok());
  JournalEntry other_bucket = theirs;
  other_bucket.bucket = "c";
  ASSERT_TRUE(j.update(other_bucket).ok());

  auto left = j.abandoned(mine.service, "b");
  ASSERT_TRUE(left.ok()) << left.status().to_string();
  ASSERT_EQ(left->size(), 1u);
  const JournalEntry& e = (*left)[0];
  EXPECT_EQ(e.key, "k\nwith newline");
  EXPECT_EQ(e.upload_id, "id2");
  EXPECT_TRUE(e.completing);
  EXPECT_EQ(e.etags, theirs.etags);
  EXPECT_TRUE(j.abandoned("http://elsewhere", "b")->empty());

  j.remove(e);
  EXPECT_TRUE(j.abandoned(mine.service, "b")->empty());
}

TEST(UploadJournal, AGarbledEntryIsAnErrorNamingItsFileAndLine) {
  std::string d = fresh_dir("garbled");
  std::filesystem::create_directories(d);
  std::ofstream(d + "/x.upload") << "sluice-upload 1\nbucket b\nwhat ever\n";
  auto r = UploadJournal(d).abandoned("s", "b");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find(d + "/x.upload:3: unknown field 'what'"), std::string::npos)
      << r.status().to_string();
  std::ofstream(d + "/x.upload", std::ios::trunc) << "something else\n";
  EXPECT_NE(UploadJournal(d).abandoned("s", "b").status().message().find("x.upload:1: not an upload journal entry"),
            std::string::npos);
}

}  // namespace
}  // namespace sluice::s3
