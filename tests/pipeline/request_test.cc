// Request, alone: a step's templates rendered for a record. A JSON body's
// holes are escaped where they stand, so that no input value can change
// the body's shape (a quote, a backslash, a line break, a brace in a
// value); {{ and }} are literal braces; a template that is not one says
// how to write it.
#include "pipeline/run/request.h"

#include <gtest/gtest.h>
#include <simdjson.h>

#include "plan_of.h"

namespace sluice::pipeline {
namespace {

Result<std::unique_ptr<Plan>> plan_with(const std::string& step) {
  return plan_of(R"yaml(input:
  path: records.csv
  columns: {id: int64, name: string, score: double, ok: bool}
http:
  base_url: http://127.0.0.1:1
steps:
)yaml" + step + R"yaml(output:
  path: out
  columns:
    id: int64
)yaml");
}

Record record_of(const Plan& plan, std::int64_t id, const std::string& name, double score) {
  Record r;
  r.slots.resize(plan.slot_names.size());
  r.slots[0] = Value(id);
  r.slots[1] = Value(name);
  r.slots[2] = Value(score);
  r.slots[3] = Value(true);
  return r;
}

constexpr const char* kHostile[] = {
    "plain", "bo\"b",  "back\\slash", "two\nlines", "\"], \"admin\": true, \"x\": [\"", "{id}", "{{",
    "}",     "zürich", "tab\there",   "",
};

TEST(Request, AJsonBodysHolesAreEscapedWhereTheyStandForAnyValue) {
  auto plan = plan_with(R"yaml(  - name: search
    post: /v1/search
    body: '{{"id": {id}, "name": "{name}", "who": {name}, "tag": "n-{name}-{id}", "score": {score}, "ok": {ok}, "list": [{id}, "{name}"]}}'
    fields: {n: int64}
)yaml");
  ASSERT_TRUE(plan.ok()) << plan.status().to_string();
  simdjson::dom::parser parser;
  for (const char* name : kHostile) {
    const Record r = record_of(**plan, 7, name, 0.25);
    const http::Request req = request_for((*plan)->steps[0], r, 0);
    simdjson::dom::element d;
    ASSERT_FALSE(parser.parse(req.body).get(d)) << "not JSON for name '" << name << "': " << req.body;
    simdjson::dom::object o;
    ASSERT_FALSE(d.get(o)) << req.body;
    EXPECT_EQ(o.size(), 7u) << "the body's shape changed: " << req.body;
    EXPECT_EQ(int64_t(d["id"]), 7);
    EXPECT_EQ(std::string_view(d["name"]), name);
    EXPECT_EQ(std::string_view(d["who"]), name) << "outside quotes, a string is quoted";
    EXPECT_EQ(std::string_view(d["tag"]), "n-" + std::string(name) + "-7");
    EXPECT_EQ(double(d["score"]), 0.25);
    EXPECT_EQ(bool(d["ok"]), true);
    EXPECT_EQ(std::string_view(d["list"].at(1)), name);
    ASSERT_EQ(req.headers.size(), 1u);
    EXPECT_EQ(req.headers[0].second, "application/json");
  }
}

TEST(Request, TheBodyTheIssueReportedIsNoLongerAnInjection) {
  auto plan = plan_with(R"yaml(  - name: s
    post: /v1/items
    body: '[{id}, "{name}"]'
    fields: {n: int64}
)yaml");
  ASSERT_TRUE(plan.ok()) << plan.status().to_string();
  const http::Request req = request_for((*plan)->steps[0], record_of(**plan, 2, "bo\"b", 0), 0);
  EXPECT_EQ(req.body, "[2, \"bo\\\"b\"]");
}

TEST(Request, PathAndQueryHolesAreTextForTheClientToEncodeAndBracesCanBeLiteral) {
  auto plan = plan_with(R"yaml(  - name: s
    get: /v1/{name}/x{{y}}?q={name}&n={id}
    fields: {n: int64}
)yaml");
  ASSERT_TRUE(plan.ok()) << plan.status().to_string();
  const http::Request req = request_for((*plan)->steps[0], record_of(**plan, 3, "a b\"c", 0), 0);
  EXPECT_EQ(req.path, "/v1/a b\"c/x{y}");
  ASSERT_EQ(req.query.size(), 2u);
  EXPECT_EQ(req.query[0].second, "a b\"c");
  EXPECT_EQ(req.query[1].second, "3");
  EXPECT_TRUE(req.body.empty());
}

// A step's query: parameters after the URL's own, in the file's order, each
// a template (values as text: the client percent-encodes them).
TEST(Request, AStepsQueryParametersFollowTheUrlsOwn) {
  auto plan = plan_with(R"yaml(  - name: s
    get: /v1/search?x=1
    query: {q: "{name}", limit: 50, tag: "n-{id}"}
    fields: {n: int64}
)yaml");
  ASSERT_TRUE(plan.ok()) << plan.status().to_string();
  const http::Request req = request_for((*plan)->steps[0], record_of(**plan, 4, "a&b=c", 0), 0);
  EXPECT_EQ(req.path, "/v1/search");
  ASSERT_EQ(req.query.size(), 4u);
  EXPECT_EQ(req.query[0], (std::pair<std::string, std::string>{"x", "1"}));
  EXPECT_EQ(req.query[1], (std::pair<std::string, std::string>{"q", "a&b=c"}));
  EXPECT_EQ(req.query[2], (std::pair<std::string, std::string>{"limit", "50"}));
  EXPECT_EQ(req.query[3], (std::pair<std::string, std::string>{"tag", "n-4"}));
  auto unknown = plan_with(R"yaml(  - name: s
    get: /v1/search
    query: {q: "{nmae}"}
    fields: {n: int64}
)yaml");
  ASSERT_FALSE(unknown.ok());
  EXPECT_NE(unknown.status().message().find("step 's': query.q: {nmae} is not a field"), std::string::npos)
      << unknown.status().to_string();
  EXPECT_NE(unknown.status().message().find("did you mean {name}?"), std::string::npos) << unknown.status().to_string();
}

// application/x-www-form-urlencoded read back as a form parser would
// (split on '&' and '=', then '+' and %XX decoded).
std::vector<std::pair<std::string, std::string>> parse_form(const std::string& body) {
  auto decode = [](std::string_view s) {
    std::string out;
    for (std::size_t i = 0; i < s.size(); ++i) {
      if (s[i] == '+') {
        out += ' ';
      } else if (s[i] == '%' && i + 2 < s.size()) {
        out += static_cast<char>(std::stoi(std::string(s.substr(i + 1, 2)), nullptr, 16));
        i += 2;
      } else {
        out += s[i];
      }
    }
    return out;
  };
  std::vector<std::pair<std::string, std::string>> out;
  std::size_t at = 0;
  while (at <= body.size()) {
    std::size_t amp = body.find('&', at);
    if (amp == std::string::npos) amp = body.size();
    const std::string_view kv(body.data() + at, amp - at);
    const auto eq = kv.find('=');
    out.emplace_back(decode(kv.substr(0, eq)), eq == std::string_view::npos ? "" : decode(kv.substr(eq + 1)));
    at = amp + 1;
  }
  return out;
}

TEST(Request, AFormBodysNamesAndValuesAreFormEncoded) {
  auto plan = plan_with(R"yaml(  - name: s
    post: /v1/token
    form: {grant type: client_credentials, who: "{name}", id: "{id}"}
    fields: {n: int64}
)yaml");
  ASSERT_TRUE(plan.ok()) << plan.status().to_string();
  std::vector<std::string> names(std::begin(kHostile), std::end(kHostile));
  names.insert(names.end(), {"a&b=c", "100% +1", "x=y&z", "%41"});
  for (const std::string& name : names) {
    const http::Request req = request_for((*plan)->steps[0], record_of(**plan, 9, name, 0), 0);
    const auto form = parse_form(req.body);
    ASSERT_EQ(form.size(), 3u) << "the form's shape changed: " << req.body;
    EXPECT_EQ(form[0], (std::pair<std::string, std::string>{"grant type", "client_credentials"}));
    EXPECT_EQ(form[1], (std::pair<std::string, std::string>{"who", name})) << req.body;
    EXPECT_EQ(form[2], (std::pair<std::string, std::string>{"id", "9"}));
    ASSERT_EQ(req.headers.size(), 1u);
    EXPECT_EQ(req.headers[0].second, "application/x-www-form-urlencoded");
  }
  auto both = plan_with(R"yaml(  - name: s
    post: /v1/token
    body: '[{id}]'
    form: {a: b}
    fields: {n: int64}
)yaml");
  ASSERT_FALSE(both.ok());
  EXPECT_NE(both.status().message().find("either 'body' or 'form', not both"), std::string::npos)
      << both.status().to_string();
}

TEST(Request, ABraceThatIsNotAHoleSaysHowToWriteOne) {
  auto unescaped = plan_with(R"yaml(  - name: s
    post: /v1/items
    body: '{"id": {id}}'
    fields: {n: int64}
)yaml");
  ASSERT_FALSE(unescaped.ok());
  EXPECT_NE(unescaped.status().message().find("write {{ and }} for literal braces"), std::string::npos)
      << unescaped.status().to_string();
  EXPECT_NE(unescaped.status().message().find("p.yaml:"), std::string::npos) << "it names the file and line";
  auto lone = plan_with(R"yaml(  - name: s
    post: /v1/items
    body: '[{id}]}'
    fields: {n: int64}
)yaml");
  ASSERT_FALSE(lone.ok());
  EXPECT_NE(lone.status().message().find("a '}' without its '{' at column 7"), std::string::npos)
      << lone.status().to_string();
}

}  // namespace
}  // namespace sluice::pipeline
