#include "pipeline/output/manifest.h"

#include <simdjson.h>

#include <iterator>

#include "pipeline/data/value.h"

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

namespace {

std::string ranges_json(const PositionSet& set) {
  std::string out = "[";
  for (const auto& [a, b] : set.ranges()) {
    out += (out.size() > 1 ? ",[" : "[") + std::to_string(a) + "," + std::to_string(b) + "]";
  }
  return out + "]";
}

Status read_ranges(simdjson::dom::element e, PositionSet& into) {
  simdjson::dom::array ranges;
  if (e.get_array().get(ranges)) return Status::DataLoss("expected a list of ranges");
  for (simdjson::dom::element r : ranges) {
    simdjson::dom::array pair;
    std::uint64_t a = 0, b = 0;
    if (r.get_array().get(pair) || pair.size() != 2 || pair.at(0).get_uint64().get(a) ||
        pair.at(1).get_uint64().get(b) || a >= b) {
      return Status::DataLoss("a range that is not [first, end) with first < end");
    }
    into.add(a, b);
  }
  return Status();
}

}  // namespace

std::string Manifest::to_json() const {
  std::string out = "{\"version\":1,\"runs\":" + std::to_string(runs) + ",\"inputs\":[";
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    out += (i ? "," : "") + std::string("{\"path\":") + json_quote(inputs[i].first) +
           ",\"bytes\":" + std::to_string(inputs[i].second) + "}";
  }
  out += "],\"files\":[";
  for (std::size_t i = 0; i < files.size(); ++i) out += (i ? "," : "") + json_quote(files[i]);
  out += "],\"dead_letters\":[";
  for (std::size_t i = 0; i < dead_letters.size(); ++i) out += (i ? "," : "") + json_quote(dead_letters[i]);
  out += "],\"done\":" + std::to_string(done.size()) + ",\"done_ranges\":" + ranges_json(done);
  if (committing) {
    out += ",\"committing\":{\"file\":" + json_quote(committing->first) +
           ",\"ranges\":" + ranges_json(committing->second) + "}";
  }
  if (shard) {
    out += ",\"shard\":{\"index\":" + std::to_string(shard->index) + ",\"count\":" + std::to_string(shard->count) +
           ",\"attempt\":" + json_quote(shard->attempt) +
           ",\"scheduler_attempt\":" + json_quote(shard->scheduler_attempt) +
           ",\"input_records\":" + std::to_string(shard->input_records) +
           ",\"dead_lettered\":" + std::to_string(shard->dead_lettered) + "}";
  }
  return out + "}\n";
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
  dom::array inputs, files;
  if (root["inputs"].get_array().get(inputs)) return bad("expected \"inputs\", a list");
  for (dom::element i : inputs) {
    std::string_view path;
    std::uint64_t bytes = 0;
    if (i["path"].get_string().get(path) || i["bytes"].get_uint64().get(bytes))
      return bad("an input without path and bytes");
    m.inputs.emplace_back(std::string(path), bytes);
  }
  if (root["files"].get_array().get(files)) return bad("expected \"files\", a list");
  for (dom::element f : files) {
    std::string_view name;
    if (f.get_string().get(name)) return bad("a file that is not a name");
    m.files.emplace_back(name);
  }
  dom::array dead;  // absent from the manifests of sluice before 0.2
  if (!root["dead_letters"].get_array().get(dead)) {
    for (dom::element f : dead) {
      std::string_view name;
      if (f.get_string().get(name)) return bad("a dead-letter file that is not a name");
      m.dead_letters.emplace_back(name);
    }
  }
  dom::element ranges;
  if (root["done_ranges"].get(ranges)) return bad("expected \"done_ranges\", a list");
  if (Status s = read_ranges(ranges, m.done); !s.ok()) return bad("done_ranges: " + s.message());
  dom::element committing;
  if (!root["committing"].get(committing)) {
    std::string_view file;
    dom::element file_ranges;
    PositionSet set;
    if (committing["file"].get_string().get(file) || committing["ranges"].get(file_ranges)) {
      return bad("\"committing\" without file and ranges");
    }
    if (Status s = read_ranges(file_ranges, set); !s.ok()) return bad("committing: " + s.message());
    m.committing.emplace(std::string(file), std::move(set));
  }
  dom::element shard;
  if (!root["shard"].get(shard)) {
    ShardAttempt a;
    std::uint64_t index = 0, count = 0;
    std::string_view attempt, scheduler_attempt;
    if (shard["index"].get_uint64().get(index) || shard["count"].get_uint64().get(count) || count == 0 ||
        index >= count || count > UINT32_MAX || shard["attempt"].get_string().get(attempt) ||
        shard["scheduler_attempt"].get_string().get(scheduler_attempt) ||
        shard["input_records"].get_uint64().get(a.input_records) ||
        shard["dead_lettered"].get_uint64().get(a.dead_lettered)) {
      return bad("\"shard\" without index < count, attempt, input_records and dead_lettered");
    }
    a.index = static_cast<std::uint32_t>(index);
    a.count = static_cast<std::uint32_t>(count);
    a.attempt = attempt;
    a.scheduler_attempt = scheduler_attempt;
    m.shard = std::move(a);
  }
  std::uint64_t count = 0;
  if (root["done"].get_uint64().get(count) || count != m.done.size()) {
    return bad("\"done\" does not match its ranges (the file is damaged)");
  }
  return m;
}

}  // namespace sluice::pipeline
