// Field extraction from JSON answers: scalars by dotted path, and lists of
// scalars (what a later step's for_each fans out over).
#include "pipeline/json/extract.h"

#include <gtest/gtest.h>

namespace sluice::pipeline {
namespace {

TEST(Extractor, ScalarsAndListsComeOutInTheirOwnOrder) {
  Extractor ex({{.name = "a.score", .path = "stats.score", .type = Type::kDouble},
                {.name = "a.pages", .path = "pages", .type = Type::kInt64, .list = true},
                {.name = "a.kind", .path = "kind", .type = Type::kString},
                {.name = "a.tags", .path = "tags", .type = Type::kString, .list = true}});
  std::string body = R"({"kind":"b","pages":[3,1,2],"tags":["x","y z"],"stats":{"score":0.25}})";
  std::vector<Value> scalars;
  std::vector<std::vector<Value>> lists;
  ASSERT_TRUE(ex.extract(body, scalars, &lists).ok());
  ASSERT_EQ(scalars.size(), 2u);
  EXPECT_EQ(scalars[0].as_double(), 0.25);
  EXPECT_EQ(scalars[1].as_string(), "b");
  ASSERT_EQ(lists.size(), 2u);
  ASSERT_EQ(lists[0].size(), 3u);
  EXPECT_EQ(lists[0][0].as_int(), 3);
  EXPECT_EQ(lists[0][2].as_int(), 2);
  ASSERT_EQ(lists[1].size(), 2u);
  EXPECT_EQ(lists[1][1].as_string(), "y z");
}

TEST(Extractor, AListMissingIsEmptyIfOptionalAndAnErrorOtherwise) {
  Extractor optional({{.name = "s.ids", .path = "ids", .type = Type::kInt64, .list = true, .optional = true}});
  Extractor required({{.name = "s.ids", .path = "ids", .type = Type::kInt64, .list = true}});
  std::vector<Value> scalars;
  std::vector<std::vector<Value>> lists{{Value(std::int64_t{9})}};
  std::string body = R"({"other":1})";
  ASSERT_TRUE(optional.extract(body, scalars, &lists).ok());
  ASSERT_EQ(lists.size(), 1u);
  EXPECT_TRUE(lists[0].empty()) << "what was there before is gone";
  Status s = required.extract(body, scalars, &lists);
  EXPECT_EQ(s.code(), StatusCode::kFailedPrecondition) << "well-formed: asking again would not help";
  EXPECT_EQ(s.message(), "field 's.ids' (path 'ids'): missing");
}

TEST(Extractor, ABadListNamesTheFieldAndTheElement) {
  Extractor ex({{.name = "s.ids", .path = "ids", .type = Type::kInt64, .list = true}});
  std::vector<Value> scalars;
  std::vector<std::vector<Value>> lists;
  std::string not_array = R"({"ids":4})", null_element = R"({"ids":[1,null]})", wrong_type = R"({"ids":[1,2,"3"]})";
  EXPECT_EQ(ex.extract(not_array, scalars, &lists).message(), "field 's.ids' (path 'ids'): expected an array");
  EXPECT_EQ(ex.extract(null_element, scalars, &lists).message(), "field 's.ids' (path 'ids'): element 1 is null");
  std::string m = ex.extract(wrong_type, scalars, &lists).message();
  EXPECT_TRUE(m.starts_with("field 's.ids' (path 'ids'): expected an int64")) << m;
  EXPECT_TRUE(m.ends_with("(element 2)")) << m;
}

// A key that appears twice: the last value, as JavaScript's, Python's and
// Go's parsers read it (simdjson's own lookup finds the first).
TEST(Extractor, ADuplicateKeyReadsItsLastValueInObjectsAndArrayElements) {
  Extractor ex({{.name = "a.score", .path = "stats.score", .type = Type::kDouble},
                {.name = "a.kind", .path = "kind", .type = Type::kString}});
  std::string body = R"({"kind":"first","stats":{"score":1,"score":2},"kind":"last"})";
  std::vector<Value> scalars;
  ASSERT_TRUE(ex.extract(body, scalars, nullptr).ok());
  EXPECT_EQ(scalars[0].as_double(), 2.0);
  EXPECT_EQ(scalars[1].as_string(), "last");

  ArrayExtractor events(
      "events", {{.name = "t", .path = "t", .type = Type::kInt64}, {.name = "v", .path = "v", .type = Type::kDouble}});
  // In order and nothing else; a repeat within the declared count; a repeat past it.
  std::string arr = R"({"events":[{"t":1,"v":1.5},{"t":2,"t":3},{"v":0.5,"t":4,"v":9.5,"t":5}]})";
  pipeline::ArrayData out = events.empty();
  Status st = events.extract(arr, out);
  ASSERT_EQ(st.code(), StatusCode::kFailedPrecondition) << "element 1 has no v";
  std::string ok = R"({"events":[{"t":1,"v":1.5},{"v":0.5,"t":4,"v":9.5,"t":5},{"t":6,"t":7,"v":2.5}]})";
  out = events.empty();
  ASSERT_TRUE(events.extract(ok, out).ok());
  ASSERT_EQ(out.rows, 3u);
  EXPECT_EQ(out.columns[0].i64, (std::vector<std::int64_t>{1, 5, 7}));
  EXPECT_EQ(out.columns[1].f64, (std::vector<double>{1.5, 9.5, 2.5}));
}

TEST(Extractor, MalformedJsonIsDataLoss) {
  Extractor ex({{.name = "s.x", .path = "x", .type = Type::kInt64}});
  std::vector<Value> scalars;
  std::string body = R"({"x":1)";
  Status s = ex.extract(body, scalars);
  EXPECT_EQ(s.code(), StatusCode::kDataLoss);
  EXPECT_TRUE(s.message().starts_with("malformed JSON")) << s.message();
}

}  // namespace
}  // namespace sluice::pipeline
