// Status and Result<T>: the one error model of sluice.
//
// Expected failures (a missing file, a malformed line, a refused connection, a
// stage that gave up) are values, never exceptions. The code says what the
// caller should do about it; the message says what went wrong and where
// (file, line, field, stage) and never carries a secret.
//
// Both types are cheap to move; an OK Status holds no allocation.
#pragma once

#include <cassert>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace sluice {

enum class StatusCode : unsigned char {
  kOk = 0,
  kCancelled,           // the work was stopped on purpose; nothing to fix
  kInvalidArgument,     // the input or a setting is wrong; fix it, do not retry
  kNotFound,            // a file, key or object does not exist
  kDeadlineExceeded,    // a deadline passed; retrying may help
  kUnavailable,         // a peer or resource is down for now; retry later
  kResourceExhausted,   // a limit was reached (size, memory, budget)
  kFailedPrecondition,  // the system is not in a state to do this; fix state first
  kDataLoss,            // data is corrupt or truncated
  kIoError,             // the operating system refused a read or write
  kInternal,            // a bug, or an exception escaped user code
};

std::string_view to_string(StatusCode code);

class [[nodiscard]] Status {
 public:
  Status() = default;  // OK
  Status(StatusCode code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status Ok() { return {}; }
  static Status Cancelled(std::string m) { return {StatusCode::kCancelled, std::move(m)}; }
  static Status InvalidArgument(std::string m) { return {StatusCode::kInvalidArgument, std::move(m)}; }
  static Status NotFound(std::string m) { return {StatusCode::kNotFound, std::move(m)}; }
  static Status DeadlineExceeded(std::string m) { return {StatusCode::kDeadlineExceeded, std::move(m)}; }
  static Status Unavailable(std::string m) { return {StatusCode::kUnavailable, std::move(m)}; }
  static Status ResourceExhausted(std::string m) { return {StatusCode::kResourceExhausted, std::move(m)}; }
  static Status FailedPrecondition(std::string m) { return {StatusCode::kFailedPrecondition, std::move(m)}; }
  static Status DataLoss(std::string m) { return {StatusCode::kDataLoss, std::move(m)}; }
  static Status IoError(std::string m) { return {StatusCode::kIoError, std::move(m)}; }
  static Status Internal(std::string m) { return {StatusCode::kInternal, std::move(m)}; }

  bool ok() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }

  // The same status with "context: " put before its message. OK stays OK.
  Status with_context(std::string_view context) const;

  // "INVALID_ARGUMENT: records.csv:3: expected 1 field, found 2", or "OK".
  std::string to_string() const;

  friend bool operator==(const Status&, const Status&) = default;

 private:
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
};

// A value of type T, or the Status that explains why there is none.
// REQUIRES: a Result is never built from an OK Status.
template <class T>
class [[nodiscard]] Result {
 public:
  Result(T value) : value_(std::move(value)) {}                                  // NOLINT: implicit on purpose
  Result(Status status) : status_(std::move(status)) { assert(!status_.ok()); }  // NOLINT

  bool ok() const { return value_.has_value(); }
  const Status& status() const { return status_; }

  // REQUIRES: ok().
  T& value() & {
    assert(ok());
    return *value_;
  }
  const T& value() const& {
    assert(ok());
    return *value_;
  }
  T&& value() && {
    assert(ok());
    return std::move(*value_);
  }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T&& operator*() && { return std::move(*this).value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

 private:
  std::optional<T> value_;
  Status status_;
};

template <class T>
struct is_result : std::false_type {};
template <class T>
struct is_result<Result<T>> : std::true_type {};
template <class T>
inline constexpr bool is_result_v = is_result<T>::value;

}  // namespace sluice
