#include "pipeline/file/config.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "pipeline/file/yaml_reader.h"

namespace sluice::pipeline {

namespace {

bool valid_name(const std::string& s) {
  if (s.empty() || !(std::isalpha(static_cast<unsigned char>(s[0])) || s[0] == '_')) return false;
  return std::all_of(s.begin(), s.end(),
                     [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; });
}

std::vector<ColumnDecl> read_columns(YamlReader& r, const YAML::Node& n, const std::string& what) {
  std::vector<ColumnDecl> out;
  if (!n.IsMap() || n.size() == 0) {
    r.error(n, what + ": expected a mapping of column names to types, e.g. {id: int64}");
    return out;
  }
  for (const auto& kv : n) {
    std::string name = kv.first.as<std::string>();
    if (!valid_name(name)) r.error(kv.first, what + ": '" + name + "' is not a valid name (letters, digits, _)");
    if (auto t = r.type(kv.second, what + "." + name)) out.push_back({name, *t, r.at(kv.first)});
  }
  return out;
}

std::vector<std::string> read_names(YamlReader& r, const YAML::Node& n, const std::string& what) {
  std::vector<std::string> out;
  if (n.IsScalar()) {
    out.push_back(n.Scalar());
  } else if (n.IsSequence()) {
    for (const auto& e : n) {
      if (auto s = r.string(e, what)) out.push_back(*s);
    }
  } else {
    r.error(n, what + ": expected a name or a list of names");
  }
  return out;
}

Format format_of(YamlReader& r, const YAML::Node& t, const std::string& path, const std::string& what) {
  if (t["format"]) {
    auto f = r.string(t["format"], what + ".format");
    if (f == "csv") return Format::kCsv;
    if (f == "jsonl") return Format::kJsonl;
    if (f == "parquet" && what != "input") return Format::kParquet;
    if (f)
      r.error(t["format"], what + ".format: expected csv or jsonl" + std::string(what == "input" ? "" : " or parquet"));
    return Format::kCsv;
  }
  if (path.ends_with(".parquet") && what != "input") return Format::kParquet;
  return path.ends_with(".jsonl") || path.ends_with(".ndjson") ? Format::kJsonl : Format::kCsv;
}

TableConfig read_table(YamlReader& r, const YAML::Node& t, const std::string& what) {
  TableConfig c;
  c.where = r.at(t);
  const bool input = what == "input";
  if (!(input ? r.map(t, what, {"path", "format", "columns", "key", "duplicates", "max_record_bytes"})
              : r.map(t, what, {"path", "format", "columns", "key", "max_record_bytes"}))) {
    return c;
  }
  if (t["max_record_bytes"]) {
    c.max_record_bytes = r.bytes(t["max_record_bytes"], what + ".max_record_bytes", 16).value_or(c.max_record_bytes);
  }
  if (input && t["duplicates"]) {
    auto d = r.string(t["duplicates"], "input.duplicates");
    if (d == "dead_letter")
      c.duplicates = Duplicates::kDeadLetter;
    else if (d == "keep")
      c.duplicates = Duplicates::kKeep;
    else if (d)
      r.error(t["duplicates"], "input.duplicates: expected dead_letter or keep");
  }
  if (!t["path"])
    r.error(t, what + ": 'path' is required");
  else if (auto p = r.substitute(t["path"], what + ".path"))
    c.path = *p;
  c.format = format_of(r, t, c.path, what);
  if (!t["columns"])
    r.error(t, what + ": 'columns' is required (the columns to read, with their types)");
  else
    c.columns = read_columns(r, t["columns"], what + ".columns");
  if (t["key"])
    c.key = read_names(r, t["key"], what + ".key");
  else if (!c.columns.empty())
    c.key = {c.columns[0].name};
  for (const auto& k : c.key) {
    if (std::none_of(c.columns.begin(), c.columns.end(), [&](const ColumnDecl& d) { return d.name == k; })) {
      r.error(t["key"] ? t["key"] : t, what + ".key: '" + k + "' is not one of the columns");
    }
  }
  return c;
}

void read_retry(YamlReader& r, const YAML::Node& rt, http::RetryPolicy& p) {
  if (!r.map(rt, "http.retry",
             {"max_attempts", "base_backoff_ms", "max_backoff_ms", "max_retry_after_ms", "on_status", "budget",
              "min_per_second"})) {
    return;
  }
  if (rt["max_attempts"])
    p.max_attempts = r.integer<int>(rt["max_attempts"], "http.retry.max_attempts", 1, 100).value_or(p.max_attempts);
  if (rt["base_backoff_ms"])
    p.base_backoff = r.millis(rt["base_backoff_ms"], "http.retry.base_backoff_ms").value_or(p.base_backoff);
  if (rt["max_backoff_ms"])
    p.max_backoff = r.millis(rt["max_backoff_ms"], "http.retry.max_backoff_ms").value_or(p.max_backoff);
  if (rt["max_retry_after_ms"]) {
    p.max_retry_after = r.millis(rt["max_retry_after_ms"], "http.retry.max_retry_after_ms").value_or(p.max_retry_after);
  }
  if (rt["budget"]) p.budget = r.number(rt["budget"], "http.retry.budget", 0, 100).value_or(p.budget);
  if (rt["min_per_second"]) {
    p.min_per_second =
        r.number(rt["min_per_second"], "http.retry.min_per_second", 0.001, 1e6).value_or(p.min_per_second);
  }
  if (const auto& st = rt["on_status"]) {
    p.retry_statuses.clear();
    if (!st.IsSequence()) r.error(st, "http.retry.on_status: expected a list of HTTP statuses");
    for (const auto& s : st) {
      if (auto v = r.integer<int>(s, "http.retry.on_status", 100, 599)) p.retry_statuses.push_back(*v);
    }
  }
}

// `outage: false`, or {failures, probe_after_ms, max_probe_interval_ms, give_up_after_ms}.
void read_outage(YamlReader& r, const YAML::Node& o, http::Outage& out) {
  if (o.IsScalar()) {
    if (auto b = r.boolean(o, "http.outage")) out.enabled = *b;
    return;
  }
  if (!r.map(o, "http.outage", {"failures", "probe_after_ms", "max_probe_interval_ms", "give_up_after_ms"})) return;
  if (o["failures"])
    out.failures = r.integer<int>(o["failures"], "http.outage.failures", 1, 1000000).value_or(out.failures);
  if (o["probe_after_ms"])
    out.probe_after = r.millis(o["probe_after_ms"], "http.outage.probe_after_ms").value_or(out.probe_after);
  if (o["max_probe_interval_ms"]) {
    out.max_probe_interval =
        r.millis(o["max_probe_interval_ms"], "http.outage.max_probe_interval_ms").value_or(out.max_probe_interval);
  }
  if (o["give_up_after_ms"]) {
    out.give_up_after = r.millis(o["give_up_after_ms"], "http.outage.give_up_after_ms").value_or(out.give_up_after);
  }
  if (out.max_probe_interval < out.probe_after) {
    r.error(o, "http.outage: max_probe_interval_ms (" + std::to_string(out.max_probe_interval.count()) +
                   ") is less than probe_after_ms (" + std::to_string(out.probe_after.count()) + ")");
  }
}

HttpConfig read_http(YamlReader& r, const YAML::Node& h) {
  HttpConfig c;
  c.where = r.at(h);
  if (!r.map(h, "http",
             {"base_url", "headers", "max_in_flight", "adaptive", "connect_timeout_ms", "read_timeout_ms",
              "attempt_timeout_ms", "request_timeout_ms", "retry", "outage", "gzip"})) {
    return c;
  }
  if (!h["base_url"])
    r.error(h, "http: 'base_url' is required");
  else if (auto u = r.substitute(h["base_url"], "http.base_url"))
    c.client.base_url = *u;
  if (const auto& hs = h["headers"]) {
    if (!hs.IsMap())
      r.error(hs, "http.headers: expected a mapping of header names to values");
    else {
      for (const auto& kv : hs) {
        std::vector<std::string> from_env;
        std::string name = kv.first.as<std::string>();
        if (auto v = r.substitute(kv.second, "http.headers." + name, &from_env)) {
          c.client.headers.emplace_back(name, *v);
          c.secrets.add_header(name, *v, from_env);
        }
      }
    }
  }
  if (h["max_in_flight"]) {
    if (auto v = r.integer<std::size_t>(h["max_in_flight"], "http.max_in_flight", 1, 100000))
      c.client.max_in_flight = *v;
  }
  if (const auto& a = h["adaptive"]) {
    if (a.IsScalar()) {
      if (auto b = r.boolean(a, "http.adaptive")) c.client.adaptive.enabled = *b;
    } else if (r.map(a, "http.adaptive", {"min"})) {
      c.client.adaptive.enabled = true;
      if (a["min"]) {
        if (auto v = r.integer<std::size_t>(a["min"], "http.adaptive.min", 1, 100000)) c.client.adaptive.min = *v;
      }
    }
  }
  if (h["connect_timeout_ms"])
    c.client.connect_timeout =
        r.millis(h["connect_timeout_ms"], "http.connect_timeout_ms").value_or(c.client.connect_timeout);
  if (h["read_timeout_ms"])
    c.client.read_timeout = r.millis(h["read_timeout_ms"], "http.read_timeout_ms").value_or(c.client.read_timeout);
  if (h["attempt_timeout_ms"])
    c.client.attempt_timeout =
        r.millis(h["attempt_timeout_ms"], "http.attempt_timeout_ms").value_or(c.client.attempt_timeout);
  if (h["request_timeout_ms"])
    c.client.request_timeout =
        r.millis(h["request_timeout_ms"], "http.request_timeout_ms").value_or(c.client.request_timeout);
  if (const auto& rt = h["retry"]) read_retry(r, rt, c.client.retry);
  if (const auto& o = h["outage"]) read_outage(r, o, c.client.outage);
  if (h["gzip"]) c.client.accept_compressed = r.boolean(h["gzip"], "http.gzip").value_or(c.client.accept_compressed);
  return c;
}

// A field's type: `int64`, or with `lists`, `list<int64>` (an array of
// scalars, which a later step may fan out over).
void read_field_type(YamlReader& r, const YAML::Node& n, const std::string& what, bool lists, FieldConfig& f) {
  auto s = r.string(n, what);
  if (!s) return;
  std::string_view t = *s;
  if (t.starts_with("list<") && t.ends_with(">")) {
    if (!lists) {
      r.error(n, what + ": a list is not allowed here (only a step's fields may be lists)");
      return;
    }
    f.list = true;
    t = t.substr(5, t.size() - 6);
  }
  if (auto type = r.type_named(n, t, what)) f.type = *type;
}

std::vector<FieldConfig> read_fields(YamlReader& r, const YAML::Node& n, const std::string& what, bool lists) {
  std::vector<FieldConfig> out;
  if (!n.IsMap()) {
    r.error(n, what + ": expected a mapping of field names to types or {path, type, optional}");
    return out;
  }
  for (const auto& kv : n) {
    FieldConfig f;
    f.name = kv.first.as<std::string>();
    f.path = f.name;
    f.where = r.at(kv.first);
    const std::string w = what + "." + f.name;
    if (!valid_name(f.name)) r.error(kv.first, w + ": not a valid name (letters, digits, _)");
    if (kv.second.IsScalar()) {
      read_field_type(r, kv.second, w, lists, f);
    } else if (r.map(kv.second, w, {"path", "type", "optional"})) {
      if (kv.second["path"]) f.path = r.string(kv.second["path"], w + ".path").value_or(f.path);
      if (!kv.second["type"])
        r.error(kv.second, w + ": 'type' is required");
      else
        read_field_type(r, kv.second["type"], w + ".type", lists, f);
      if (kv.second["optional"]) f.optional = r.boolean(kv.second["optional"], w + ".optional").value_or(false);
    }
    out.push_back(std::move(f));
  }
  return out;
}

StepConfig read_step(YamlReader& r, const YAML::Node& s, std::size_t index) {
  StepConfig c;
  c.where = r.at(s);
  std::string what = "steps[" + std::to_string(index) + "]";
  if (s.IsMap() && s["name"] && s["name"].IsScalar()) {
    c.name = s["name"].Scalar();
    if (!valid_name(c.name))
      r.error(s["name"], what + ".name: '" + c.name + "' is not a valid name (letters, digits, _)");
    what = "step '" + c.name + "'";
  } else if (s.IsMap()) {
    r.error(s, what + ": 'name' is required");
  }
  if (!r.map(s, what,
             {"name", "get", "post", "put", "body", "form", "query", "for_each", "fields", "arrays", "keep_if"})) {
    return c;
  }
  int methods = 0;
  for (const char* m : {"get", "post", "put"}) {
    if (!s[m]) continue;
    ++methods;
    c.method = m;
    std::transform(c.method.begin(), c.method.end(), c.method.begin(), ::toupper);
    c.url = r.string(s[m], what + "." + m).value_or("");
    c.url_where = r.at(s[m]);
  }
  if (methods != 1) r.error(s, what + ": exactly one of 'get', 'post' or 'put' (with the URL template) is required");
  if (s["body"]) c.body = r.string(s["body"], what + ".body").value_or("");
  auto pairs = [&](const char* key, std::vector<std::pair<std::string, std::string>>& out, Where& where) {
    const auto& m = s[key];
    if (!m) return;
    where = r.at(m);
    if (!m.IsMap()) {
      r.error(m, what + "." + key + ": expected a mapping of names to values, e.g. {q: \"{name}\", limit: 50}");
      return;
    }
    for (const auto& kv : m) {
      const std::string name = kv.first.as<std::string>();
      if (auto v = r.string(kv.second, what + "." + key + "." + name)) out.emplace_back(name, *v);
    }
  };
  pairs("query", c.query, c.query_where);
  pairs("form", c.form, c.form_where);
  if (s["form"] && s["body"]) r.error(s["form"], what + ": either 'body' or 'form', not both");
  if (const auto& f = s["for_each"]) {
    if (!f.IsMap() || f.size() != 1) {
      r.error(f, what + ".for_each: expected one variable and its values, e.g. {page: \"range(0, item.pages)\"}");
    } else {
      c.for_each_var = f.begin()->first.as<std::string>();
      c.for_each = r.string(f.begin()->second, what + ".for_each." + c.for_each_var).value_or("");
      c.for_each_where = r.at(f.begin()->second);
      if (!valid_name(c.for_each_var)) r.error(f, what + ".for_each: '" + c.for_each_var + "' is not a valid name");
    }
  }
  if (s["fields"]) c.fields = read_fields(r, s["fields"], what + ".fields", /*lists=*/true);
  if (const auto& a = s["arrays"]) {
    if (!a.IsMap())
      r.error(a, what + ".arrays: expected a mapping of array names to {path, fields}");
    else {
      for (const auto& kv : a) {
        ArrayConfig ac;
        ac.name = kv.first.as<std::string>();
        ac.path = ac.name;
        ac.where = r.at(kv.first);
        const std::string w = what + ".arrays." + ac.name;
        if (!valid_name(ac.name)) r.error(kv.first, w + ": not a valid name (letters, digits, _)");
        if (r.map(kv.second, w, {"path", "fields"})) {
          if (kv.second["path"]) ac.path = r.string(kv.second["path"], w + ".path").value_or(ac.path);
          if (!kv.second["fields"])
            r.error(kv.second, w + ": 'fields' is required");
          else
            ac.fields = read_fields(r, kv.second["fields"], w + ".fields", /*lists=*/false);
        }
        c.arrays.push_back(std::move(ac));
      }
    }
  }
  if (s["keep_if"]) {
    c.keep_if = r.string(s["keep_if"], what + ".keep_if").value_or("");
    c.keep_if_where = r.at(s["keep_if"]);
  }
  return c;
}

JoinConfig read_join(YamlReader& r, const YAML::Node& j, std::size_t index) {
  JoinConfig c;
  c.where = r.at(j);
  const std::string what = "join[" + std::to_string(index) + "]";
  if (!r.map(j, what, {"dataset", "on", "kind"})) return c;
  if (!j["dataset"])
    r.error(j, what + ": 'dataset' is required");
  else
    c.dataset = r.string(j["dataset"], what + ".dataset").value_or("");
  if (!j["on"])
    r.error(j, what + ": 'on' is required (the record's fields matched with the dataset's key)");
  else if (j["on"].IsMap()) {
    for (const auto& kv : j["on"])
      c.on.emplace_back(kv.first.as<std::string>(), r.string(kv.second, what + ".on").value_or(""));
  } else {
    for (auto& n : read_names(r, j["on"], what + ".on")) c.on.emplace_back(n, n);
  }
  if (j["kind"]) {
    auto k = r.string(j["kind"], what + ".kind");
    if (k == "left")
      c.left = true;
    else if (k && *k != "inner")
      r.error(j["kind"], what + ".kind: expected inner or left");
  }
  return c;
}

OutputConfig read_output(YamlReader& r, const YAML::Node& o) {
  OutputConfig c;
  c.where = r.at(o);
  if (!r.map(o, "output",
             {"path", "name", "mode", "format", "compression", "row_group_rows", "file_rows", "columns",
              "partition_by"})) {
    return c;
  }
  if (o["partition_by"]) {
    c.partition_by = read_names(r, o["partition_by"], "output.partition_by");
    c.partition_where = r.at(o["partition_by"]);
  }
  if (!o["path"])
    r.error(o, "output: 'path' is required (a directory, or s3://bucket/prefix/)");
  else
    c.path = r.substitute(o["path"], "output.path").value_or("");
  if (o["name"]) c.name = r.string(o["name"], "output.name").value_or(c.name);
  if (o["mode"]) {
    auto m = r.string(o["mode"], "output.mode");
    if (m == "error")
      c.mode = OutputMode::kError;
    else if (m == "overwrite")
      c.mode = OutputMode::kOverwrite;
    else if (m == "append")
      c.mode = OutputMode::kAppend;
    else if (m)
      r.error(o["mode"], "output.mode: expected error, overwrite or append");
  }
  if (o["format"] && r.string(o["format"], "output.format") != "parquet")
    r.error(o["format"], "output.format: only parquet is supported");
  if (o["compression"]) {
    auto s = r.string(o["compression"], "output.compression").value_or("");
    static const std::pair<const char*, parquet::Compression> kCodecs[] = {{"zstd", parquet::Compression::kZstd},
                                                                           {"snappy", parquet::Compression::kSnappy},
                                                                           {"gzip", parquet::Compression::kGzip},
                                                                           {"lz4", parquet::Compression::kLz4Raw},
                                                                           {"none", parquet::Compression::kNone}};
    auto it = std::find_if(std::begin(kCodecs), std::end(kCodecs), [&](const auto& p) { return s == p.first; });
    if (it == std::end(kCodecs))
      r.error(o["compression"], "output.compression: expected zstd, snappy, gzip, lz4 or none");
    else
      c.compression = it->second;
  }
  if (o["row_group_rows"])
    c.row_group_rows =
        r.integer<std::size_t>(o["row_group_rows"], "output.row_group_rows", 1, 1LL << 30).value_or(c.row_group_rows);
  if (o["file_rows"])
    c.file_rows = r.integer<std::size_t>(o["file_rows"], "output.file_rows", 1, 1LL << 40).value_or(c.file_rows);
  const auto& cols = o["columns"];
  if (!cols)
    r.error(o, "output: 'columns' is required");
  else if (!cols.IsMap())
    r.error(cols, "output.columns: expected a mapping of column names to a type or {type, expr}");
  else {
    for (const auto& kv : cols) {
      OutputColumnConfig oc;
      oc.name = kv.first.as<std::string>();
      oc.expr = oc.name;
      oc.where = r.at(kv.second);
      const std::string w = "output.columns." + oc.name;
      if (kv.second.IsScalar()) {
        if (auto t = r.type(kv.second, w)) oc.type = *t;
      } else if (r.map(kv.second, w, {"type", "expr", "nullable"})) {
        if (!kv.second["type"])
          r.error(kv.second, w + ": 'type' is required");
        else if (auto t = r.type(kv.second["type"], w + ".type"))
          oc.type = *t;
        if (kv.second["expr"]) {
          oc.expr = r.string(kv.second["expr"], w + ".expr").value_or("");
          oc.where = r.at(kv.second["expr"]);
        }
        if (kv.second["nullable"]) oc.nullable = r.boolean(kv.second["nullable"], w + ".nullable").value_or(true);
      }
      c.columns.push_back(std::move(oc));
    }
  }
  return c;
}

// `100` (records) or `1%` (of the records done).
DeadLetterLimit read_dead_letter_limit(YamlReader& r, const YAML::Node& n) {
  DeadLetterLimit limit;
  const std::string s = n.IsScalar() ? n.Scalar() : "";
  limit.text = s;
  if (!s.empty() && s.back() == '%') {
    char* end = nullptr;
    const double v = std::strtod(s.c_str(), &end);
    if (end == s.c_str() + s.size() - 1 && std::isfinite(v) && v >= 0 && v <= 100) {
      limit.fraction = v / 100;
      return limit;
    }
  } else if (auto v = r.integer<std::uint64_t>(n, "max_dead_letters", 0, 1LL << 50)) {
    limit.count = *v;
    return limit;
  } else {
    return limit;  // the integer reader said what is wrong
  }
  r.error(n,
          "max_dead_letters: expected a count of records (100) or a percentage of those done (1%), found '" + s + "'");
  return limit;
}

}  // namespace

http::ClientOptions client_options(const HttpConfig& c) {
  http::ClientOptions h = c.client;
  h.max_connections = h.max_idle = h.max_in_flight;
  h.adaptive.max = h.max_in_flight;
  h.adaptive.initial = std::min<std::size_t>(h.max_in_flight, std::max<std::size_t>(h.adaptive.min, 32));
  return h;
}

namespace {
Result<PipelineConfig> read_config(const YAML::Node& root, const std::string& file,
                                   const std::vector<std::string>& overrides);
}

Result<PipelineConfig> parse_config(const std::string& text, const std::string& file,
                                    const std::vector<std::string>& overrides) {
  // The YAML library's errors become ours here, with where they are.
  try {
    return read_config(YAML::Load(text), file, overrides);
  } catch (const YAML::Exception& e) {
    std::string where = file;
    if (!e.mark.is_null()) where += ":" + std::to_string(e.mark.line + 1) + ":" + std::to_string(e.mark.column + 1);
    return Status::InvalidArgument(where + ": YAML: " + e.msg);
  }
}

namespace {

// `mode`, and the defaults it sets.
void read_mode(YamlReader& r, const YAML::Node& root, PipelineConfig& c) {
  if (root["mode"]) {
    auto m = r.string(root["mode"], "mode");
    if (m == "latency")
      c.mode = Mode::kLatency;
    else if (m && *m != "throughput")
      r.error(root["mode"], "mode: expected throughput or latency");
  }
  const bool latency = c.mode == Mode::kLatency;
  c.records_in_flight = 0;  // after http: a quarter more than its requests in flight, unless set
  c.batch_size = latency ? 16 : 256;
  c.batch_timeout = std::chrono::milliseconds(latency ? 2 : 50);
  // Records between stages hold their parsed answers (about 40 KB each in
  // the reference workload): queues are short, memory is what they cost.
  c.queue_capacity = latency ? 16 : 128;
}

// input, datasets, http, steps, join, output.
void read_sections(YamlReader& r, const YAML::Node& root, PipelineConfig& c) {
  if (!root["input"])
    r.error(root, "'input' is required");
  else
    c.input = read_table(r, root["input"], "input");
  if (const auto& d = root["datasets"]) {
    if (!d.IsMap())
      r.error(d, "datasets: expected a mapping of dataset names to {path, columns, key}");
    else {
      for (const auto& kv : d) {
        std::string name = kv.first.as<std::string>();
        if (!valid_name(name)) r.error(kv.first, "datasets: '" + name + "' is not a valid name");
        c.datasets.emplace_back(name, read_table(r, kv.second, "datasets." + name));
      }
    }
  }
  if (!root["http"]) {
    if (root["steps"]) r.error(root, "'http' is required when there are steps (at least http.base_url)");
  } else {
    c.http = read_http(r, root["http"]);
  }
  if (const auto& s = root["steps"]) {
    if (!s.IsSequence())
      r.error(s, "steps: expected a list of steps");
    else {
      for (std::size_t i = 0; i < s.size(); ++i) c.steps.push_back(read_step(r, s[i], i));
    }
  }
  if (const auto& j = root["join"]) {
    if (!j.IsSequence())
      r.error(j, "join: expected a list of joins");
    else {
      for (std::size_t i = 0; i < j.size(); ++i) c.joins.push_back(read_join(r, j[i], i));
    }
  }
  if (!root["output"])
    r.error(root, "'output' is required");
  else
    c.output = read_output(r, root["output"]);
}

// The bounds of a run: records and bytes in flight, dead letters, queues,
// batches, serve's deadline. After read_sections (records_in_flight
// follows http.max_in_flight).
void read_bounds(YamlReader& r, const YAML::Node& root, PipelineConfig& c) {
  if (root["records_in_flight"]) {
    c.records_in_flight = r.integer<std::size_t>(root["records_in_flight"], "records_in_flight", 1, 1 << 24)
                              .value_or(c.records_in_flight);
  }
  // Every record under way has a request in flight but while it is being
  // evaluated: more records than requests only wait at the gate, holding
  // their answers (at 1,024 requests in flight, 2,048 records held 51 MiB
  // where 1,024 held 44 MiB, at the same speed).
  if (c.records_in_flight == 0) c.records_in_flight = c.http.client.max_in_flight + c.http.client.max_in_flight / 4;
  if (root["max_bytes_in_flight"]) {
    c.max_bytes_in_flight =
        r.bytes(root["max_bytes_in_flight"], "max_bytes_in_flight", 1024).value_or(c.max_bytes_in_flight);
  }
  if (const auto& m = root["max_dead_letters"]) c.max_dead_letters = read_dead_letter_limit(r, m);
  if (root["queue_capacity"]) {
    c.queue_capacity =
        r.integer<std::size_t>(root["queue_capacity"], "queue_capacity", 1, 1 << 24).value_or(c.queue_capacity);
  }
  if (const auto& b = root["batch"]) {
    if (r.map(b, "batch", {"size", "timeout_ms"})) {
      if (b["size"]) c.batch_size = r.integer<std::size_t>(b["size"], "batch.size", 1, 1 << 20).value_or(c.batch_size);
      if (b["timeout_ms"]) c.batch_timeout = r.millis(b["timeout_ms"], "batch.timeout_ms").value_or(c.batch_timeout);
    }
  }
  if (const auto& sv = root["serve"]) {
    if (r.map(sv, "serve", {"deadline_ms"}) && sv["deadline_ms"]) {
      c.serve_deadline = r.millis(sv["deadline_ms"], "serve.deadline_ms").value_or(c.serve_deadline);
    }
  }
}

Result<PipelineConfig> read_config(const YAML::Node& root, const std::string& file,
                                   const std::vector<std::string>& overrides) {
  SLUICE_RETURN_IF_ERROR(check_expanded_size(root, file));
  {
    YamlReader dup(file);
    find_duplicate_keys(dup, root, "");
    SLUICE_RETURN_IF_ERROR(dup.status());
  }
  for (const auto& o : overrides) {
    SLUICE_RETURN_IF_ERROR(apply_override(root, o));
  }
  YamlReader r(file);
  PipelineConfig c;
  c.file = file;
  if (!r.map(root, "the pipeline file",
             {"mode", "input", "datasets", "http", "steps", "join", "records_in_flight", "max_bytes_in_flight",
              "max_dead_letters", "batch", "queue_capacity", "output", "serve"})) {
    return Status::InvalidArgument(r.errors().front());
  }
  read_mode(r, root, c);
  read_sections(r, root, c);
  read_bounds(r, root, c);
  SLUICE_RETURN_IF_ERROR(r.status());
  return c;
}

}  // namespace

Result<PipelineConfig> load_config(const std::string& path, const std::vector<std::string>& overrides) {
  std::ifstream in(path);
  if (!in) return Status::NotFound("cannot read the pipeline file " + path);
  std::stringstream ss;
  ss << in.rdbuf();
  return parse_config(ss.str(), path, overrides);
}

}  // namespace sluice::pipeline
