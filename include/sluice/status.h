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
  kAlreadyExists,       // what was to be created is there already
  kUnimplemented,       // the peer or store cannot do this at all
};

std::string_view to_string(StatusCode code);

// The text of an errno value ("No such file or directory"); unlike
// std::strerror, safe to call from any thread.
std::string errno_text(int err);

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
  static Status AlreadyExists(std::string m) { return {StatusCode::kAlreadyExists, std::move(m)}; }
  static Status Unimplemented(std::string m) { return {StatusCode::kUnimplemented, std::move(m)}; }

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

namespace detail {
inline Status status_of(Status s) { return s; }
template <class T>
Status status_of(const Result<T>& r) {
  return r.ok() ? Status() : r.status();
}
inline Status with_context(Status s) { return s; }
inline Status with_context(const Status& s, std::string_view context) { return s.with_context(context); }
}  // namespace detail

}  // namespace sluice

// Early returns for the two shapes every caller of a fallible function
// writes. The optional last argument is context put before the message
// ("reading x.csv: ..."); it is evaluated only on failure.
//
//   SLUICE_RETURN_IF_ERROR(out->write(bytes), "writing " + name);
//   SLUICE_ASSIGN_OR_RETURN(Config config, load_config(path));
//   SLUICE_ASSIGN_OR_RETURN(auto file, open(path), "input");
//
// SLUICE_ASSIGN_OR_RETURN declares or assigns its first argument, so it is
// a statement of its own (not inside an unbraced if).
#define SLUICE_RETURN_IF_ERROR(expr, ...) SLUICE_RETURN_IF_ERROR_IMPL_(return, expr, __VA_ARGS__)
#define SLUICE_ASSIGN_OR_RETURN(lhs, expr, ...) \
  SLUICE_ASSIGN_OR_RETURN_IMPL_(return, SLUICE_CONCAT_(sluice_result_, __LINE__), lhs, expr, __VA_ARGS__)

#define SLUICE_RETURN_IF_ERROR_IMPL_(ret, expr, ...)                                               \
  do {                                                                                             \
    if (::sluice::Status sluice_status_ = ::sluice::detail::status_of(expr); !sluice_status_.ok()) \
      ret ::sluice::detail::with_context(std::move(sluice_status_) __VA_OPT__(, ) __VA_ARGS__);    \
  } while (false)
#define SLUICE_ASSIGN_OR_RETURN_IMPL_(ret, tmp, lhs, expr, ...)                               \
  auto tmp = (expr);                                                                          \
  if (!tmp.ok()) ret ::sluice::detail::with_context(tmp.status() __VA_OPT__(, ) __VA_ARGS__); \
  lhs = std::move(tmp).value()
#define SLUICE_CONCAT_(a, b) SLUICE_CONCAT_IMPL_(a, b)
#define SLUICE_CONCAT_IMPL_(a, b) a##b
