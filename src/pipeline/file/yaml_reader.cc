#include "pipeline/file/yaml_reader.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <sstream>

namespace sluice::pipeline {

Status YamlReader::status() const {
  if (errors_.empty()) return Status();
  std::string all;
  for (const auto& e : errors_) all += (all.empty() ? "" : "\n") + e;
  return Status::InvalidArgument(all);
}

bool YamlReader::map(const YAML::Node& n, const std::string& what, std::initializer_list<std::string_view> known) {
  if (!n.IsMap()) {
    error(n, what + ": expected a mapping");
    return false;
  }
  for (const auto& kv : n) {
    std::string k = kv.first.as<std::string>();
    if (std::find(known.begin(), known.end(), k) == known.end()) {
      std::string list;
      for (auto s : known) list += (list.empty() ? "" : ", ") + std::string(s);
      error(kv.first, what + ": unknown key '" + k + "' (expected one of: " + list + ")");
    }
  }
  return true;
}

std::optional<double> YamlReader::number(const YAML::Node& n, const std::string& what, double min, double max) {
  const std::string s = n.IsScalar() ? n.Scalar() : "";
  char* end = nullptr;
  errno = 0;
  const double v = s.empty() ? 0 : std::strtod(s.c_str(), &end);
  if (s.empty() || *end != '\0' || errno != 0 || !std::isfinite(v)) {
    error(n, what + ": expected a number, found '" + s + "'");
    return std::nullopt;
  }
  if (v < min || v > max) {
    error(n, what + ": " + s + " is out of range [" + std::to_string(min) + ", " + std::to_string(max) + "]");
    return std::nullopt;
  }
  return v;
}

std::optional<std::uint64_t> YamlReader::bytes(const YAML::Node& n, const std::string& what, std::uint64_t min) {
  const std::string s = n.IsScalar() ? n.Scalar() : "";
  std::size_t digits = 0;
  while (digits < s.size() && s[digits] >= '0' && s[digits] <= '9') ++digits;
  static constexpr std::pair<std::string_view, std::uint64_t> kUnits[] = {
      {"", 1},      {"B", 1},     {"KiB", 1ULL << 10}, {"MiB", 1ULL << 20}, {"GiB", 1ULL << 30},  {"TiB", 1ULL << 40},
      {"kB", 1000}, {"KB", 1000}, {"MB", 1000000},     {"GB", 1000000000},  {"TB", 1000000000000}};
  std::string_view unit = std::string_view(s).substr(digits);
  while (unit.starts_with(' ')) unit.remove_prefix(1);
  const auto* u = std::find_if(std::begin(kUnits), std::end(kUnits), [&](const auto& k) { return k.first == unit; });
  if (digits == 0 || digits > 15 || u == std::end(kUnits)) {
    error(n, what + ": expected a size such as 268435456, 256MiB or 2GiB, found '" + s + "'");
    return std::nullopt;
  }
  const std::uint64_t v = std::stoull(s.substr(0, digits)) * u->second;
  if (v < min || v > (1ULL << 50)) {
    error(n, what + ": " + s + " is out of range [" + std::to_string(min) + " bytes, 1PiB]");
    return std::nullopt;
  }
  return v;
}

std::optional<bool> YamlReader::boolean(const YAML::Node& n, const std::string& what) {
  if (n.IsScalar()) {
    const std::string& s = n.Scalar();
    if (s == "true" || s == "yes" || s == "on") return true;
    if (s == "false" || s == "no" || s == "off") return false;
  }
  error(n, what + ": expected true or false");
  return std::nullopt;
}

std::optional<Type> YamlReader::type_named(const YAML::Node& n, std::string_view s, const std::string& what) {
  if (s == "int64" || s == "int") return Type::kInt64;
  if (s == "double" || s == "float64") return Type::kDouble;
  if (s == "string") return Type::kString;
  if (s == "bool") return Type::kBool;
  error(n, what + ": unknown type '" + std::string(s) + "' (expected int64, double, string or bool)");
  return std::nullopt;
}

std::optional<std::string> YamlReader::substitute(const YAML::Node& n, const std::string& what,
                                                  std::vector<std::string>* from_env) {
  auto s = string(n, what);
  if (!s) return std::nullopt;
  std::string out;
  for (std::size_t i = 0; i < s->size();) {
    if (s->compare(i, 2, "$$") == 0) {  // a literal '$'
      out += '$';
      i += 2;
      continue;
    }
    if (s->compare(i, 2, "${") != 0) {
      out += (*s)[i++];
      continue;
    }
    const auto close = s->find('}', i);
    if (close == std::string::npos) {
      error(n, what + ": '${' without a closing '}' (write $$ for a literal '$')");
      return std::nullopt;
    }
    std::string ref = s->substr(i + 2, close - i - 2);
    // ${NAME:-default}: the default when NAME is unset or empty;
    // ${NAME:?message}: an error saying `message` then.
    std::optional<std::string> fallback, message;
    if (auto d = ref.find(":-"); d != std::string::npos) {
      fallback = ref.substr(d + 2);
      ref.resize(d);
    } else if (auto q = ref.find(":?"); q != std::string::npos) {
      message = ref.substr(q + 2);
      ref.resize(q);
    }
    const char* v = std::getenv(ref.c_str());
    if (v && *v) {
      out += v;
      if (from_env) from_env->emplace_back(v);
    } else if (fallback) {
      out += *fallback;
    } else {
      error(n, what + ": environment variable " + ref + " is not set" +
                   (message && !message->empty() ? ": " + *message : ""));
      return std::nullopt;
    }
    i = close + 1;
  }
  return out;
}

Status check_expanded_size(const YAML::Node& root, const std::string& file) {
  std::vector<YAML::Node> todo{root};
  std::size_t seen = 0;
  while (!todo.empty()) {
    const YAML::Node n = todo.back();  // a handle: copying it copies no value
    todo.pop_back();
    if (++seen > kMaxYamlValues) {
      return Status::InvalidArgument(file + ": the YAML expands to more than " + std::to_string(kMaxYamlValues) +
                                     " values (aliases nested in aliases?); a pipeline file holds far fewer");
    }
    if (n.IsSequence()) {
      for (const auto& e : n) todo.push_back(e);
    } else if (n.IsMap()) {
      for (const auto& kv : n) {
        todo.push_back(kv.first);
        todo.push_back(kv.second);
      }
    }
  }
  return Status();
}

void find_duplicate_keys(YamlReader& r, const YAML::Node& n, const std::string& where) {
  if (n.IsSequence()) {
    for (std::size_t i = 0; i < n.size(); ++i) find_duplicate_keys(r, n[i], where + "[" + std::to_string(i) + "]");
    return;
  }
  if (!n.IsMap()) return;
  std::map<std::string, YAML::Node> seen;
  for (const auto& kv : n) {
    if (!kv.first.IsScalar()) {
      r.error(kv.first, "a key in " + (where.empty() ? std::string("the file") : "'" + where + "'") +
                            " is not plain text (a key is a name, not a list or a mapping)");
      continue;
    }
    const std::string key = kv.first.Scalar();
    const std::string path = where.empty() ? key : where + "." + key;
    auto [it, fresh] = seen.emplace(key, kv.first);
    if (!fresh) {
      r.error(kv.first, "duplicate key '" + path + "' (first at line " + std::to_string(it->second.Mark().line + 1) +
                            "): a key may appear once in a mapping");
    }
    find_duplicate_keys(r, kv.second, path);
  }
}

Status apply_override(const YAML::Node& root, const std::string& set) {
  auto eq = set.find('=');
  if (eq == std::string::npos || eq == 0) return Status::InvalidArgument("--set '" + set + "': expected KEY=VALUE");
  std::string path = set.substr(0, eq), value = set.substr(eq + 1);
  std::vector<std::string> parts;
  std::stringstream ss(path);
  for (std::string p; std::getline(ss, p, '.');) parts.push_back(p);
  std::vector<YAML::Node> chain{root};
  for (std::size_t i = 0; i < parts.size(); ++i) {
    YAML::Node cur = chain.back();
    const std::string& p = parts[i];
    if (cur.IsSequence()) {
      char* end = nullptr;
      unsigned long idx = std::strtoul(p.c_str(), &end, 10);
      if (*end != '\0' || idx >= cur.size()) {
        return Status::InvalidArgument("--set '" + set + "': '" + p + "' is not an index of the list at that point");
      }
      chain.push_back(cur[idx]);
    } else {
      if (cur.IsScalar()) return Status::InvalidArgument("--set '" + set + "': '" + p + "' is under a plain value");
      chain.push_back(cur[p]);
    }
  }
  chain.back() = value;
  return Status();
}

}  // namespace sluice::pipeline
