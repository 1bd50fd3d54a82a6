// The pipeline file's YAML, read with its places: every value is checked
// (a type, a range, a unit, ${ENV} substituted) and every problem is kept
// with its file, line and column, so that one reading reports them all.
// The section readers of config.cc are written on top of it.
#pragma once

#include <yaml-cpp/yaml.h>

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "pipeline/data/value.h"
#include "pipeline/file/where.h"
#include "sluice/status.h"

namespace sluice::pipeline {

// Reads values out of the YAML of one file. Each reader returns the value,
// or nullopt after recording an error that names the place, `what` (the
// key's path, e.g. "http.retry.max_attempts") and what was expected.
class YamlReader {
 public:
  explicit YamlReader(std::string file) : file_(std::move(file)) {}

  Where at(const YAML::Node& n) const {
    YAML::Mark m = n.Mark();
    return {file_, m.line + 1, m.column + 1};
  }
  void error(const YAML::Node& n, const std::string& what) { errors_.push_back(at(n).str() + ": " + what); }
  void error(const Where& w, const std::string& what) { errors_.push_back(w.str() + ": " + what); }
  const std::vector<std::string>& errors() const { return errors_; }
  // kInvalidArgument with every error so far, one a line; OK if none.
  Status status() const;

  // A map whose keys are all among `known`; false (and an error) otherwise.
  bool map(const YAML::Node& n, const std::string& what, std::initializer_list<std::string_view> known);

  std::optional<std::string> string(const YAML::Node& n, const std::string& what) {
    if (!n.IsScalar()) {
      error(n, what + ": expected a string");
      return std::nullopt;
    }
    return n.Scalar();
  }

  template <class Int>
  std::optional<Int> integer(const YAML::Node& n, const std::string& what, long long min, long long max) {
    if (!n.IsScalar()) {
      error(n, what + ": expected a whole number");
      return std::nullopt;
    }
    const std::string& s = n.Scalar();
    char* end = nullptr;
    errno = 0;
    long long v = std::strtoll(s.c_str(), &end, 10);
    if (s.empty() || *end != '\0' || errno != 0) {
      error(n, what + ": expected a whole number, found '" + s + "'");
      return std::nullopt;
    }
    if (v < min || v > max) {
      error(n, what + ": " + s + " is out of range [" + std::to_string(min) + ", " + std::to_string(max) + "]");
      return std::nullopt;
    }
    return static_cast<Int>(v);
  }

  std::optional<double> number(const YAML::Node& n, const std::string& what, double min, double max);

  // A size in bytes: `1048576`, `64KiB`, `256MiB`, `2GiB` (or kB, MB, GB: powers of 1000).
  std::optional<std::uint64_t> bytes(const YAML::Node& n, const std::string& what, std::uint64_t min);

  std::optional<bool> boolean(const YAML::Node& n, const std::string& what);

  std::optional<Type> type(const YAML::Node& n, const std::string& what) {
    auto s = string(n, what);
    if (!s) return std::nullopt;
    return type_named(n, *s, what);
  }

  std::optional<Type> type_named(const YAML::Node& n, std::string_view s, const std::string& what);

  std::optional<std::chrono::milliseconds> millis(const YAML::Node& n, const std::string& what) {
    auto v = integer<long long>(n, what, 1, 24LL * 3600 * 1000);
    if (!v) return std::nullopt;
    return std::chrono::milliseconds(*v);
  }

  // ${NAME} and ${NAME:-default} replaced from the environment. `secret`
  // is set when any value came from there.
  // A string with ${NAME} and ${NAME:-default} replaced from the
  // environment; the values taken from it are added to `from_env`, if given.
  std::optional<std::string> substitute(const YAML::Node& n, const std::string& what,
                                        std::vector<std::string>* from_env = nullptr);

 private:
  std::string file_;
  std::vector<std::string> errors_;
};

// The values of a document as its readers see them, aliases expanded, at
// most: a pipeline file holds a few thousand, while aliases of aliases can
// make a few hundred bytes stand for billions (the "billion laughs").
constexpr std::size_t kMaxYamlValues = 200000;

// kInvalidArgument naming `file` when `root` expands past kMaxYamlValues;
// costs at most that many steps whatever the document.
Status check_expanded_size(const YAML::Node& root, const std::string& file);

// Every key written twice in a mapping, anywhere under `n` (YAML forbids
// it; the YAML library would keep both and later lookups see the first),
// and every key that is not plain text: errors of `r`.
void find_duplicate_keys(YamlReader& r, const YAML::Node& n, const std::string& where);

// --set a.b.c=value: the YAML node at that path (maps created as needed;
// a number indexes a list) takes the value.
Status apply_override(const YAML::Node& root, const std::string& set);

}  // namespace sluice::pipeline
