#include "pipeline/json/array_reader.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <random>

#include "array_reference.h"

namespace sluice::pipeline {
namespace {

using testing::reference_read_array;
using testing::same_rows;

const std::vector<FieldSpec> kFields = {{.name = "t", .path = "t", .type = Type::kInt64},
                                        {.name = "v", .path = "v", .type = Type::kDouble, .optional = true},
                                        {.name = "c", .path = "c", .type = Type::kString, .optional = true},
                                        {.name = "ok", .path = "ok", .type = Type::kBool, .optional = true}};

ArrayData empty_columns() {
  ArrayData d;
  for (const auto& f : kFields) d.columns.push_back({.type = f.type});
  return d;
}

// Reads `body` both ways; the two must agree on success and on every value.
void expect_same_as_reference(const std::string& body, const std::vector<std::string>& path = {"events"}) {
  ArrayData ours = empty_columns(), theirs = empty_columns();
  const Status s = detail::read_array(body, path, "events", kFields, ours);
  const bool ref = reference_read_array(body, path, kFields, theirs);
  ASSERT_EQ(s.ok(), ref) << "input: " << body << "\nread_array: " << s.message();
  if (ref) EXPECT_TRUE(same_rows(ours, theirs)) << "input: " << body;
}

TEST(ArrayReader, AgreesWithTheDomReaderOnEveryKindOfNumber) {
  for (const char* t : {"0",
                        "-0",
                        "7",
                        "-7",
                        "9223372036854775807",
                        "-9223372036854775808",
                        "9223372036854775808",
                        "18446744073709551615",
                        "18446744073709551616",
                        "-9223372036854775809",
                        "123456789012345678901234567890",
                        "1.0",
                        "1e2",
                        "01",
                        "-",
                        "--1",
                        "+1",
                        "1.",
                        ".5",
                        "null"}) {
    expect_same_as_reference(std::string(R"({"events":[{"t":)") + t + "}]}");
  }
  for (const char* v : {"0",
                        "-0",
                        "-0.0",
                        "0.0",
                        "1e400",
                        "-1e400",
                        "1e-400",
                        "4.9e-324",
                        "2.4703282292062328e-324",
                        "2.2250738585072011e-308",
                        "1.7976931348623157e308",
                        "1.7976931348623159e308",
                        "0.1",
                        "579.435",
                        "1E5",
                        "1e+5",
                        "0.1e-5",
                        "1e",
                        "1e+",
                        "9007199254740993",
                        "9007199254740993.0",
                        "0.30000000000000004441",
                        "123456789012345678901234567890.5",
                        "0.000000000000000000000000000001",
                        "1.00000000000000011102230246251565404236316680908203125",
                        "18446744073709551615",
                        "true",
                        "\"1\"",
                        "[]",
                        "{}",
                        "null",
                        "1e0000000000000000000000001",
                        "0e999999999"}) {
    expect_same_as_reference(std::string(R"({"events":[{"t":1,"v":)") + v + "}]}");
  }
}

TEST(ArrayReader, AgreesWithTheDomReaderOnRandomDoublesInEveryNotation) {
  std::mt19937_64 rng(42);
  std::string body = R"({"events":[)";
  char buf[64];
  for (int i = 0; i < 20000; ++i) {
    double d;
    const std::uint64_t bits = rng();
    std::memcpy(&d, &bits, sizeof d);
    if (!std::isfinite(d)) continue;
    const char* formats[] = {"%.17g", "%.15g", "%.6f", "%.3e", "%.20e"};
    std::snprintf(buf, sizeof buf, formats[i % 5], i % 7 == 0 ? d : static_cast<double>(rng() % 1000000) / 1000.0);
    const auto t = static_cast<std::int64_t>(rng()) >> (i % 64);  // integers of every length and sign
    body += std::string(i == 0 ? "" : ",") + R"({"t":)" + std::to_string(t) + R"(,"v":)" + buf + "}";
  }
  body += "]}";
  expect_same_as_reference(body);
}

TEST(ArrayReader, AgreesWithTheDomReaderOnStringsAndStructure) {
  for (const char* body : {R"({"events":[{"t":1,"c":"plain"},{"t":2,"c":"tab\tescaped \"q\" \\ \/ \b\f\n\r"}]})",
                           R"({"events":[{"t":1,"c":"\u00e9\u4e2d\ud83d\ude00\u0000"}]})",
                           R"({"events":[{"t":1,"c":"\ud800"}]})",
                           R"({"events":[{"t":1,"c":"\udc00"}]})",
                           R"({"events":[{"t":1,"c":"\ud800\u0041"}]})",
                           R"({"events":[{"t":1,"c":"\x"}]})",
                           R"({"events":[{"t":1,"c":"\u12"}]})",
                           "{\"events\":[{\"t\":1,\"c\":\"raw\ttab\"}]}",
                           "{\"events\":[{\"t\":1,\"c\":\"\xc3\xa9\"}]}",
                           "{\"events\":[{\"t\":1,\"c\":\"\xff\"}]}",
                           R"({"\u0065vents":[{"\u0074":3}]})",
                           R"({"events":[{"t":1,"t":2,"v":1,"v":null}]})",
                           R"({"events":[{"t":1}],"events":[{"t":2},{"t":3}]})",
                           R"({"events":[{"t":1}],"events":5})",
                           R"({"events":[{"t":"x"}],"events":[{"t":2}]})",
                           R"({"events":[{"v":1}]})",
                           R"({"events":[1,2]})",
                           R"({"events":[{"t":1,"ok":true},{"t":2,"ok":false},{"t":3,"ok":null},{"t":4,"ok":1}]})",
                           R"({"events":[{"t":1,"c":null,"v":null},{"t":2,"c":"x","v":2.5}]})",
                           R"({"events":[{"t":1,"c":5}]})",
                           R"({"events":[{"t":1,"more":{"a":[1,{"b":null}]}}]})",
                           R"({"events":[]})",
                           R"({"events":{}})",
                           R"({"events":null})",
                           R"({"other":[{"t":1}]})",
                           R"([{"t":1}])",
                           R"("events")",
                           "",
                           "   ",
                           "\n{\"events\" : [ ] }\n",
                           R"({"events":[{"t":1}]} x)",
                           R"({"events":[{"t":1}]}})",
                           R"({"events":[{"t":1},]})",
                           R"({"events":[{"t":1,}]})",
                           R"({"events":[{"t" 1}]})",
                           R"({"events":[{"t":1}])",
                           R"({"events":[{"t":1})",
                           R"({"events":[{"t":tru}]})",
                           R"({"events":[{"t":1,"x":nul}]})",
                           R"({"events":[{"t":1,"x":truex}]})",
                           R"({"events":[{"t":1}], "x": [1 2]})",
                           R"({"a":{"events":[{"t":1}]}})",
                           "{\"events\":[{\"t\":1}]}\0"}) {
    expect_same_as_reference(body);
  }
  // A path two keys deep, its keys repeated at both levels.
  for (const char* body : {R"({"data":{"events":[{"t":1}]}})", R"({"data":{"events":[{"t":1}]},"data":{"x":1}})",
                           R"({"data":{"events":[{"t":1}],"events":[{"t":2}]}})", R"({"data":5})",
                           R"({"data":{"events":[{"t":1}]},"data":{"events":[{"t":7}]}})"}) {
    expect_same_as_reference(body, {"data", "events"});
  }
  std::string deep = R"({"events":[{"t":1,"x":)" + std::string(1020, '[') + std::string(1020, ']') + "}]}";
  expect_same_as_reference(deep);
  deep = R"({"events":[{"t":1,"x":)" + std::string(1021, '[') + std::string(1021, ']') + "}]}";
  expect_same_as_reference(deep);
}

// Strings are scanned 8 bytes at a time: an escape, a quote, a control or
// a non-ASCII byte at every position of strings up to 40 bytes long.
TEST(ArrayReader, AgreesWithTheDomReaderOnLongStringsWithSomethingAtEveryPosition) {
  for (const std::string special : {"\\\"", "\\n", "\t", "\xc3\xa9", "\x7f", "\\u00e9", "\\"}) {
    for (std::size_t len = 0; len <= 40; ++len) {
      for (std::size_t at = 0; at <= len; ++at) {
        std::string text(len, 'a');
        text.insert(at, special);
        expect_same_as_reference(R"({"events":[{"t":1,"c":")" + text + R"("}]})");
      }
    }
  }
}

TEST(ArrayReader, AppendsAfterTheRowsThereAndSaysWhatAndWhereWhenItFails) {
  ArrayData out = empty_columns();
  ASSERT_TRUE(
      detail::read_array(R"({"events":[{"t":1,"v":null},{"t":2,"v":0.5}]})", {"events"}, "events", kFields, out).ok());
  ASSERT_TRUE(detail::read_array(R"({"events":[{"t":3,"v":1.5,"c":"z"}]})", {"events"}, "events", kFields, out).ok());
  EXPECT_EQ(out.rows, 3u);
  EXPECT_EQ(out.columns[0].i64, (std::vector<std::int64_t>{1, 2, 3}));
  EXPECT_EQ(out.columns[1].f64, (std::vector<double>{0, 0.5, 1.5}));
  EXPECT_EQ(out.columns[1].valid, (std::vector<std::uint8_t>{0, 1, 1}));
  EXPECT_EQ(out.columns[2].str(2), "z");
  EXPECT_FALSE(out.columns[2].is_valid(0));

  // Malformed JSON is kDataLoss (a cut answer: asked for again); well-formed
  // JSON not shaped as the step says is kFailedPrecondition (not asked again).
  auto message = [&](const std::string& body, StatusCode code = StatusCode::kFailedPrecondition) {
    ArrayData d = empty_columns();
    const Status s = detail::read_array(body, {"events"}, "events", kFields, d);
    EXPECT_EQ(s.code(), code) << body;
    return s.message();
  };
  EXPECT_EQ(message(R"({"events":[{"t":1},{"t":2,)", StatusCode::kDataLoss),
            "malformed JSON at byte 26: expected a key");
  EXPECT_EQ(message("{\"events\":[{\"t\":1,\"c\":\"\xff\"}]}", StatusCode::kDataLoss), "malformed JSON: not UTF-8");
  EXPECT_EQ(message(R"({"other":1})"), "array 'events': no such field");
  EXPECT_EQ(message(R"({"events":{"t":1}})"), "array 'events': not an array");
  EXPECT_EQ(message(R"({"events":[{"t":1},7]})"), "array 'events', element 1: not an object");
  EXPECT_EQ(message(R"({"events":[{"v":1}]})"), "array 'events', element 0: field 't' is missing");
  EXPECT_EQ(message(R"({"events":[{"t":1.5}]})"), "array 'events', element 0, field 't': expected int64");
}

}  // namespace
}  // namespace sluice::pipeline
