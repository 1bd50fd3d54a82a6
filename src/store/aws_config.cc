#include "aws_config.h"

#include <cstdlib>
#include <fstream>
#include <map>

namespace sluice::s3 {

EnvLookup process_env() {
  return [](std::string_view name) -> std::optional<std::string> {
    const char* v = std::getenv(std::string(name).c_str());
    if (v == nullptr || *v == '\0') return std::nullopt;
    return std::string(v);
  };
}

namespace {

std::string trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
  return std::string(s);
}

// Reads an INI file as the AWS tools write them: sections by name (empty
// if the file cannot be read).
std::map<std::string, ProfileFiles::Section> read_ini(const std::string& path) {
  std::map<std::string, ProfileFiles::Section> ini;
  std::ifstream in(path);
  std::string section, line;
  while (std::getline(in, line)) {
    std::string t = trim(line);
    if (t.empty() || t[0] == '#' || t[0] == ';') continue;
    if (t.front() == '[' && t.back() == ']') {
      section = trim(std::string_view(t).substr(1, t.size() - 2));
      ini[section];
      continue;
    }
    auto eq = t.find('=');
    if (eq == std::string::npos) continue;
    ini[section][trim(std::string_view(t).substr(0, eq))] = trim(std::string_view(t).substr(eq + 1));
  }
  return ini;
}

std::string home_file(const EnvLookup& env, const char* var, const char* relative) {
  if (auto v = env(var)) return *v;
  return env("HOME").value_or("") + relative;
}

}  // namespace

ProfileFiles::ProfileFiles(const EnvLookup& env)
    : credentials_path_(home_file(env, "AWS_SHARED_CREDENTIALS_FILE", "/.aws/credentials")),
      config_path_(home_file(env, "AWS_CONFIG_FILE", "/.aws/config")),
      credentials_(read_ini(credentials_path_)) {
  for (auto& [section, keys] : read_ini(config_path_)) {
    if (section == "default") {
      config_["default"] = std::move(keys);
    } else if (section.starts_with("profile ")) {
      config_[trim(std::string_view(section).substr(8))] = std::move(keys);
    }
  }
}

std::optional<ProfileFiles::Section> ProfileFiles::profile(const std::string& name) const {
  auto c = credentials_.find(name);
  auto f = config_.find(name);
  if (c == credentials_.end() && f == config_.end()) return std::nullopt;
  Section out = f != config_.end() ? f->second : Section();
  if (c != credentials_.end()) {
    for (const auto& [k, v] : c->second) out[k] = v;
  }
  return out;
}

std::string ProfileFiles::where(const std::string& name) const {
  return (credentials_.contains(name) ? credentials_path_ : config_path_) + " [" + name + "]";
}

std::string profile_name(const EnvLookup& env) { return env("AWS_PROFILE").value_or("default"); }

Result<std::string> resolve_region(const EnvLookup& env) {
  // A region is lower-case letters, digits and '-' (it goes into host names).
  auto bad_region = [](const std::string& r) {
    return r.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789-") != std::string::npos;
  };
  for (const char* var : {"AWS_REGION", "AWS_DEFAULT_REGION"}) {
    if (auto r = env(var); r && bad_region(*r)) {
      return Status::InvalidArgument(std::string(var) + "='" + *r + "': expected a region name such as us-east-1");
    }
  }
  if (auto r = env("AWS_REGION")) return *r;
  if (auto d = env("AWS_DEFAULT_REGION")) return *d;
  const ProfileFiles files(env);
  const std::string name = profile_name(env);
  if (auto p = files.profile(name); p && p->contains("region")) {
    if (bad_region(p->at("region"))) {
      return Status::InvalidArgument(files.where(name) + ": region '" + p->at("region") +
                                     "': expected a region name such as us-east-1");
    }
    return p->at("region");
  }
  return std::string();
}

Result<S3Location> parse_s3_url(std::string_view url) {
  constexpr std::string_view kScheme = "s3://";
  if (!url.starts_with(kScheme))
    return Status::InvalidArgument("'" + std::string(url) + "': an S3 URL starts with s3://");
  std::string_view rest = url.substr(kScheme.size());
  std::string_view bucket = rest.substr(0, rest.find('/'));
  std::string_view prefix = bucket.size() < rest.size() ? rest.substr(bucket.size() + 1) : std::string_view();
  auto bad = [&](const std::string& why) {
    return Status::InvalidArgument("'" + std::string(url) + "': bucket '" + std::string(bucket) + "' " + why);
  };
  if (bucket.size() < 3 || bucket.size() > 63) return bad("must be 3 to 63 characters long");
  for (char c : bucket) {
    if (!(std::islower(static_cast<unsigned char>(c)) || std::isdigit(static_cast<unsigned char>(c)) || c == '.' ||
          c == '-')) {
      return bad("may hold only lower-case letters, digits, '.' and '-'");
    }
  }
  if (!std::isalnum(static_cast<unsigned char>(bucket.front())) ||
      !std::isalnum(static_cast<unsigned char>(bucket.back()))) {
    return bad("must begin and end with a letter or digit");
  }
  if (bucket.find("..") != std::string_view::npos) return bad("may not hold two dots in a row");
  return S3Location{std::string(bucket), std::string(prefix)};
}

namespace {

std::string unescape_xml(std::string_view s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '&') {
      out.push_back(s[i]);
      continue;
    }
    static constexpr std::pair<std::string_view, char> kEntities[] = {
        {"&amp;", '&'}, {"&lt;", '<'}, {"&gt;", '>'}, {"&quot;", '"'}, {"&apos;", '\''}};
    bool matched = false;
    for (auto [e, c] : kEntities) {
      if (s.substr(i, e.size()) == e) {
        out.push_back(c);
        i += e.size() - 1;
        matched = true;
        break;
      }
    }
    if (!matched) out.push_back('&');
  }
  return out;
}

}  // namespace

std::optional<std::string> xml_element(std::string_view xml, std::string_view name) {
  const std::string open = "<" + std::string(name) + ">", close = "</" + std::string(name) + ">";
  auto a = xml.find(open);
  if (a == std::string_view::npos) return std::nullopt;
  a += open.size();
  auto b = xml.find(close, a);
  if (b == std::string_view::npos) return std::nullopt;
  return unescape_xml(xml.substr(a, b - a));
}

std::optional<S3Error> parse_s3_error(std::string_view xml) {
  auto start = xml.find("<Error>");
  if (start == std::string_view::npos) return std::nullopt;
  xml = xml.substr(start);
  auto code = xml_element(xml, "Code");
  if (!code) return std::nullopt;
  return S3Error{*code, xml_element(xml, "Message").value_or(""), xml_element(xml, "RequestId").value_or("")};
}

// Every <Contents> of a ListObjectsV2 answer.
std::vector<ObjectInfo> parse_list_contents(std::string_view xml) {
  std::vector<ObjectInfo> out;
  std::size_t at = 0;
  while ((at = xml.find("<Contents>", at)) != std::string_view::npos) {
    auto end = xml.find("</Contents>", at);
    if (end == std::string_view::npos) break;
    std::string_view block = xml.substr(at, end - at);
    out.push_back({xml_element(block, "Key").value_or(""),
                   std::strtoull(xml_element(block, "Size").value_or("0").c_str(), nullptr, 10)});
    at = end;
  }
  return out;
}

}  // namespace sluice::s3
