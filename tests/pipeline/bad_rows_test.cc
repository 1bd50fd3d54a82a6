// No single bad row blocks a job: a malformed CSV row, a string that is not
// UTF-8, a value the output cannot hold, a partition value no file system
// can name: each dead-letters its record with its file, line, key and
// reason, and every other record is written. A problem with the input as a
// whole stops the run, which commits what is complete first; --resume
// carries on.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <simdjson.h>
#include <sys/stat.h>
#include <unistd.h>

#include <map>
#include <set>
#include <thread>

#include "item_features_fixture.h"

namespace sluice::pipeline {
namespace {

// examples/item-features.yaml with `columns` as the input's columns and
// `extra` added to the output's.
std::string pipeline_with(const std::string& columns, const std::string& extra) {
  std::string yaml = read_text(SLUICE_SOURCE_DIR "/examples/item-features.yaml");
  const std::string input = "  columns: {id: int64}\n";
  const std::string last = "    v_ewma: {type: double, expr: \"ewma(events.v, 0.1, events.t)\"}\n";
  EXPECT_NE(yaml.find(input), std::string::npos);
  EXPECT_NE(yaml.find(last), std::string::npos);
  yaml.replace(yaml.find(input), input.size(), "  columns: " + columns + "\n");
  yaml.replace(yaml.find(last), last.size(), last + extra);
  return yaml;
}

// Each dead letter's key id, with its line.
std::map<std::int64_t, std::string> dead_by_id(const std::vector<std::string>& lines) {
  std::map<std::int64_t, std::string> out;
  simdjson::dom::parser parser;
  for (const auto& l : lines) {
    simdjson::dom::element d;
    if (parser.parse(l).get(d)) {
      ADD_FAILURE() << "not JSON: " << l;
      continue;
    }
    std::int64_t id = -1;
    if (d["key"]["id"].get_int64().get(id)) ADD_FAILURE() << "no key: " << l;
    out[id] = l;
  }
  return out;
}

bool written(std::uint64_t id) { return oracle::fate(id) == oracle::Fate::kWritten; }

class BadRows : public ItemFeatures {
 protected:
  // records.csv of ids 1..n_ with a `tag` column, the rows of `bad` written
  // as given instead.
  void write_records(const std::map<std::uint64_t, std::string>& bad) {
    std::ofstream out(data_ + "/records.csv", std::ios::trunc | std::ios::binary);
    out << "id,tag\n";
    for (std::uint64_t id = 1; id <= n_; ++id) {
      auto it = bad.find(id);
      out << (it != bad.end() ? it->second : std::to_string(id) + ",t" + std::to_string(id)) << "\n";
    }
  }
};

TEST_F(BadRows, EveryKindOfMalformedRowIsDeadLetteredAndEveryOtherRecordWritten) {
  n_ = 400;
  data_ = scratch("bad-rows");
  oracle::write_inputs(data_, n_);
  const std::map<std::uint64_t, std::string> bad = {
      {10, "10,t10,extra"},       // ragged
      {20, "20,t\"20"},           // a quote inside an unquoted field
      {30, "30,\"t30\"x"},        // text after a closing quote
      {40, "40,t\xff\xfe"},       // not UTF-8
      {60, "60,\"never closed"},  // a quote never closed: the rows after it are rows
  };
  write_records(bad);
  const std::string yaml = pipeline_with("{id: int64, tag: string}", "    tag: {type: string, expr: tag}\n");
  JobSummary s = run("bad-rows", {}, {}, yaml, {}, /*fresh=*/false);
  ASSERT_TRUE(s.status.ok()) << s.status.to_string();
  EXPECT_TRUE(s.accounted);
  EXPECT_EQ(s.counts.read, n_);
  EXPECT_EQ(s.counts.dead_lettered, bad.size());
  EXPECT_EQ(s.http.outages, 0u);
  const auto dead = dead_by_id(dead_letters());
  ASSERT_EQ(dead.size(), bad.size());
  const std::map<std::int64_t, std::string> why = {
      {10, "records.csv:11: expected 2 fields (as in the header), found 3"},
      {20, "records.csv:21: a quote inside unquoted field 2"},
      {30, "records.csv:31: unexpected text after the closing quote of field 2"},
      {40, "records.csv:41: column 'tag': not valid UTF-8"},
      {60, "records.csv:61: a quoted field is not closed before the end of the file; read on from line 62"},
  };
  for (const auto& [id, text] : why) {
    ASSERT_EQ(dead.count(id), 1u) << id;
    EXPECT_NE(dead.at(id).find(text), std::string::npos) << dead.at(id);
    EXPECT_NE(dead.at(id).find("\"step\":\"input\""), std::string::npos) << dead.at(id);
  }
  auto lost = [&](std::uint64_t id) { return bad.count(id) > 0; };
  std::uint64_t want = 0;
  for (std::uint64_t id = 1; id <= n_; ++id) want += written(id) && !lost(id);
  EXPECT_EQ(s.counts.written, want);
  EXPECT_EQ(check_output(out_, n_, "", lost), want);
  // Nothing was left to do: a resume reads every record as done.
  JobSummary again = run("bad-rows", {}, {}, yaml, {.resume = true}, /*fresh=*/false);
  ASSERT_TRUE(again.status.ok()) << again.status.to_string();
  EXPECT_EQ(again.counts.read, bad.size()) << "only the dead-lettered records are done again";
  EXPECT_EQ(again.counts.dead_lettered, bad.size());
}

TEST_F(BadRows, AValueTheOutputCannotHoldDeadLettersItsRecordNotTheBatch) {
  // `bonus` is required in the output; an empty one is null. Before, the
  // writer refused the whole batch and the run wrote nothing.
  n_ = 300;
  data_ = scratch("unwritable");
  oracle::write_inputs(data_, n_);
  std::ofstream out(data_ + "/records.csv", std::ios::trunc);
  out << "id,bonus\n";
  std::set<std::uint64_t> empty;
  for (std::uint64_t id = 1; id <= n_; ++id) {
    const bool none = id % 50 == 0 && written(id);
    if (none) empty.insert(id);
    out << id << "," << (none ? "" : "1.5") << "\n";
  }
  out.close();
  ASSERT_FALSE(empty.empty());
  const std::string yaml =
      pipeline_with("{id: int64, bonus: double}", "    bonus: {type: double, expr: bonus, nullable: false}\n");
  JobSummary s = run("unwritable", {}, {}, yaml, {}, /*fresh=*/false);
  ASSERT_TRUE(s.status.ok()) << s.status.to_string();
  EXPECT_EQ(s.counts.dead_lettered, empty.size());
  const auto dead = dead_by_id(dead_letters());
  for (std::uint64_t id : empty) {
    ASSERT_EQ(dead.count(static_cast<std::int64_t>(id)), 1u) << id;
    EXPECT_NE(dead.at(static_cast<std::int64_t>(id)).find("output column 'bonus' is null, and it is not nullable"),
              std::string::npos)
        << dead.at(static_cast<std::int64_t>(id));
  }
  auto lost = [&](std::uint64_t id) { return empty.count(id) > 0; };
  std::uint64_t want = 0;
  for (std::uint64_t id = 1; id <= n_; ++id) want += written(id) && !lost(id);
  EXPECT_EQ(check_output(out_, n_, "", lost), want);
}

TEST_F(BadRows, APartitionValueTooLongForAFileNameDeadLettersItsRecord) {
  n_ = 200;
  data_ = scratch("long-partition");
  oracle::write_inputs(data_, n_);
  std::uint64_t long_one = 0;
  for (std::uint64_t id = 1; id <= n_ && long_one == 0; ++id) long_one = written(id) ? id : 0;
  write_records({{long_one, std::to_string(long_one) + "," + std::string(300, 'x')}});
  std::string yaml = pipeline_with("{id: int64, tag: string}", "    tag: {type: string, expr: tag}\n");
  yaml += "  partition_by: [tag]\n";
  JobSummary s = run("long-partition", {}, {}, yaml, {}, /*fresh=*/false);
  ASSERT_TRUE(s.status.ok()) << s.status.to_string();
  EXPECT_EQ(s.counts.dead_lettered, 1u);
  const auto dead = dead_by_id(dead_letters());
  ASSERT_EQ(dead.count(static_cast<std::int64_t>(long_one)), 1u);
  EXPECT_NE(dead.at(static_cast<std::int64_t>(long_one))
                .find("partition_by 'tag': the value makes a directory name of 304 bytes, more than a file system "
                      "holds (255)"),
            std::string::npos)
      << dead.at(static_cast<std::int64_t>(long_one));
  std::uint64_t dirs = 0;
  for (const auto& e : fs::directory_iterator(out_)) {
    if (!e.is_directory()) continue;
    ++dirs;
    EXPECT_FALSE(fs::is_empty(e.path())) << e.path() << ": no empty partition is left behind";
    EXPECT_LE(e.path().filename().string().size(), 255u);
  }
  EXPECT_EQ(dirs, s.counts.written) << "one partition a record written (each tag is its id's)";
}

// The input read from a pipe holds a quote that is never closed: that
// cannot be read past (a pipe is not read twice), so the run stops there,
// but commits the records it read first; a resume over the mended input
// does the rest, each record once.
TEST_F(BadRows, AnInputThatCannotBeReadOnStopsTheRunWhichCommitsFirstAndAResumeCarriesOn) {
  n_ = 600;
  data_ = scratch("pipe-stop");
  oracle::write_inputs(data_, n_);
  const std::string records = data_ + "/records.csv";
  fs::remove(records);
  ASSERT_EQ(::mkfifo(records.c_str(), 0600), 0);
  // Feeds the pipe (the whole input, with record 301's quote never closed
  // when `broken`) while `run` reads it; should the run not open the pipe,
  // the feeder is let go after it.
  auto fed = [&](bool broken, auto run) {
    std::thread feeder([&] {
      std::ofstream out(records);
      out << "id\n";
      for (std::uint64_t id = 1; id <= n_; ++id) out << (broken && id == 301 ? "\"301" : std::to_string(id)) << "\n";
    });
    JobSummary s = run();
    const int unblock = ::open(records.c_str(), O_RDONLY | O_NONBLOCK);
    feeder.join();
    ::close(unblock);
    return s;
  };
  JobSummary s = fed(true, [&] { return run("pipe-stop", {}, {}, "", {}, /*fresh=*/false); });
  ASSERT_FALSE(s.status.ok());
  EXPECT_EQ(s.status.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.status.message().find("records.csv:302: a quoted field is not closed before the end of the file, and "
                                    "the input cannot be read again from the next line"),
            std::string::npos)
      << s.status.message();
  EXPECT_EQ(s.counts.read, 300u);
  EXPECT_TRUE(s.accounted);
  EXPECT_EQ(s.http.outages, 0u) << "the input stopped the run, not the API";
  std::uint64_t before = 0;
  for (std::uint64_t id = 1; id <= 300; ++id) before += written(id);
  EXPECT_EQ(s.counts.written, before) << "the records read before the problem were finished and committed";
  EXPECT_EQ(check_output(out_, 300), before);

  // The input mended, through the pipe again: the resume does the rest.
  JobSummary rest = fed(false, [&] { return run("pipe-stop", {}, {}, "", {.resume = true}, /*fresh=*/false); });
  ASSERT_TRUE(rest.status.ok()) << rest.status.to_string();
  EXPECT_EQ(rest.counts.read, n_ - 300);
  EXPECT_EQ(check_output(out_, n_), expected_counts(n_).written);
}

}  // namespace
}  // namespace sluice::pipeline
