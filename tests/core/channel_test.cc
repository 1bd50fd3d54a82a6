#include "sluice/channel.h"
#include <gtest/gtest.h>
TEST(ChannelCompile, Builds) { sluice::Channel<int> ch(2); int v = 1; EXPECT_EQ(ch.try_send(v), sluice::SendResult::kSent); }
