// The early-return macros: a failure returns with its context put first
// (the context is built only then); success passes the value on.
#include "sluice/status.h"

#include <gtest/gtest.h>

#include <string>

namespace sluice {
namespace {

Result<int> half(int v) {
  if (v % 2 != 0) return Status::InvalidArgument(std::to_string(v) + " is odd");
  return v / 2;
}

Result<int> quarter(int v, int& contexts_built) {
  auto context = [&] {
    ++contexts_built;
    return std::string("quartering ") + std::to_string(v);
  };
  SLUICE_ASSIGN_OR_RETURN(int h, half(v), context());
  SLUICE_ASSIGN_OR_RETURN(h, half(h));
  return h;
}

Status check_even(int v, int& contexts_built) {
  SLUICE_RETURN_IF_ERROR(half(v), (++contexts_built, "checking"));
  SLUICE_RETURN_IF_ERROR(Status());
  return Status();
}

TEST(StatusMacros, AFailureReturnsWithItsContextAndSuccessPassesTheValueOn) {
  int built = 0;
  Result<int> q = quarter(12, built);
  ASSERT_TRUE(q.ok());
  EXPECT_EQ(*q, 3);
  EXPECT_EQ(built, 0) << "no context is built on success";

  q = quarter(6, built);  // 6 halves to 3, odd: the second step fails, without context
  EXPECT_EQ(q.status(), Status::InvalidArgument("3 is odd"));
  EXPECT_EQ(built, 0);

  q = quarter(5, built);
  EXPECT_EQ(q.status(), Status::InvalidArgument("quartering 5: 5 is odd"));
  EXPECT_EQ(built, 1);

  EXPECT_TRUE(check_even(4, built).ok());
  EXPECT_EQ(built, 1);
  EXPECT_EQ(check_even(7, built), Status::InvalidArgument("checking: 7 is odd"));
  EXPECT_EQ(built, 2);
}

}  // namespace
}  // namespace sluice
