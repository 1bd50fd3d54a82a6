#include "pipeline/run/request.h"

#include <cctype>
#include <string_view>

#include "sluice/detail/json.h"

namespace sluice::pipeline {

namespace {

void append_escaped(const Value& v, Template::Escape escape, std::string& out) {
  // A number or a boolean reads the same everywhere; a string as a JSON
  // value is quoted.
  if (v.type() != Type::kString || escape == Template::Escape::kJsonValue) {
    out += v.to_json();
  } else if (escape == Template::Escape::kText) {
    out += v.as_string();
  } else {  // inside a JSON string: the string's escaped content, its literal without the quotes
    const std::size_t at = out.size();
    detail::append_json_string(v.as_string(), out);
    out.erase(at, 1);
    out.pop_back();
  }
}

// As application/x-www-form-urlencoded wants a name or value: every byte
// but ALPHA, DIGIT and -._~ as %XX, a space as '+'.
void append_form_encoded(std::string_view text, std::string& out) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  for (const unsigned char c : text) {
    if (std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~') {
      out += static_cast<char>(c);
    } else if (c == ' ') {
      out += '+';
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
}

}  // namespace

std::string render(const std::vector<Template::Piece>& pieces, const Record& r, std::int64_t loop,
                   const std::vector<Value>* list) {
  std::string out;
  for (const auto& p : pieces) {
    if (p.hole == Template::kLoopVar) {
      append_escaped(list ? (*list)[static_cast<std::size_t>(loop)] : Value(loop), p.escape, out);
    } else if (p.hole >= 0) {
      append_escaped(r.slots[static_cast<std::size_t>(p.hole)], p.escape, out);
    } else {
      out += p.text;
    }
  }
  return out;
}

http::Request request_for(const StepPlan& s, const Record& r, std::int64_t loop) {
  const std::vector<Value>* list = s.for_each_list >= 0 ? &r.lists[static_cast<std::size_t>(s.for_each_list)] : nullptr;
  // The oldest records' answers read on first when answers wait for memory.
  http::Request req{.method = s.method, .path = render(s.request.path, r, loop, list), .priority = r.position};
  // Fields are read on the event loop as the answer comes, so that answer
  // comes decoded; one kept for its arrays only is inflated on the CPU pool.
  req.decode = !s.for_each && s.for_each_list < 0 && s.fields && !s.fields->fields().empty();
  for (const auto& [k, v] : s.request.query) req.query.emplace_back(k, render(v, r, loop, list));
  if (!s.request.body.empty()) {
    req.body = render(s.request.body, r, loop, list);
    req.headers.emplace_back("Content-Type", "application/json");
  } else if (!s.request.form.empty()) {
    for (const auto& [k, v] : s.request.form) {
      if (!req.body.empty()) req.body += '&';
      append_form_encoded(k, req.body);
      req.body += '=';
      append_form_encoded(render(v, r, loop, list), req.body);
    }
    req.headers.emplace_back("Content-Type", "application/x-www-form-urlencoded");
  }
  return req;
}

}  // namespace sluice::pipeline
