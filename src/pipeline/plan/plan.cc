#include "pipeline/plan/plan.h"

#include <algorithm>
#include <cctype>
#include <set>
#include <utility>

namespace sluice::pipeline {

namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

class Planner {
 public:
  explicit Planner(bool load) : load_(load) {}

  void error(const Where& w, const std::string& what) { errors_.push_back(w.str() + ": " + what); }
  void error_text(const std::string& what) { errors_.push_back(what); }
  bool failed() const { return !errors_.empty(); }
  Status status() const {
    std::string all;
    for (const auto& e : errors_) all += (all.empty() ? "" : "\n") + e;
    return Status::InvalidArgument(all);
  }

  int add_slot(const std::string& name, Type type) {
    plan_->slot_names.push_back(name);
    plan_->slot_types.push_back(type);
    return static_cast<int>(plan_->slot_names.size()) - 1;
  }

  std::optional<Expr> compile(const std::string& text, const Scope& scope, const Where& where, const std::string& what,
                              Expr::Options options) {
    Result<Expr> e = Expr::compile(text, scope, options);
    if (!e.ok()) {
      error(where, what + " '" + text + "': " + e.status().message());
      return std::nullopt;
    }
    return std::move(*e);
  }

  // "{name}" holes resolved in `scope` (plus the step's loop variable);
  // "{{" and "}}" are a literal brace.
  std::vector<Template::Piece> pieces(const std::string& text, const Scope& scope, const std::string& loop_var,
                                      const Where& where, const std::string& what, const std::set<std::string>& later,
                                      Template& t) {
    std::vector<Template::Piece> out;
    std::string literal;
    for (std::size_t i = 0; i < text.size();) {
      const char c = text[i];
      if ((c == '{' || c == '}') && i + 1 < text.size() && text[i + 1] == c) {
        literal += c;
        i += 2;
        continue;
      }
      if (c == '}') {
        error(where, what + ": a '}' without its '{' at column " + std::to_string(i + 1) + " of '" + text +
                         "' (write }} for a literal brace)");
        return out;
      }
      if (c != '{') {
        literal += c;
        ++i;
        continue;
      }
      const auto close = text.find('}', i);
      if (close == std::string::npos) {
        error(where, what + ": '{' without a closing '}' at column " + std::to_string(i + 1) + " of '" + text +
                         "' (write {{ for a literal brace)");
        return out;
      }
      if (!literal.empty()) out.push_back({std::exchange(literal, {})});
      hole(text.substr(i + 1, close - i - 1), scope, loop_var, where, what, later, t, out);
      i = close + 1;
    }
    if (!literal.empty()) out.push_back({std::move(literal)});
    return out;
  }

  // One {name}, resolved into `out`, or an error that says why not.
  void hole(const std::string& name, const Scope& scope, const std::string& loop_var, const Where& where,
            const std::string& what, const std::set<std::string>& later, Template& t,
            std::vector<Template::Piece>& out) {
    const bool a_name = !name.empty() && std::all_of(name.begin(), name.end(), [](unsigned char c) {
      return std::isalnum(c) || c == '_' || c == '.';
    });
    if (!a_name) {
      error(where, what + ": '{" + name +
                       "}' is not a hole: a hole is {name} (a field, an input column or the "
                       "for_each variable); write {{ and }} for literal braces, as in '{{\"id\": {id}}}'");
    } else if (!loop_var.empty() && name == loop_var) {
      out.push_back({"", Template::kLoopVar});
    } else if (scope.list(name)) {
      error(where, what + ": {" + name + "} is a list: fan out over its elements with for_each, e.g. {x: " + name +
                       "} and {x} in the template");
    } else if (const auto* s = scope.scalar(name)) {
      out.push_back({"", s->first});
      t.slots.push_back(s->first);
    } else if (later.contains(name)) {
      error(where, what + ": {" + name +
                       "} comes from a step that runs later or from a join (joins run after every "
                       "step); a template can only use the input's columns and earlier steps' fields");
    } else {
      std::string hint = scope.suggest(name);
      error(where, what + ": {" + name + "} is not a field that an earlier step or the input provides" +
                       (hint.empty() ? "" : " (did you mean {" + hint + "}?)"));
    }
  }

  // A JSON body's holes: inside a string literal of the template's text
  // (between quotes that no backslash escapes), the string's content;
  // elsewhere, a JSON value.
  static void mark_json_holes(std::vector<Template::Piece>& body) {
    bool in_string = false, escaped = false;
    for (Template::Piece& p : body) {
      if (p.hole != -1) {
        p.escape = in_string ? Template::Escape::kJsonString : Template::Escape::kJsonValue;
        continue;
      }
      for (const char c : p.text) {
        if (escaped) {
          escaped = false;
        } else if (in_string && c == '\\') {
          escaped = true;
        } else if (c == '"') {
          in_string = !in_string;
        }
      }
    }
  }

  Result<std::unique_ptr<Plan>> run(PipelineConfig config) {
    plan_ = std::make_unique<Plan>();
    plan_->config = std::move(config);
    const PipelineConfig& c = plan_->config;
    // Everything that will ever be named, to tell "later" from "unknown".
    for (const auto& s : c.steps) {
      for (const auto& f : s.fields) all_names_.insert(s.name + "." + f.name);
    }
    for (const auto& [name, t] : c.datasets) {
      for (const auto& col : t.columns) all_names_.insert(name + "." + col.name);
    }
    plan_input(c.input);
    for (const auto& s : c.steps) plan_step(s);
    if (load_) {
      Result<LoadedDatasets::Set> loaded = load_datasets(c);
      if (loaded.ok()) {
        plan_->datasets.replace(std::move(*loaded));
      } else {
        error_text(loaded.status().message());
      }
    }
    for (const auto& j : c.joins) plan_join(j);
    plan_output(c.output);
    if (failed()) return status();
    return std::move(plan_);
  }

 private:
  // The input's columns: the first slots, and the key.
  void plan_input(const TableConfig& input) {
    for (const auto& col : input.columns) scope_.add_scalar(col.name, add_slot(col.name, col.type), col.type);
    plan_->input_columns = input.columns.size();
    for (const auto& k : input.key) {
      if (const auto* s = scope_.scalar(k)) plan_->key_slots.push_back(s->first);
    }
  }

  // A step: its request, its fields (in scope from here on), its arrays and
  // its keep_if.
  void plan_step(const StepConfig& s) {
    StepPlan sp;
    sp.name = s.name;
    if (!step_names_.insert(s.name).second) error(s.where, "step '" + s.name + "': a step of that name comes earlier");
    for (const auto& [d, _] : plan_->config.datasets) {
      if (d == s.name) error(s.where, "step '" + s.name + "': a dataset has that name too");
    }
    if (s.method == "POST")
      sp.method = http::Method::kPost;
    else if (s.method == "PUT")
      sp.method = http::Method::kPut;
    const std::string what = "step '" + s.name + "'";
    plan_for_each(s, what, sp);
    plan_request(s, what, sp);
    if (!s.fields.empty() && (sp.for_each || sp.for_each_list >= 0)) {
      error(s.where, what +
                         ": a step with for_each answers many times: give it 'arrays' (aggregated over every "
                         "answer), not 'fields'");
    }
    plan_fields(s, sp);
    plan_arrays(s, what, sp);
    if (!s.keep_if.empty()) {
      sp.keep_if = compile(s.keep_if, scope_, s.keep_if_where, what + ": keep_if", {.allow_aggregates = false});
      if (sp.keep_if && sp.keep_if->type() != Type::kBool && sp.keep_if->type() != Type::kNull) {
        error(s.keep_if_where,
              what + ": keep_if must be a condition, found " + std::string(type_name(sp.keep_if->type())));
      }
    }
    plan_->steps.push_back(std::move(sp));
  }

  // for_each: a list field of an earlier step, or range(first, end).
  void plan_for_each(const StepConfig& s, const std::string& what, StepPlan& sp) {
    if (s.for_each.empty()) return;
    if (const auto* l = scope_.list(trim(s.for_each))) {
      sp.for_each_list = l->first;
      return;
    }
    sp.for_each = compile(s.for_each, scope_, s.for_each_where, what + ": for_each",
                          {.allow_aggregates = false, .allow_range = true});
    if (sp.for_each && !sp.for_each->is_range()) {
      error(s.for_each_where, what +
                                  ": for_each: expected range(first, end), e.g. range(0, item.pages), or a "
                                  "list field of an earlier step");
    }
  }

  // The URL's path, its query parameters one by one, and the body: each a
  // template of what is in scope (later names, from later steps or joins,
  // are told apart from unknown ones).
  void plan_request(const StepConfig& s, const std::string& what, StepPlan& sp) {
    std::string path = s.url, query;
    if (auto q = path.find('?'); q != std::string::npos) {
      query = path.substr(q + 1);
      path.resize(q);
    }
    if (!path.starts_with("/"))
      error(s.url_where, what + ": the URL template must start with '/' (it follows http.base_url)");
    sp.request.path = pieces(path, scope_, s.for_each_var, s.url_where, what + ": URL", all_names_, sp.request);
    for (std::size_t at = 0; !query.empty() && at <= query.size();) {
      auto amp = query.find('&', at);
      if (amp == std::string::npos) amp = query.size();
      const std::string kv = query.substr(at, amp - at);
      const auto eq = kv.find('=');
      const std::string k = kv.substr(0, eq), v = eq == std::string::npos ? "" : kv.substr(eq + 1);
      if (!k.empty()) {
        sp.request.query.emplace_back(
            k, pieces(v, scope_, s.for_each_var, s.url_where, what + ": URL", all_names_, sp.request));
      }
      at = amp + 1;
    }
    for (const auto& [k, v] : s.query) {
      sp.request.query.emplace_back(
          k, pieces(v, scope_, s.for_each_var, s.query_where, what + ": query." + k, all_names_, sp.request));
    }
    for (const auto& [k, v] : s.form) {
      sp.request.form.emplace_back(
          k, pieces(v, scope_, s.for_each_var, s.form_where, what + ": form." + k, all_names_, sp.request));
    }
    if (!s.body.empty()) {
      sp.request.body = pieces(s.body, scope_, s.for_each_var, s.where, what + ": body", all_names_, sp.request);
      mark_json_holes(sp.request.body);
    }
  }

  // Scalar fields take slots, list fields take lists: in scope from here on.
  void plan_fields(const StepConfig& s, StepPlan& sp) {
    std::vector<FieldSpec> specs;
    sp.first_slot = static_cast<int>(plan_->slot_names.size());
    sp.first_list = static_cast<int>(plan_->list_names.size());
    for (const auto& f : s.fields) {
      std::string full = s.name + "." + f.name;
      specs.push_back({.name = full, .path = f.path, .type = f.type, .list = f.list, .optional = f.optional});
      if (f.list) {
        scope_.add_list(full, static_cast<int>(plan_->list_names.size()), f.type);
        plan_->list_names.push_back(full);
        plan_->list_types.push_back(f.type);
      } else {
        scope_.add_scalar(full, add_slot(full, f.type), f.type);
      }
    }
    sp.fields = std::make_unique<Extractor>(std::move(specs));
  }

  // Arrays: read once every answer is in; in scope for the output only.
  void plan_arrays(const StepConfig& s, const std::string& what, StepPlan& sp) {
    for (const auto& a : s.arrays) {
      if (!array_names_.insert(a.name).second || step_names_.contains(a.name)) {
        error(a.where, what + ": array '" + a.name + "': the name is taken (array names are shared by every step)");
      }
      std::vector<FieldSpec> fs;
      Scope::Array sa{.index = static_cast<int>(plan_->array_names.size())};
      for (const auto& f : a.fields) {
        fs.push_back({.name = a.name + "." + f.name, .path = f.path, .type = f.type, .optional = f.optional});
        sa.fields.emplace_back(f.name, f.type);
      }
      auto ex = std::make_unique<ArrayExtractor>(a.path, std::move(fs));
      plan_->empty_arrays.push_back(ex->empty());
      sp.arrays.push_back({sa.index, std::move(ex)});
      plan_->array_names.push_back(a.name);
      array_scope_.add_array(a.name, std::move(sa));
    }
  }

  // A join: its dataset, the record's fields that match the dataset's key
  // (in order, of the same types), and the dataset's columns in scope.
  void plan_join(const JoinConfig& j) {
    const auto& datasets = plan_->config.datasets;
    auto it = std::find_if(datasets.begin(), datasets.end(), [&](const auto& d) { return d.first == j.dataset; });
    if (it == datasets.end()) {
      error(j.where, "join: no dataset named '" + j.dataset + "'");
      return;
    }
    if (!joined_.insert(j.dataset).second) error(j.where, "join: dataset '" + j.dataset + "' is joined twice");
    const TableConfig& t = it->second;
    JoinPlan jp;
    jp.dataset = static_cast<std::size_t>(it - datasets.begin());
    jp.left = j.left;
    if (j.on.size() != t.key.size()) {
      error(j.where, "join '" + j.dataset + "': 'on' names " + std::to_string(j.on.size()) +
                         " field(s), the dataset's key has " + std::to_string(t.key.size()));
    }
    for (std::size_t k = 0; k < j.on.size() && k < t.key.size(); ++k) {
      const auto& [mine, theirs] = j.on[k];
      if (theirs != t.key[k]) {
        error(j.where, "join '" + j.dataset + "': '" + theirs + "' is not the dataset's key column " +
                           std::to_string(k + 1) + " ('" + t.key[k] + "')");
      }
      const auto* s = scope_.scalar(mine);
      if (!s) {
        error(j.where, "join '" + j.dataset + "': the record has no field '" + mine + "'");
        continue;
      }
      const Type dt = std::find_if(t.columns.begin(), t.columns.end(), [&](const ColumnDecl& d) {
                        return d.name == t.key[k];
                      })->type;
      if (s->second != dt) {
        error(j.where, "join '" + j.dataset + "': '" + mine + "' is " + std::string(type_name(s->second)) +
                           ", the key '" + t.key[k] + "' is " + std::string(type_name(dt)));
      }
      jp.key_slots.push_back(s->first);
    }
    jp.first_slot = static_cast<int>(plan_->slot_names.size());
    for (const auto& col : t.columns) {
      std::string full = j.dataset + "." + col.name;
      scope_.add_scalar(full, add_slot(full, col.type), col.type);
    }
    plan_->joins.push_back(jp);
  }

  // The output's columns (every name is known now, arrays included), its
  // partition columns, and the files' schema: the columns not partitioned by.
  void plan_output(const OutputConfig& o) {
    for (const auto& name : plan_->array_names) array_scope_add(scope_, name);
    std::vector<parquet::Column> columns;
    std::set<std::string> out_names;
    for (const auto& oc : o.columns) {
      if (!out_names.insert(oc.name).second) error(oc.where, "output.columns: '" + oc.name + "' appears twice");
      auto e = compile(oc.expr, scope_, oc.where, "output.columns." + oc.name, {});
      if (!e) continue;
      const Type t = e->type();
      const bool fits = t == oc.type || t == Type::kNull || (oc.type == Type::kDouble && t == Type::kInt64);
      if (!fits) {
        error(oc.where, "output.columns." + oc.name + ": the column is " + std::string(type_name(oc.type)) + " but '" +
                            oc.expr + "' gives " + std::string(type_name(t)));
      }
      const parquet::ColumnType ct = oc.type == Type::kInt64    ? parquet::ColumnType::kInt64
                                     : oc.type == Type::kDouble ? parquet::ColumnType::kDouble
                                     : oc.type == Type::kBool   ? parquet::ColumnType::kBool
                                                                : parquet::ColumnType::kString;
      columns.push_back({.name = oc.name, .type = ct, .nullable = oc.nullable});
      plan_->output.push_back({oc.name, oc.type, std::move(*e), oc.nullable});
    }
    if (o.columns.empty()) error(o.where, "output.columns: at least one column is required");
    for (const auto& p : o.partition_by) {
      auto it = std::find_if(plan_->output.begin(), plan_->output.end(),
                             [&](const OutputColumnPlan& out) { return out.name == p; });
      if (it == plan_->output.end()) {
        error(o.partition_where, "output.partition_by: '" + p + "' is not one of the output columns");
      } else {
        plan_->partition_columns.push_back(static_cast<std::size_t>(it - plan_->output.begin()));
      }
    }
    std::vector<parquet::Column> stored;
    for (std::size_t i = 0; i < columns.size(); ++i) {
      const auto& parts = plan_->partition_columns;
      if (std::find(parts.begin(), parts.end(), i) != parts.end()) continue;
      plan_->file_columns.push_back(i);
      stored.push_back(columns[i]);
    }
    if (!failed() && stored.empty())
      error(o.partition_where, "output.partition_by: no column would be left in the files");
    if (failed()) return;
    auto schema = parquet::Schema::make(std::move(stored));
    if (!schema.ok())
      error(o.where, schema.status().message());
    else
      plan_->schema = std::move(*schema);
  }

  void array_scope_add(Scope& scope, const std::string& name) {
    if (const auto* a = array_scope_.array(name)) scope.add_array(name, *a);
  }

  bool load_;
  std::unique_ptr<Plan> plan_;
  Scope scope_;                      // what expressions and templates may name: grows as the steps and joins go
  Scope array_scope_;                // the arrays, in scope for the output only
  std::set<std::string> all_names_;  // every field and dataset column the file names, for "later" vs "unknown"
  std::set<std::string> step_names_, array_names_, joined_;
  std::vector<std::string> errors_;
};

}  // namespace

Result<LoadedDatasets::Set> load_datasets(const PipelineConfig& config) {
  LoadedDatasets::Set set;
  std::string errors;
  for (const auto& [name, t] : config.datasets) {
    Result<Dataset> d = Dataset::load(name, t);
    if (!d.ok()) {
      errors += (errors.empty() ? "" : "\n") + t.where.str() + ": " + d.status().message();
      set.push_back(nullptr);
    } else {
      set.push_back(std::make_shared<const Dataset>(std::move(*d)));
    }
  }
  if (!errors.empty()) return Status::InvalidArgument(errors);
  return set;
}

Result<std::unique_ptr<Plan>> make_plan(PipelineConfig config, Datasets datasets) {
  Planner p(datasets == Datasets::kLoad);
  return p.run(std::move(config));
}

}  // namespace sluice::pipeline
