// Every fuzz target's seed corpus, and every input that once made one fail
// (tests/fuzz/regressions/<target>/), run through the target in an ordinary
// test, in every build: a problem the fuzzer found stays fixed. The targets
// are compiled here under other names (see tests/CMakeLists.txt).
#include <gtest/gtest.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>

#define SLUICE_FUZZ_TARGET(name) extern "C" int name##_one(const std::uint8_t* data, std::size_t size);
SLUICE_FUZZ_TARGET(fuzz_pipeline_file)
SLUICE_FUZZ_TARGET(fuzz_expr)
SLUICE_FUZZ_TARGET(fuzz_csv)
SLUICE_FUZZ_TARGET(fuzz_jsonl)
SLUICE_FUZZ_TARGET(fuzz_json_extract)
SLUICE_FUZZ_TARGET(fuzz_http_response)
SLUICE_FUZZ_TARGET(fuzz_parquet_reader)
SLUICE_FUZZ_TARGET(fuzz_s3_xml)
SLUICE_FUZZ_TARGET(fuzz_features_request)
#undef SLUICE_FUZZ_TARGET

namespace {

namespace fs = std::filesystem;

struct Target {
  const char* name;
  int (*one)(const std::uint8_t*, std::size_t);
};

void PrintTo(const Target& t, std::ostream* os) { *os << t.name; }

class FuzzReplay : public ::testing::TestWithParam<Target> {};

TEST_P(FuzzReplay, EverySeedAndEveryInputThatOnceFailedRunsClean) {
  const Target t = GetParam();
  std::size_t ran = 0;
  for (const char* kind : {"corpus", "regressions"}) {
    const fs::path dir = fs::path(SLUICE_SOURCE_DIR) / "tests/fuzz" / kind / t.name;
    if (!fs::exists(dir)) continue;
    for (const auto& f : fs::directory_iterator(dir)) {
      std::ifstream in(f.path(), std::ios::binary);
      const std::string bytes((std::istreambuf_iterator<char>(in)), {});
      SCOPED_TRACE(f.path().string());
      EXPECT_EQ(t.one(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size()), 0);
      ++ran;
    }
  }
  EXPECT_GT(ran, 0u) << "no seed for " << t.name;
}

INSTANTIATE_TEST_SUITE_P(Targets, FuzzReplay,
                         ::testing::Values(Target{"fuzz_pipeline_file", fuzz_pipeline_file_one},
                                           Target{"fuzz_expr", fuzz_expr_one}, Target{"fuzz_csv", fuzz_csv_one},
                                           Target{"fuzz_jsonl", fuzz_jsonl_one},
                                           Target{"fuzz_json_extract", fuzz_json_extract_one},
                                           Target{"fuzz_http_response", fuzz_http_response_one},
                                           Target{"fuzz_parquet_reader", fuzz_parquet_reader_one},
                                           Target{"fuzz_s3_xml", fuzz_s3_xml_one},
                                           Target{"fuzz_features_request", fuzz_features_request_one}),
                         [](const ::testing::TestParamInfo<Target>& info) { return std::string(info.param.name); });

}  // namespace
