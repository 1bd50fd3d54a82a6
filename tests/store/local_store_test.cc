#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <thread>
#include <vector>

#include "sluice/store.h"

namespace sluice {
namespace {

std::string scratch(const std::string& name) {
  std::string d = ::testing::TempDir() + "/sluice-store-" + name + "-" + std::to_string(::getpid());
  std::filesystem::remove_all(d);
  return d;
}

TEST(LocalStore, PutGetHeadListRemove) {
  auto store = *open_store(scratch("basic"));
  ASSERT_TRUE(store->put("features/a.parquet", "aaaa").ok());
  ASSERT_TRUE(store->put("features/2026/b.parquet", "bb").ok());
  ASSERT_TRUE(store->put("other/c", "c").ok());
  EXPECT_EQ(*store->get("features/a.parquet"), "aaaa");
  auto h = store->head("features/2026/b.parquet");
  ASSERT_TRUE(h.ok() && h->has_value());
  EXPECT_EQ((*h)->size, 2u);
  EXPECT_FALSE(store->head("features/none")->has_value());
  auto l = store->list("features/");
  ASSERT_TRUE(l.ok());
  ASSERT_EQ(l->size(), 2u);
  EXPECT_EQ((*l)[0].key, "features/2026/b.parquet");
  EXPECT_EQ((*l)[1].key, "features/a.parquet");
  ASSERT_TRUE(store->remove("features/a.parquet").ok());
  EXPECT_TRUE(store->remove("features/a.parquet").ok()) << "removing twice is fine";
  EXPECT_EQ(store->get("features/a.parquet").status().code(), StatusCode::kNotFound);
}

TEST(LocalStore, AnUnfinishedWriteIsInvisibleAndAbortLeavesNothing) {
  std::string root = scratch("visibility");
  auto store = *open_store("file://" + root);
  auto w = *store->open_write("out/part-0.parquet");
  ASSERT_TRUE(w->write("half").ok());
  EXPECT_TRUE(store->list("")->empty()) << "a file being written is not an object yet";
  EXPECT_FALSE(store->head("out/part-0.parquet")->has_value());
  w->abort();
  std::size_t files = 0;
  for (auto& e : std::filesystem::recursive_directory_iterator(root)) files += e.is_regular_file();
  EXPECT_EQ(files, 0u) << "abort leaves no temporary behind";
  auto w2 = *store->open_write("out/part-0.parquet");
  ASSERT_TRUE(w2->write("whole").ok());
  ASSERT_TRUE(w2->close().ok());
  EXPECT_EQ(*store->get("out/part-0.parquet"), "whole");
}

TEST(LocalStore, RemoveAbandonedTakesOnlyTheTemporariesOfTheNamesGiven) {
  std::string root = scratch("abandoned");
  auto store = *open_store(root);
  // Writers that never finished (as after kill -9): their temporaries stay.
  auto ours = *store->open_write("region=r1/run-00000.parquet");
  auto ours_top = *store->open_write("_run-dead-letter.jsonl");
  auto theirs = *store->open_write("other-00000.parquet");
  ASSERT_TRUE(ours->write("x").ok() && ours_top->write("y").ok() && theirs->write("z").ok());
  ASSERT_TRUE(store->put("run-00001.parquet", "done").ok());
  auto removed = store->remove_abandoned("run-");
  ASSERT_TRUE(removed.ok()) << removed.status().to_string();
  ASSERT_EQ(removed->size(), 1u);
  auto own = store->remove_abandoned("_run-");  // a run's own files (manifest, dead letters)
  ASSERT_TRUE(own.ok()) << own.status().to_string();
  ASSERT_EQ(own->size(), 1u);
  removed->push_back(own->front());
  for (const auto& k : *removed) {
    EXPECT_NE(k.find(".tmp-"), std::string::npos) << k;
    EXPECT_EQ(k[k.rfind('/') + 1], '.') << "a temporary is hidden from readers of the directory: " << k;
  }
  std::vector<std::string> left;
  for (auto& e : std::filesystem::recursive_directory_iterator(root)) {
    if (e.is_regular_file()) left.push_back(e.path().filename().string());
  }
  std::sort(left.begin(), left.end());
  ASSERT_EQ(left.size(), 2u);
  EXPECT_TRUE(left[0].starts_with(".other-00000.parquet.tmp-")) << "another name's temporary is not touched";
  EXPECT_EQ(left[1], "run-00001.parquet") << "finished objects are not touched";
  theirs->abort();
}

// What a shard's commit rests on: of writers racing to create one key,
// exactly one succeeds, and the object is that writer's, whole.
TEST(LocalStore, CreateExclusiveLetsExactlyOneOfRacingWritersIn) {
  std::string root = scratch("exclusive");
  auto store = *open_store(root);
  constexpr int kWriters = 8;
  for (int round = 0; round < 20; ++round) {
    const std::string key = "commits/_shard-" + std::to_string(round) + ".json";
    std::vector<Status> got(kWriters);
    std::vector<std::thread> writers;
    for (int w = 0; w < kWriters; ++w) {
      writers.emplace_back([&, w] { got[w] = store->create_exclusive(key, "writer " + std::to_string(w)); });
    }
    for (auto& t : writers) t.join();
    int winner = -1;
    for (int w = 0; w < kWriters; ++w) {
      if (got[w].ok()) {
        EXPECT_EQ(winner, -1) << "two writers created " << key;
        winner = w;
      } else {
        EXPECT_EQ(got[w].code(), StatusCode::kAlreadyExists) << got[w].to_string();
      }
    }
    ASSERT_NE(winner, -1);
    EXPECT_EQ(*store->get(key), "writer " + std::to_string(winner));
  }
  EXPECT_EQ(store->create_exclusive("commits/_shard-0.json", "late").code(), StatusCode::kAlreadyExists);
  std::size_t files = 0;
  for (auto& e : std::filesystem::recursive_directory_iterator(root)) files += e.is_regular_file();
  EXPECT_EQ(files, 20u) << "no temporary is left behind";
}

TEST(LocalStore, BadKeysAndUrlsAreRefused) {
  auto store = *open_store(scratch("keys"));
  for (std::string key : {"", "/abs", "a//b", "a/../b", "./a", "a/"}) {
    EXPECT_EQ(store->put(key, "x").code(), StatusCode::kInvalidArgument) << key;
  }
  EXPECT_EQ(open_store("s3://Not_A_Bucket/prefix").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(open_store("ftp://x").status().code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace sluice
