// sluice's one JSON string writer, and its UTF-8 check.
#include "sluice/detail/json.h"

#include <gtest/gtest.h>

namespace sluice::detail {
namespace {

TEST(Utf8, AcceptsWellFormedAndRejectsMalformed) {
  EXPECT_TRUE(valid_utf8(""));
  EXPECT_TRUE(valid_utf8("plain ascii, long enough for the fast path"));
  EXPECT_TRUE(valid_utf8("é 日本語 🚀"));
  EXPECT_FALSE(valid_utf8("\xC0\xAF"));          // overlong '/'
  EXPECT_FALSE(valid_utf8("\xED\xA0\x80"));      // a surrogate
  EXPECT_FALSE(valid_utf8("\xF4\x90\x80\x80"));  // past U+10FFFF
  EXPECT_FALSE(valid_utf8("abc\xE6\x97"));       // truncated
  EXPECT_FALSE(valid_utf8("\xFF"));
}

TEST(JsonQuote, BytesThatAreNotUtf8BecomeReplacementCharactersSoTheLineStaysJson) {
  EXPECT_EQ(json_quote("caf\xc3\xa9 \"q\"\n"), "\"caf\xc3\xa9 \\\"q\\\"\\n\"");
  EXPECT_EQ(json_quote("a\xff"
                       "b"),
            "\"a\\ufffdb\"");
  EXPECT_EQ(json_quote("\xc3"), "\"\\ufffd\"") << "a sequence cut short";
  EXPECT_EQ(json_quote("\xe0\x80\x80"), "\"\\ufffd\\ufffd\\ufffd\"") << "an overlong form";
  EXPECT_EQ(json_quote("\xed\xa0\x80"), "\"\\ufffd\\ufffd\\ufffd\"") << "a surrogate";
  EXPECT_EQ(json_quote("\xf0\x9f\x98\x80\xff"), "\"\xf0\x9f\x98\x80\\ufffd\"") << "good sequences stay";
}

}  // namespace
}  // namespace sluice::detail
