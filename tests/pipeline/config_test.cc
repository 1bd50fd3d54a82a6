// The pipeline file's errors: each kind gives a message naming the file,
// line and column and what was expected; all of them are reported at once.
#include <gtest/gtest.h>

#include <cstdlib>

#include "pipeline/plan/plan.h"

namespace sluice::pipeline {
namespace {

// A valid file; tests change one thing in it.
const std::string kGood = R"yaml(input:
  path: records.csv
  columns: {id: int64}
http:
  base_url: http://127.0.0.1:1
steps:
  - name: item
    get: /v1/items/{id}
    fields: {score: double, pages: int64, kind: string}
    keep_if: item.score >= 0.3
  - name: pages
    get: /v1/items/{id}/events?page={page}
    for_each: {page: "range(0, item.pages)"}
    arrays:
      events: {path: events, fields: {t: int64, v: double, c: string}}
output:
  path: out
  columns:
    id: int64
    kind: {type: string, expr: item.kind}
    v_mean: {type: double, expr: mean(events.v)}
)yaml";

std::string replace(std::string text, const std::string& from, const std::string& to) {
  auto at = text.find(from);
  EXPECT_NE(at, std::string::npos) << from;
  if (at != std::string::npos) text.replace(at, from.size(), to);
  return text;
}

// The error message of planning `text`, or "" if it is valid.
std::string error_of(const std::string& text) {
  auto config = parse_config(text, "p.yaml");
  if (!config.ok()) return config.status().message();
  auto plan = make_plan(std::move(*config), Datasets::kCheckOnly);
  return plan.ok() ? "" : plan.status().message();
}

TEST(PipelineFile, TheReferenceShapeIsValid) { EXPECT_EQ(error_of(kGood), ""); }

TEST(PipelineFile, YamlSyntaxErrorsNameTheLine) {
  std::string m = error_of("input:\n  path: [unclosed\n");
  EXPECT_NE(m.find("p.yaml:"), std::string::npos) << m;
  EXPECT_NE(m.find("YAML"), std::string::npos) << m;
}

TEST(PipelineFile, UnknownKeysAreNamedWithWhatWasExpected) {
  std::string m = error_of(replace(kGood, "    keep_if:", "    keep_iff:"));
  EXPECT_NE(m.find("p.yaml:10:5: step 'item': unknown key 'keep_iff' (expected one of: name, get,"), std::string::npos)
      << m;
}

TEST(PipelineFile, BadTypesAndValuesAreNamed) {
  std::string m = error_of(replace(kGood, "columns: {id: int64}", "columns: {id: integer64}"));
  EXPECT_NE(m.find("p.yaml:3:17: input.columns.id: unknown type 'integer64' (expected int64, double, string or bool)"),
            std::string::npos)
      << m;
  m = error_of(
      replace(kGood, "  base_url: http://127.0.0.1:1", "  base_url: http://127.0.0.1:1\n  max_in_flight: lots"));
  EXPECT_NE(m.find("p.yaml:6:18: http.max_in_flight: expected a whole number, found 'lots'"), std::string::npos) << m;
}

TEST(PipelineFile, AnUnknownFieldInAnExpressionIsNamedWithAHint) {
  std::string m = error_of(replace(kGood, "item.score >= 0.3", "item.scor >= 0.3"));
  EXPECT_NE(m.find("p.yaml:10:14: step 'item': keep_if 'item.scor >= 0.3': column 1: unknown name 'item.scor' "
                   "(did you mean 'item.score'?)"),
            std::string::npos)
      << m;
}

TEST(PipelineFile, ATypeMismatchIsNamed) {
  std::string m = error_of(replace(kGood, "item.score >= 0.3", "item.kind >= 0.3"));
  EXPECT_NE(m.find("column 11: cannot compare string with double"), std::string::npos) << m;
  m = error_of(replace(kGood, "v_mean: {type: double,", "v_mean: {type: int64,"));
  EXPECT_NE(m.find("output.columns.v_mean: the column is int64 but 'mean(events.v)' gives double"), std::string::npos)
      << m;
}

TEST(PipelineFile, ATemplateNamingALaterStepsFieldIsAnError) {
  std::string text = replace(kGood, "get: /v1/items/{id}\n", "get: /v1/items/{id}?p={pages2.x}\n");
  text = replace(text, "  - name: pages\n", "  - name: pages2\n    fields: {x: int64}\n");
  text = replace(text, "    for_each: {page: \"range(0, item.pages)\"}\n    arrays:", "    arrays:");
  std::string m = error_of(text);
  EXPECT_NE(m.find("p.yaml:8:10: step 'item': URL: {pages2.x} comes from a step that runs later"), std::string::npos)
      << m;
  m = error_of(replace(kGood, "events?page={page}", "events?page={pag}"));
  EXPECT_NE(m.find("step 'pages': URL: {pag} is not a field that an earlier step or the input provides"),
            std::string::npos)
      << m;
}

TEST(PipelineFile, ForEachNeedsARangeAndArrays) {
  std::string m = error_of(replace(kGood, "\"range(0, item.pages)\"", "item.pages"));
  EXPECT_NE(m.find("for_each: expected range(first, end)"), std::string::npos) << m;
}

TEST(PipelineFile, ByteSizesTakeUnitsAndSayWhatIsWrong) {
  auto bound = [](const std::string& v) -> std::string {
    auto c = parse_config(kGood + "max_bytes_in_flight: " + v + "\n", "p.yaml");
    return c.ok() ? std::to_string(c->max_bytes_in_flight) : c.status().message();
  };
  EXPECT_EQ(bound("1048576"), "1048576");
  EXPECT_EQ(bound("64KiB"), "65536");
  EXPECT_EQ(bound("256MiB"), std::to_string(256ULL << 20));
  EXPECT_EQ(bound("2 GiB"), std::to_string(2ULL << 30));
  EXPECT_EQ(bound("5MB"), "5000000");
  EXPECT_NE(bound("12 parsecs")
                .find("p.yaml:22:22: max_bytes_in_flight: expected a size such as 268435456, 256MiB or "
                      "2GiB, found '12 parsecs'"),
            std::string::npos)
      << bound("12 parsecs");
  EXPECT_NE(bound("100").find("max_bytes_in_flight: 100 is out of range [1024 bytes, 1PiB]"), std::string::npos);
  EXPECT_NE(bound("-5MiB").find("expected a size"), std::string::npos);
}

TEST(PipelineFile, ListFieldsAreForForEachOnly) {
  const std::string listed = replace(kGood, "fields: {score: double, pages: int64, kind: string}",
                                     "fields: {score: double, pages: int64, kind: string, ids: \"list<int64>\"}");
  EXPECT_EQ(error_of(replace(listed, "\"range(0, item.pages)\"", "item.ids")), "");
  EXPECT_EQ(error_of(replace(listed, "\"range(0, item.pages)\"", "\" item.ids \"")), "");
  std::string m = error_of(replace(listed, "item.score >= 0.3", "item.ids > 3"));
  EXPECT_NE(m.find("p.yaml:10:14: step 'item': keep_if 'item.ids > 3': column 1: 'item.ids' is a list: only a step's "
                   "for_each can use it"),
            std::string::npos)
      << m;
  m = error_of(replace(listed, "events?page={page}", "events?page={item.ids}"));
  EXPECT_NE(m.find("step 'pages': URL: {item.ids} is a list: fan out over its elements with for_each"),
            std::string::npos)
      << m;
  m = error_of(replace(kGood, "fields: {t: int64,", "fields: {t: \"list<int64>\","));
  EXPECT_NE(m.find("step 'pages'.arrays.events.fields.t: a list is not allowed here"), std::string::npos) << m;
  EXPECT_EQ(error_of(replace(kGood, "pages: int64, kind", "pages: int64, flags: \"list<bool>\", kind")), "");
  m = error_of(replace(kGood, "pages: int64, kind", "pages: \"list<integer>\", kind"));
  EXPECT_NE(m.find("step 'item'.fields.pages: unknown type 'integer'"), std::string::npos) << m;
}

TEST(PipelineFile, AnAggregateOutsideItsPlaceOrOverTwoArraysIsAnError) {
  std::string m = error_of(replace(kGood, "item.score >= 0.3", "count(events) > 3"));
  EXPECT_NE(m.find("aggregate 'count' is not allowed here"), std::string::npos) << m;
  m = error_of(replace(kGood, "expr: mean(events.v)", "expr: events.v"));
  EXPECT_NE(m.find("'events.v' is a field of array 'events': aggregate it, e.g. sum(events.v)"), std::string::npos)
      << m;
}

TEST(PipelineFile, JoinsNameTheirDatasetAndKeys) {
  std::string text = kGood +
                     "datasets:\n  ents:\n    path: e.csv\n    columns: {id: int64, w: double}\njoin:\n  - dataset: "
                     "entz\n    on: id\n";
  std::string m = error_of(text);
  EXPECT_NE(m.find("join: no dataset named 'entz'"), std::string::npos) << m;
  text = replace(text, "dataset: entz\n    on: id", "dataset: ents\n    on: {item.kind: id}");
  m = error_of(text);
  EXPECT_NE(m.find("join 'ents': 'item.kind' is string, the key 'id' is int64"), std::string::npos) << m;
}

TEST(PipelineFile, AnUnsetEnvironmentVariableIsNamedNotGuessed) {
  ::unsetenv("SLUICE_TEST_UNSET_KEY");
  std::string m =
      error_of(replace(kGood, "  base_url: http://127.0.0.1:1",
                       "  base_url: http://127.0.0.1:1\n  headers: {X-Api-Key: \"${SLUICE_TEST_UNSET_KEY}\"}"));
  EXPECT_NE(m.find("http.headers.X-Api-Key: environment variable SLUICE_TEST_UNSET_KEY is not set"), std::string::npos)
      << m;
}

// ${NAME:?message} says why the variable is needed; $$ is a literal '$'.
TEST(PipelineFile, AVariableCanSayWhyItIsNeededAndADollarCanBeLiteral) {
  ::unsetenv("SLUICE_TEST_UNSET_KEY");
  std::string m = error_of(replace(
      kGood, "  base_url: http://127.0.0.1:1",
      "  base_url: http://127.0.0.1:1\n  headers: {X-Api-Key: \"${SLUICE_TEST_UNSET_KEY:?the items API's key}\"}"));
  EXPECT_NE(m.find("http.headers.X-Api-Key: environment variable SLUICE_TEST_UNSET_KEY is not set: the items API's "
                   "key"),
            std::string::npos)
      << m;
  ::setenv("SLUICE_TEST_SET_KEY", "k1", 1);
  auto c = parse_config(replace(kGood, "  base_url: http://127.0.0.1:1",
                                "  base_url: http://127.0.0.1:1\n  headers: {X-A: \"${SLUICE_TEST_SET_KEY:?needed}\", "
                                "X-B: \"$${SLUICE_TEST_SET_KEY}$$5\", X-C: \"${SLUICE_TEST_UNSET_KEY:-d$$}\"}"),
                        "p.yaml");
  ASSERT_TRUE(c.ok()) << c.status().to_string();
  const http::Headers& h = c->http.client.headers;
  auto header = [&](const std::string& name) {
    for (const auto& [k, v] : h) {
      if (k == name) return v;
    }
    return std::string("(absent)");
  };
  EXPECT_EQ(header("X-A"), "k1");
  EXPECT_EQ(header("X-B"), "${SLUICE_TEST_SET_KEY}$5") << "$$ is a '$', and what follows it is not a variable";
  EXPECT_EQ(header("X-C"), "d$$") << "a default is taken as it is written";
}

TEST(PipelineFile, EveryErrorIsReportedAtOnce) {
  std::string text = replace(kGood, "columns: {id: int64}", "columns: {id: int6}");
  text = replace(text, "item.score >= 0.3", "item.nope >= 0.3");
  text = replace(text, "expr: item.kind", "expr: item.kinds");
  std::string m = error_of(text);
  // The structure's error is found first; fix it and the two of meaning come together.
  EXPECT_NE(m.find("unknown type 'int6'"), std::string::npos) << m;
  m = error_of(replace(text, "int6}", "int64}"));
  EXPECT_NE(m.find("unknown name 'item.nope'"), std::string::npos) << m;
  EXPECT_NE(m.find("unknown name 'item.kinds'"), std::string::npos) << m;
  EXPECT_NE(m.find('\n'), std::string::npos) << "one error a line";
}

TEST(PipelineFile, SetOverridesAValueOrSaysWhatIsWrong) {
  auto c = parse_config(kGood, "p.yaml", {"http.max_in_flight=512", "steps.0.keep_if=item.score >= 0.5"});
  ASSERT_TRUE(c.ok()) << c.status().to_string();
  EXPECT_EQ(c->http.client.max_in_flight, 512u);
  EXPECT_EQ(c->steps[0].keep_if, "item.score >= 0.5");
  EXPECT_NE(parse_config(kGood, "p.yaml", {"steps.9.keep_if=x"}).status().message().find("'9' is not an index"),
            std::string::npos);
  EXPECT_NE(parse_config(kGood, "p.yaml", {"nonsense"}).status().message().find("expected KEY=VALUE"),
            std::string::npos);
}

TEST(PipelineFile, GzipIsAskedForUnlessTheFileSaysNot) {
  auto on = parse_config(kGood, "p.yaml");
  auto off = parse_config(kGood, "p.yaml", {"http.gzip=false"});
  ASSERT_TRUE(on.ok() && off.ok());
  EXPECT_TRUE(client_options(on->http).accept_compressed);
  EXPECT_FALSE(client_options(off->http).accept_compressed);
  EXPECT_NE(error_of(replace(kGood, "  base_url: http://127.0.0.1:1", "  base_url: http://127.0.0.1:1\n  gzip: maybe"))
                .find("p.yaml:6:9: http.gzip"),
            std::string::npos);
}

TEST(PipelineFile, ModePresetsAndExplicitSettings) {
  auto t = parse_config(kGood, "p.yaml");
  auto l = parse_config("mode: latency\n" + kGood, "p.yaml");
  auto x = parse_config("mode: latency\nbatch: {size: 7}\n" + kGood, "p.yaml");
  ASSERT_TRUE(t.ok() && l.ok() && x.ok());
  EXPECT_GT(t->batch_size, l->batch_size);
  EXPECT_GT(t->batch_timeout, l->batch_timeout);
  EXPECT_GT(t->queue_capacity, l->queue_capacity);
  auto w = parse_config(kGood, "p.yaml", {"http.max_in_flight=400"});
  ASSERT_TRUE(w.ok());
  EXPECT_EQ(w->records_in_flight, 500u) << "by default, a quarter more than the requests in flight";
  EXPECT_EQ(x->batch_size, 7u);
}

// Aliases of aliases: 600 bytes that stand for a billion values. Refused
// at once, before anything walks them (validate took minutes).
TEST(PipelineFile, AliasesThatExpandPastTheBoundAreRefusedNotWalked) {
  std::string laughs = "a0: &a0 [x, x, x, x, x, x, x, x, x]\n";
  for (int i = 1; i <= 9; ++i) {
    std::string prev = "*a" + std::to_string(i - 1);
    laughs += "a" + std::to_string(i) + ": &a" + std::to_string(i) + " [" + prev;
    for (int k = 1; k < 9; ++k) laughs += ", " + prev;
    laughs += "]\n";
  }
  const std::string m = error_of(laughs + kGood);
  EXPECT_NE(m.find("p.yaml: the YAML expands to more than 200000 values (aliases nested in aliases?)"),
            std::string::npos)
      << m;
  // Aliases as files use them (one setting shared by two steps) are fine.
  std::string shared = replace(kGood, "    fields: {score: double, pages: int64, kind: string}",
                               "    fields: &fields {score: double, pages: int64, kind: string}");
  EXPECT_EQ(error_of(shared), "");
}

}  // namespace
}  // namespace sluice::pipeline
