#include "pipeline/data/key_set.h"

#include <gtest/gtest.h>

#include <random>
#include <set>

namespace sluice::pipeline {
namespace {

// Against a std::set: ids in order, in order with gaps, runs shuffled,
// runs that touch and ids repeated, short runs that go into the table.
TEST(KeySet, IntKeysInRunsAndOutOfOrderAreOneSet) {
  std::mt19937_64 rng(7);
  std::vector<std::int64_t> keys;
  for (std::int64_t k = 1; k <= 5000; ++k) keys.push_back(k);                         // in order
  for (std::int64_t k = 10000; k <= 20000; k += 1 + (k % 7 == 0)) keys.push_back(k);  // with gaps
  for (int run = 0; run < 200; ++run) {                                               // runs of every length, anywhere
    const auto first = static_cast<std::int64_t>(rng() % 100000) - 50000;
    const auto len = static_cast<std::int64_t>(rng() % 80);
    for (std::int64_t k = first; k < first + len; ++k) keys.push_back(k);
  }
  for (int i = 0; i < 3000; ++i) keys.push_back(keys[rng() % keys.size()]);  // repeats
  keys.push_back(std::numeric_limits<std::int64_t>::max());
  keys.push_back(std::numeric_limits<std::int64_t>::min());
  keys.push_back(std::numeric_limits<std::int64_t>::max());
  keys.push_back(0);
  std::shuffle(keys.begin() + 5000, keys.end(), rng);

  KeySet set;
  std::set<std::int64_t> reference;
  for (std::int64_t k : keys) {
    ASSERT_EQ(set.insert_int(k), reference.insert(k).second) << "key " << k;
  }
  EXPECT_EQ(set.size(), reference.size());
  for (std::int64_t k : reference) EXPECT_FALSE(set.insert_int(k)) << "key " << k << " forgotten";
}

TEST(KeySet, AMillionIdsInOrderTakeAFewBytes) {
  KeySet set;
  for (std::int64_t k = 1; k <= 1'000'000; ++k) ASSERT_TRUE(set.insert_int(k));
  EXPECT_FALSE(set.insert_int(500'000));
  EXPECT_EQ(set.size(), 1'000'000u);
  EXPECT_LT(set.memory_bytes(), 1024u);

  KeySet shuffled;  // ids shuffled: the table, 11 to 22 bytes an id
  std::vector<std::int64_t> ids(100'000);
  for (std::size_t i = 0; i < ids.size(); ++i) ids[i] = static_cast<std::int64_t>(i);
  std::shuffle(ids.begin(), ids.end(), std::mt19937_64(1));
  for (std::int64_t k : ids) ASSERT_TRUE(shuffled.insert_int(k));
  for (std::int64_t k : ids) ASSERT_FALSE(shuffled.insert_int(k));
  EXPECT_LE(shuffled.memory_bytes(), 22u * ids.size());
}

}  // namespace
}  // namespace sluice::pipeline
