// Admission, alone: how many records start at first, how the cap follows
// the mean bytes records hold (growing a record at a time, lowering by
// debt), the byte bound that holds new records but never the oldest one's
// requests, and close. On one io_context, polled: no clock, no threads.
#include "pipeline/run/admission.h"

#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>

namespace sluice::pipeline {
namespace {

constexpr std::uint64_t kKiB = 1024;

// Records asking to start, and what admit() said to each. Declared after
// the Admission it asks, so that it ends first: those still waiting are
// refused (close) before the admission goes.
struct Admits {
  boost::asio::io_context io;
  int admitted = 0, refused = 0;
  Admission* asked = nullptr;

  Admits() = default;
  Admits(const Admits&) = delete;
  Admits& operator=(const Admits&) = delete;
  ~Admits() {
    if (asked == nullptr) return;
    asked->close();
    settle();
  }

  void ask(Admission& a, int records) {
    asked = &a;
    for (int i = 0; i < records; ++i) {
      boost::asio::co_spawn(
          io,
          [&]() -> boost::asio::awaitable<void> {
            if (co_await a.admit()) {
              ++admitted;
            } else {
              ++refused;
            }
          },
          boost::asio::detached);
    }
    settle();
  }
  void settle() {
    io.restart();
    io.poll();
  }
};

TEST(Admission, AtFirstEachRecordIsTakenToHold64KiB) {
  Admission a(640 * kKiB, 1000);
  Admits r;
  r.ask(a, 11);
  EXPECT_EQ(r.admitted, 10);
  EXPECT_EQ(a.held_now(), 1u);
  a.ended(64 * kKiB);  // as guessed: the cap stays, the unit goes to the one waiting
  r.settle();
  EXPECT_EQ(r.admitted, 11);
  EXPECT_EQ(a.held_now(), 0u);
  EXPECT_EQ(a.held_total(), 1u);
}

TEST(Admission, NeverMoreThanMaxRecordsHoweverSmallTheRecords) {
  Admission a(std::uint64_t{1} << 30, 4);
  Admits r;
  r.ask(a, 6);
  EXPECT_EQ(r.admitted, 4);
  for (int i = 0; i < 4; ++i) a.ended(10);
  r.settle();
  EXPECT_EQ(r.admitted, 6);
  r.ask(a, 4);
  EXPECT_EQ(r.admitted, 8) << "two ended, four started since: at most four under way";
}

// Records of 1 KiB: each that ends gives its unit back and one more, so the
// cap doubles a round, not at once to what the mean fits (640).
TEST(Admission, SmallRecordsGrowTheCapByOneForEachThatEnds) {
  Admission a(640 * kKiB, 1000);
  Admits r;
  r.ask(a, 10);
  ASSERT_EQ(r.admitted, 10);
  for (int i = 0; i < 10; ++i) a.ended(kKiB);
  r.ask(a, 25);
  EXPECT_EQ(r.admitted, 30) << "20 more: the 10 units given back and 10 grown";
  EXPECT_EQ(a.held_now(), 5u);
}

// Records that hold the whole bound: the cap falls to one, and the units
// already out are not taken back but paid by the records that end.
TEST(Admission, BigRecordsLowerTheCapByDebtPaidAsRecordsEnd) {
  Admission a(640 * kKiB, 1000);
  Admits r;
  r.ask(a, 10);
  ASSERT_EQ(r.admitted, 10);
  r.ask(a, 3);
  for (int i = 0; i < 9; ++i) {
    a.ended(640 * kKiB);
    r.settle();
    EXPECT_EQ(r.admitted, 10) << "after " << i + 1 << " ended: still paying the debt";
  }
  a.ended(640 * kKiB);
  r.settle();
  EXPECT_EQ(r.admitted, 11) << "the last to end leaves one record under way: the cap";
  EXPECT_EQ(a.held_now(), 2u);
}

TEST(Admission, BytesOverTheBoundHoldNewRecordsAndAllButTheOldestsRequests) {
  Admission a(640 * kKiB, 1000);
  Admits r;
  r.ask(a, 2);
  ASSERT_EQ(r.admitted, 2);
  Admission::UnderWay older(a, 5), newer(a, 7);
  EXPECT_TRUE(a.may_send(7));
  a.hold(640 * kKiB);
  EXPECT_TRUE(a.may_send(5)) << "the oldest record always sends: it ends and gives its bytes back";
  EXPECT_FALSE(a.may_send(7));
  r.ask(a, 1);
  EXPECT_EQ(r.admitted, 2) << "a unit is free, the bytes are not";
  a.release(kKiB);
  r.settle();
  EXPECT_EQ(r.admitted, 3);
  EXPECT_TRUE(a.may_send(7));
}

TEST(Admission, CloseRefusesEveryRecordWaitingAndLater) {
  Admission a(128 * kKiB, 1000);
  Admits r;
  r.ask(a, 5);
  ASSERT_EQ(r.admitted, 2);
  a.close();
  r.settle();
  EXPECT_EQ(r.refused, 3);
  r.ask(a, 1);
  EXPECT_EQ(r.refused, 4);
}

}  // namespace
}  // namespace sluice::pipeline
