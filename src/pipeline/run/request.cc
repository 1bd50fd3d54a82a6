#include "pipeline/run/request.h"

#include "sluice/detail/json.h"

namespace sluice::pipeline {

namespace {

void append_escaped(const Value& v, Template::Escape escape, std::string& out) {
  switch (escape) {
    case Template::Escape::kText:
      out += value_text(v);
      return;
    case Template::Escape::kJsonValue:
      out += v.to_json();
      return;
    case Template::Escape::kJsonString:
      if (v.type() != Type::kString) {
        out += value_text(v);
        return;
      }
      // The string's escaped content: its JSON literal without the quotes.
      const std::size_t at = out.size();
      detail::append_json_string(v.as_string(), out);
      out.erase(at, 1);
      out.pop_back();
      return;
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
  }
  return req;
}

}  // namespace sluice::pipeline
