#include "pipeline/file/secrets.h"

#include <algorithm>
#include <array>
#include <cctype>

namespace sluice::pipeline {

namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// As a URL's query or path would carry it (RFC 3986 unreserved kept).
std::string percent_encoded(std::string_view s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

// As a JSON string would carry it, with the escapes serializers differ on.
std::string json_escaped(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (c == '"' || c == '\\' || c == '/') out += '\\';
    out += c;
  }
  return out;
}

}  // namespace

bool is_credential_header(std::string_view name) {
  const std::string n = lower(name);
  static constexpr std::array<std::string_view, 8> kWords = {"auth",   "key",   "token",  "secret",
                                                             "cookie", "passw", "signat", "credential"};
  return std::any_of(kWords.begin(), kWords.end(), [&](std::string_view w) { return n.find(w) != std::string::npos; });
}

void Secrets::add(std::string_view value) {
  if (value.size() < kMinLength) return;
  for (std::string form : {std::string(value), percent_encoded(value), json_escaped(value)}) {
    if (std::find(forms_.begin(), forms_.end(), form) == forms_.end()) forms_.push_back(std::move(form));
  }
  std::sort(forms_.begin(), forms_.end(),
            [](const std::string& a, const std::string& b) { return a.size() > b.size(); });
}

void Secrets::add_header(std::string_view name, std::string_view value, const std::vector<std::string>& from_env) {
  for (const auto& v : from_env) add(v);
  if (!is_credential_header(name)) return;
  add(value);
  // "Bearer abc", "Basic abc": the credential alone may be echoed too.
  if (const auto space = value.rfind(' '); space != std::string_view::npos) add(value.substr(space + 1));
}

std::string Secrets::redact(std::string text) const {
  for (const auto& form : forms_) {
    for (std::size_t at = text.find(form); at != std::string::npos; at = text.find(form, at + kRedacted.size())) {
      text.replace(at, form.size(), kRedacted);
    }
  }
  return text;
}

}  // namespace sluice::pipeline
