#include "sluice/runtime.h"

#include <gtest/gtest.h>

#include <boost/asio/as_tuple.hpp>
#include <cstdlib>

namespace sluice {
namespace {

// Sets an environment variable for one test and restores it after.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const char* value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
    if (value) {
      setenv(name, value, 1);
    } else {
      unsetenv(name);
    }
  }
  ~ScopedEnv() {
    if (old_) {
      setenv(name_, old_->c_str(), 1);
    } else {
      unsetenv(name_);
    }
  }

 private:
  const char* name_;
  std::optional<std::string> old_;
};

TEST(Runtime, DefaultCpuThreadsAreCoresMinusIoThreadsAtLeastOne) {
  ScopedEnv env("SLUICE_CPU_THREADS", nullptr);
  Result<RuntimeOptions> r = Runtime::resolve({.io_threads = 1});
  ASSERT_TRUE(r.ok());
  int cores = static_cast<int>(std::thread::hardware_concurrency());
  EXPECT_EQ(r->cpu_threads, std::max(1, cores - 1));
  Result<RuntimeOptions> many_io = Runtime::resolve({.io_threads = 64});
  ASSERT_TRUE(many_io.ok());
  EXPECT_EQ(many_io->cpu_threads, 1);
}

TEST(Runtime, EnvironmentSetsCpuThreadsWhenNotGiven) {
  ScopedEnv env("SLUICE_CPU_THREADS", "3");
  EXPECT_EQ(Runtime::resolve({})->cpu_threads, 3);
  EXPECT_EQ(Runtime::resolve({.cpu_threads = 2})->cpu_threads, 2);
}

TEST(Runtime, BadEnvironmentValueIsAClearError) {
  ScopedEnv env("SLUICE_CPU_THREADS", "four");
  Result<RuntimeOptions> r = Runtime::resolve({});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(r.status().message().find("SLUICE_CPU_THREADS"), std::string::npos) << r.status().message();
  EXPECT_NE(r.status().message().find("'four'"), std::string::npos) << r.status().message();
  EXPECT_THROW(Runtime rt({}), std::invalid_argument);
}

TEST(Runtime, BadOptionsAreRejected) {
  EXPECT_FALSE(Runtime::resolve({.io_threads = 0}).ok());
  EXPECT_FALSE(Runtime::resolve({.cpu_threads = -1}).ok());
}

TEST(Runtime, RunOnCpuRunsOnAPoolThreadAndResumesOnTheLoop) {
  Runtime rt({.io_threads = 1, .cpu_threads = 2});
  auto io_ids = rt.io_thread_ids();
  ASSERT_EQ(io_ids.size(), 1u);
  auto [cpu_id, resumed_id] =
      rt.block_on([](Runtime& rt) -> boost::asio::awaitable<std::pair<std::thread::id, std::thread::id>> {
        auto [error, id] = co_await rt.run_on_cpu([] { return std::this_thread::get_id(); },
                                                  boost::asio::as_tuple(boost::asio::deferred));
        EXPECT_FALSE(error);
        co_return std::pair{*id, std::this_thread::get_id()};
      }(rt));
  EXPECT_NE(cpu_id, io_ids[0]);
  EXPECT_NE(cpu_id, std::this_thread::get_id());
  EXPECT_EQ(resumed_id, io_ids[0]);
}

TEST(Runtime, RunOnCpuReportsAnException) {
  Runtime rt({.io_threads = 1, .cpu_threads = 1});
  auto [error, value] =
      rt.block_on([](Runtime& rt) -> boost::asio::awaitable<std::tuple<std::exception_ptr, std::optional<int>>> {
        co_return co_await rt.run_on_cpu([]() -> int { throw std::runtime_error("boom"); },
                                         boost::asio::as_tuple(boost::asio::deferred));
      }(rt));
  ASSERT_TRUE(error);
  EXPECT_FALSE(value.has_value());
  EXPECT_THROW(std::rethrow_exception(error), std::runtime_error);
}

}  // namespace
}  // namespace sluice
