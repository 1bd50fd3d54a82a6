// Admission: how a run keeps max_bytes_in_flight, the bound on the answers
// its records hold and the answers being received, together (the HTTP
// client counts the second kind in the same ByteBudget).
//
//   * A record starts (admit) only while fewer records are under way than
//     the bound fits at the mean bytes a record has held, and while the
//     bytes are under the bound. Nothing is known of the records' size at
//     first: each is taken to hold 64 KiB, and the cap grows by at most one
//     per record that ends (doubling per round trip) until it fits the mean
//     of those that ended; lowering it leaves a debt that records ending
//     pay instead of giving their unit back.
//   * A request starts only while the bytes are under the bound, unless it
//     is the oldest record's (may_send): the oldest never waits, so it
//     always ends and gives its bytes back.
//   * A record ends (ended) giving its unit back and moving the mean.
//
// Thread safety: every member may be called from any thread.
#pragma once

#include <atomic>
#include <boost/asio/awaitable.hpp>
#include <cstdint>
#include <memory>
#include <set>

#include "sluice/byte_budget.h"
#include "sluice/detail/mutex.h"
#include "sluice/semaphore.h"

namespace sluice::pipeline {

class Admission {
 public:
  // At most `max_records` under way, and `max_bytes` of answers.
  Admission(std::uint64_t max_bytes, std::size_t max_records);

  // The bytes held and in transit (shared with the HTTP client's receive).
  const std::shared_ptr<ByteBudget>& budget() const { return budget_; }
  void hold(std::uint64_t bytes) { budget_->charge(bytes); }
  void release(std::uint64_t bytes) { budget_->release(bytes); }

  // A new record waits for its turn (see above). False: closed.
  boost::asio::awaitable<bool> admit();

  // A record admitted and not yet ended, by its position in the input, for
  // as long as this lives.
  class UnderWay {
   public:
    UnderWay(Admission& a, std::uint64_t position);
    ~UnderWay();
    UnderWay(const UnderWay&) = delete;
    UnderWay& operator=(const UnderWay&) = delete;

   private:
    Admission& admission_;
    std::uint64_t position_;
  };

  // Whether a request of the record at `position` may start now: the bytes
  // are under the bound, or it is the oldest record under way.
  bool may_send(std::uint64_t position);
  // Returns once the bytes are under the bound. False: closed.
  boost::asio::awaitable<bool> wait_under() { return budget_->wait_under(); }

  // A record admitted has ended, having held at most `peak_bytes` of answers.
  void ended(std::uint64_t peak_bytes);

  // Every waiting and later admit() and wait_under() returns false.
  void close();

  std::uint64_t held_now() const { return held_now_.load(std::memory_order_relaxed); }
  std::uint64_t held_total() const { return held_total_.load(std::memory_order_relaxed); }

 private:
  std::uint64_t oldest_under_way();

  const std::uint64_t max_bytes_;
  const std::size_t max_records_;
  std::shared_ptr<ByteBudget> budget_;
  AsyncSemaphore units_;
  Mutex mu_;
  std::size_t cap_ SLUICE_GUARDED_BY(mu_);
  std::size_t debt_ SLUICE_GUARDED_BY(mu_) = 0;
  double mean_bytes_ SLUICE_GUARDED_BY(mu_) = 0;
  std::uint64_t ended_ SLUICE_GUARDED_BY(mu_) = 0;  // records ended, counted up to 64 (see ended())
  Mutex under_way_mu_;
  std::set<std::uint64_t> under_way_ SLUICE_GUARDED_BY(under_way_mu_);
  std::atomic<std::uint64_t> held_now_{0}, held_total_{0};  // records waiting in admit(), now and ever
};

}  // namespace sluice::pipeline
