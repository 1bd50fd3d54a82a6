#include "manifest.h"

#include "value.h"

#include <simdjson.h>

#include <iterator>

namespace sluice::pipeline {

void PositionSet::add(std::uint64_t first, std::uint64_t end) {
  if (first >= end) return;
  // The first range that ends at or after `first` may touch [first, end).
  auto it = ranges_.lower_bound(first);
  if (it != ranges_.begin() && std::prev(it)->second >= first) --it;
  while (it != ranges_.end() && it->first <= end) {
    first = std::min(first, it->first);
    end = std::max(end, it->second);
    size_ -= it->second - it->first;
    it = ranges_.erase(it);
  }
  ranges_.emplace(first, end);
  size_ += end - first;
}

bool PositionSet::contains(std::uint64_t position) const {
  auto it = ranges_.upper_bound(position);
  return it != ranges_.begin() && std::prev(it)->second > position;
}

std::string Manifest::to_json() const {
  std::string out = "{\"version\":1,\"runs\":" + std::to_string(runs) + ",\"inputs\":[";
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    out += (i ? "," : "") + std::string("{\"path\":") + Value(inputs[i].first).to_json() +
           ",\"bytes\":" + std::to_string(inputs[i].second) + "}";
  }
  out += "],\"files\":[";
  for (std::size_t i = 0; i < files.size(); ++i) out += (i ? "," : "") + Value(files[i]).to_json();
  out += "],\"done\":" + std::to_string(done.size()) + ",\"done_ranges\":[";
  bool first = true;
  for (const auto& [a, b] : done.ranges()) {
    out += (first ? "[" : ",[") + std::to_string(a) + "," + std::to_string(b) + "]";
    first = false;
  }
  out += "]}\n";
  return out;
}

Result<Manifest> Manifest::parse(std::string_view json, const std::string& where) {
  namespace dom = simdjson::dom;
  auto bad = [&](const std::string& what) { return Status::DataLoss(where + ": not a sluice manifest: " + what); };
  dom::parser parser;
  dom::element root;
  if (auto e = parser.parse(json.data(), json.size()).get(root)) return bad(simdjson::error_message(e));
  Manifest m;
  std::uint64_t version = 0;
  if (root["version"].get_uint64().get(version) || version != 1) return bad("expected \"version\": 1");
  if (root["runs"].get_uint64().get(m.runs)) return bad("expected \"runs\", a count");
  dom::array inputs, files, ranges;
  if (root["inputs"].get_array().get(inputs)) return bad("expected \"inputs\", a list");
  for (dom::element i : inputs) {
    std::string_view path;
    std::uint64_t bytes = 0;
    if (i["path"].get_string().get(path) || i["bytes"].get_uint64().get(bytes)) return bad("an input without path and bytes");
    m.inputs.emplace_back(std::string(path), bytes);
  }
  if (root["files"].get_array().get(files)) return bad("expected \"files\", a list");
  for (dom::element f : files) {
    std::string_view name;
    if (f.get_string().get(name)) return bad("a file that is not a name");
    m.files.emplace_back(name);
  }
  if (root["done_ranges"].get_array().get(ranges)) return bad("expected \"done_ranges\", a list");
  for (dom::element r : ranges) {
    dom::array pair;
    std::uint64_t a = 0, b = 0;
    if (r.get_array().get(pair) || pair.size() != 2 || pair.at(0).get_uint64().get(a) || pair.at(1).get_uint64().get(b) ||
        a >= b) {
      return bad("a range that is not [first, end) with first < end");
    }
    m.done.add(a, b);
  }
  std::uint64_t count = 0;
  if (root["done"].get_uint64().get(count) || count != m.done.size()) {
    return bad("\"done\" does not match its ranges (the file is damaged)");
  }
  return m;
}

}  // namespace sluice::pipeline
