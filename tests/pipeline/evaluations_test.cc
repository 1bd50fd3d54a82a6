// The hand-off of records to the CPU pool in batches (evaluations.h): each
// record gets its own row back, records asked for in one turn of the event
// loop share batches, and a lone record does not wait for company.
#include "pipeline/run/evaluations.h"

#include <gtest/gtest.h>

#include <atomic>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/this_coro.hpp>

#include "plan_of.h"
#include "sluice/channel.h"

namespace sluice::pipeline {
namespace {

namespace asio = boost::asio;

std::unique_ptr<Plan> plan_without_steps() {
  return valid_plan(R"yaml(input:
  path: records.csv
  columns: {id: int64}
output:
  path: out
  columns:
    id: int64
    twice: {type: int64, expr: id * 2}
)yaml");
}

// Records with the ids [first, first + n).
std::vector<Record> records_of(const Plan& plan, std::int64_t first, std::int64_t n) {
  std::vector<Record> records(static_cast<std::size_t>(n));
  for (std::int64_t i = 0; i < n; ++i) {
    Record& r = records[static_cast<std::size_t>(i)];
    r.position = static_cast<std::uint64_t>(first + i);
    r.slots.resize(plan.slot_names.size());
    r.slots[0] = Value(first + i);
  }
  return records;
}

// Asks for the evaluation of `records` all in one turn of the event loop and
// waits until every one is back; returns how many came back written with the
// row they should have.
int evaluate_all(Runtime& rt, Evaluations& ev, std::vector<Record>& records) {
  return rt.block_on([&]() -> asio::awaitable<int> {
    Channel<int> done(records.size());
    auto ex = co_await asio::this_coro::executor;
    for (Record& r : records) {
      asio::co_spawn(
          ex,
          [&]() -> asio::awaitable<void> {
            Evaluation e = co_await ev.evaluate(r);
            int good = e.why.ok() && e.unreadable == r.answers.size() && r.outcome == Record::Outcome::kWritten &&
                       r.row.size() == 2 && r.row[1].v == Value(r.row[0].as_int() * 2).v;
            (void)done.try_send(good);
          },
          asio::detached);
    }
    int good = 0;
    for (std::size_t i = 0; i < records.size(); ++i) {
      std::optional<int> one = co_await done.receive();
      good += one.value_or(0);
    }
    co_return good;
  }());
}

TEST(Evaluations, RecordsAskedForInOneTurnShareBatchesAndEachGetsItsOwnRow) {
  std::unique_ptr<Plan> plan = plan_without_steps();
  Runtime rt({.io_threads = 1, .cpu_threads = 1});
  Evaluations ev(*plan, rt);
  std::vector<Record> records = records_of(*plan, 0, 200);
  EXPECT_EQ(evaluate_all(rt, ev, records), 200);
  EXPECT_EQ(ev.records(), 200u);
  // One worker: a batch runs at a time and takes what queued meanwhile,
  // at most 64; so 200 records go in 4 batches, not 200 hand-offs.
  EXPECT_EQ(ev.batches(), 4u);
}

TEST(Evaluations, ALoneRecordGoesAtOnceOnItsOwn) {
  std::unique_ptr<Plan> plan = plan_without_steps();
  Runtime rt({.io_threads = 1, .cpu_threads = 2});
  Evaluations ev(*plan, rt);
  for (std::int64_t id = 1; id <= 3; ++id) {
    std::vector<Record> one = records_of(*plan, id, 1);
    EXPECT_EQ(evaluate_all(rt, ev, one), 1);
    EXPECT_EQ(ev.batches(), static_cast<std::uint64_t>(id));
  }
}

TEST(Evaluations, ABatchIsSplitOverTheFreeWorkers) {
  std::unique_ptr<Plan> plan = plan_without_steps();
  Runtime rt({.io_threads = 1, .cpu_threads = 2});
  Evaluations ev(*plan, rt);
  std::vector<Record> records = records_of(*plan, 0, 10);
  EXPECT_EQ(evaluate_all(rt, ev, records), 10);
  EXPECT_EQ(ev.batches(), 2u);  // five records to each worker
}

}  // namespace
}  // namespace sluice::pipeline
