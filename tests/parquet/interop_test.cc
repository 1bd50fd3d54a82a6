// Files written by sluice, read back by independent readers, value by value.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>

#include "parquet_test_util.h"

namespace sluice::parquet {
namespace {

using testing::check_with;
using testing::expected_json;
using testing::ExpectedMeta;
using testing::scratch_dir;
using testing::write_file;

// Random values of every type, with the awkward ones mixed in: empty and
// multi-byte strings, NaN and infinities, -0.0, integer extremes, empty
// lists; every nullable column gets nulls.
class TableMaker {
 public:
  explicit TableMaker(unsigned seed) : rng_(seed) {}

  // How the columns' nulls are marked, as the ways callers build batches:
  // the row count known up front, a row at a time as a stream builds a
  // batch (push_validity), or values first and nulls marked afterwards in
  // any order, each time with the rows there are so far.
  enum class Nulls { kKnownRows, kRowAtATime, kMarkedLater };

  ColumnBatch make(const Schema& schema, std::size_t rows, double null_rate = 0.1, Nulls how = Nulls::kKnownRows) {
    ColumnBatch b;
    b.rows = rows;
    b.columns.resize(schema.size());
    for (std::size_t i = 0; i < schema.size(); ++i) {
      const Column& c = schema[i];
      ColumnData& d = b.columns[i];
      std::vector<std::size_t> later;
      for (std::size_t r = 0; r < rows; ++r) {
        bool null = c.nullable && chance(null_rate);
        switch (how) {
          case Nulls::kKnownRows:
            if (null) d.set_null(r, rows);
            break;
          case Nulls::kRowAtATime:
            d.push_validity(r, !null);
            break;
          case Nulls::kMarkedLater:
            if (null) later.push_back(r);
            break;
        }
        add(c.type, d, null);
        if (how == Nulls::kMarkedLater && chance(0.3)) mark_some(d, later, r + 1);
      }
      mark_some(d, later, rows);
      for (std::size_t r : later) d.set_null(r, rows);
      if (!d.valid.empty()) d.valid.resize(rows, 1);  // rows after the last one marked hold values
    }
    return b;
  }

 private:
  // Marks a random part of the rows in `pending` null, in random order;
  // `rows`: the rows the column has now.
  void mark_some(ColumnData& d, std::vector<std::size_t>& pending, std::size_t rows) {
    std::shuffle(pending.begin(), pending.end(), rng_);
    const auto n = static_cast<std::size_t>(pick(0, static_cast<std::int64_t>(pending.size())));
    for (std::size_t k = 0; k < n; ++k) d.set_null(pending[k], rows);
    pending.erase(pending.begin(), pending.begin() + static_cast<std::ptrdiff_t>(n));
  }

  bool chance(double p) { return std::uniform_real_distribution<double>(0, 1)(rng_) < p; }
  std::int64_t pick(std::int64_t lo, std::int64_t hi) {
    return std::uniform_int_distribution<std::int64_t>(lo, hi)(rng_);
  }

  double some_double() {
    switch (pick(0, 12)) {
      case 0:
        return std::numeric_limits<double>::quiet_NaN();
      case 1:
        return std::numeric_limits<double>::infinity();
      case 2:
        return -std::numeric_limits<double>::infinity();
      case 3:
        return -0.0;
      case 4:
        return std::numeric_limits<double>::max();
      case 5:
        return std::numeric_limits<double>::denorm_min();
      default:
        return std::uniform_real_distribution<double>(-1e6, 1e6)(rng_);
    }
  }
  std::int64_t some_int64() {
    switch (pick(0, 10)) {
      case 0:
        return std::numeric_limits<std::int64_t>::min();
      case 1:
        return std::numeric_limits<std::int64_t>::max();
      case 2:
        return 0;
      default:
        return pick(-1'000'000'000'000, 1'000'000'000'000);
    }
  }
  std::string some_string() {
    static const char* const kWords[] = {"",  "a",      "Z",        "r7",           "segment-12",
                                         "é", "日本語", "emoji 🚀", "tab\tquote\"", "line\nbreak"};
    if (chance(0.05)) return std::string(static_cast<std::size_t>(pick(1000, 5000)), 'x');  // long
    if (chance(0.3)) return "id-" + std::to_string(pick(0, 1'000'000));                     // high cardinality
    return kWords[pick(0, 9)];
  }

  void add(ColumnType t, ColumnData& d, bool null) {
    switch (t) {
      case ColumnType::kBool:
        d.b.push_back(null ? 0 : static_cast<std::uint8_t>(pick(0, 1)));
        return;
      case ColumnType::kInt32: {
        std::int32_t v = pick(0, 9) == 0 ? std::numeric_limits<std::int32_t>::min()
                                         : static_cast<std::int32_t>(pick(-100000, 100000));
        d.i32.push_back(null ? 0 : v);
        return;
      }
      case ColumnType::kDate:
        d.i32.push_back(null ? 0 : static_cast<std::int32_t>(pick(-10000, 40000)));
        return;
      case ColumnType::kInt64:
        d.i64.push_back(null ? 0 : some_int64());
        return;
      case ColumnType::kTimestamp:
        d.i64.push_back(null ? 0 : pick(0, 4'000'000'000'000) * 1000 + pick(0, 999));
        return;
      case ColumnType::kFloat:
        d.f32.push_back(null ? 0.0f : static_cast<float>(some_double()));
        return;
      case ColumnType::kDouble:
        d.f64.push_back(null ? 0.0 : some_double());
        return;
      case ColumnType::kString:
        d.append_string(null ? "" : some_string());
        return;
      case ColumnType::kListDouble:
      case ColumnType::kListInt64: {
        std::size_t n = null ? 0 : static_cast<std::size_t>(pick(0, 6));
        for (std::size_t k = 0; k < n; ++k) {
          if (t == ColumnType::kListDouble) {
            d.f64.push_back(some_double());
          } else {
            d.i64.push_back(some_int64());
          }
        }
        d.end_list(t == ColumnType::kListDouble ? d.f64.size() : d.i64.size());
        return;
      }
    }
  }

  std::mt19937_64 rng_;
};

Schema all_types(bool nullable) {
  std::vector<Column> cols = {
      {.name = "b", .type = ColumnType::kBool},
      {.name = "i32", .type = ColumnType::kInt32},
      {.name = "i64", .type = ColumnType::kInt64},
      {.name = "f32", .type = ColumnType::kFloat},
      {.name = "f64", .type = ColumnType::kDouble},
      {.name = "s", .type = ColumnType::kString},
      {.name = "ts_ms", .type = ColumnType::kTimestamp, .unit = TimeUnit::kMillis},
      {.name = "ts_us", .type = ColumnType::kTimestamp, .unit = TimeUnit::kMicros},
      {.name = "ts_ns", .type = ColumnType::kTimestamp, .unit = TimeUnit::kNanos},
      {.name = "d", .type = ColumnType::kDate},
      {.name = "ld", .type = ColumnType::kListDouble},
      {.name = "li", .type = ColumnType::kListInt64},
  };
  for (Column& c : cols) c.nullable = nullable;
  return *Schema::make(std::move(cols));
}

struct Case {
  Compression compression;
  const char* reader;
};

void PrintTo(const Case& c, std::ostream* os) { *os << to_string(c.compression) << " read by " << c.reader; }

class EveryTypeAndCodec : public ::testing::TestWithParam<Case> {};

TEST_P(EveryTypeAndCodec, ReadsBackEveryValueWritten) {
  const Case c = GetParam();
  std::string dir = scratch_dir(std::string("codec-") + std::string(to_string(c.compression)) + "-" + c.reader);
  for (bool nullable : {false, true}) {
    Schema schema = all_types(nullable);
    TableMaker maker(nullable ? 7 : 3);
    // Two batches over three row groups, pages of about 2 KiB: many pages.
    std::vector<ColumnBatch> batches = {maker.make(schema, 700), maker.make(schema, 500)};
    std::string path = dir + (nullable ? "/nullable.parquet" : "/required.parquet");
    FileSummary s =
        write_file(path, schema, batches, {.compression = c.compression, .row_group_rows = 500, .page_bytes = 2048});
    EXPECT_EQ(s.rows, 1200u);
    EXPECT_EQ(s.row_groups, 3u);
    auto r = check_with(c.reader, path, expected_json(schema, batches));
    EXPECT_EQ(r.exit_code, 0) << r.output;
    EXPECT_EQ(r.output, "ok 1200 rows\n");
  }
}

std::vector<Case> all_cases() {
  std::vector<Case> v;
  for (Compression comp :
       {Compression::kNone, Compression::kSnappy, Compression::kGzip, Compression::kZstd, Compression::kLz4Raw}) {
    for (const char* reader : {"duckdb", "hyparquet", "parquet-wasm"}) v.push_back({comp, reader});
  }
  return v;
}

INSTANTIATE_TEST_SUITE_P(Readers, EveryTypeAndCodec, ::testing::ValuesIn(all_cases()),
                         [](const ::testing::TestParamInfo<Case>& info) {
                           std::string n = std::string(to_string(info.param.compression)) + "_" + info.param.reader;
                           for (char& ch : n) {
                             if (ch == '-') ch = '_';
                           }
                           return n;
                         });

TEST(ParquetInterop, DuckdbAgreesOnStatisticsEncodingsAndCodec) {
  std::string dir = scratch_dir("stats");
  Schema schema = *Schema::make({{.name = "id", .type = ColumnType::kInt64},
                                 {.name = "kind", .type = ColumnType::kString, .nullable = true},
                                 {.name = "v", .type = ColumnType::kDouble, .nullable = true},
                                 {.name = "n", .type = ColumnType::kInt32}});
  ColumnBatch b;
  b.rows = 8;
  b.columns.resize(4);
  b.columns[0].i64 = {10, -5, 7, 99, 1000, 2000, 3000, 4000};
  for (const char* s : {"b", "a", "Z", "é", "", "a", "b", "b"}) b.columns[1].append_string(s);  // row 4: null
  b.columns[1].set_null(4, 8);
  b.columns[2].f64 = {std::nan(""), 0.0, 2.5, -0.0, 1.0, std::nan(""), -7.25, 3.5};
  b.columns[2].set_null(2, 8);
  b.columns[3].i32 = {1, 1, 1, 1, 2, 2, 2, 2};
  std::string path = dir + "/stats.parquet";
  write_file(path, schema, {b}, {.compression = Compression::kZstd, .row_group_rows = 4});
  std::vector<ExpectedMeta> meta = {
      // Row group 0: rows 0-3.
      {.row_group = 0, .column = "id", .null_count = 0, .min_json = "-5", .max_json = "99", .compression = "ZSTD"},
      // Strings order by unsigned bytes: "Z" < "a" < "b" < "é" (0xC3 0xA9).
      {.row_group = 0, .column = "kind", .null_count = 0, .min_json = "\"Z\"", .max_json = "\"é\""},
      // NaN is left out; the zero min is -0.0 and the zero max +0.0.
      {.row_group = 0, .column = "v", .null_count = 1, .min_json = "-0.0", .max_json = "0.0"},
      {.row_group = 0, .column = "n", .null_count = 0, .min_json = "1", .max_json = "1"},
      {.row_group = 1,
       .column = "id",
       .null_count = 0,
       .min_json = "1000",
       .max_json = "4000",
       .no_encoding = "RLE_DICTIONARY"},
      {.row_group = 1, .column = "kind", .null_count = 1, .min_json = "\"a\"", .max_json = "\"b\""},
      {.row_group = 1, .column = "v", .null_count = 0, .min_json = "-7.25", .max_json = "3.5"},
  };
  auto r = check_with("duckdb", path, expected_json(schema, {b}, meta));
  EXPECT_EQ(r.exit_code, 0) << r.output;
}

TEST(ParquetInterop, AllNullAndEmptyColumnsHaveNoMinMax) {
  std::string dir = scratch_dir("all-null");
  Schema schema = *Schema::make({{.name = "v", .type = ColumnType::kDouble, .nullable = true},
                                 {.name = "s", .type = ColumnType::kString, .nullable = true}});
  ColumnBatch b;
  b.rows = 3;
  b.columns.resize(2);
  b.columns[0].f64 = {0, 0, 0};
  b.columns[0].valid = {0, 0, 0};
  b.columns[1].offsets = {0, 0, 0, 0};
  b.columns[1].valid = {0, 0, 0};
  std::string path = dir + "/nulls.parquet";
  write_file(path, schema, {b});
  std::vector<ExpectedMeta> meta = {{.column = "v", .null_count = 3, .min_json = "null", .max_json = "null"},
                                    {.column = "s", .null_count = 3, .min_json = "null", .max_json = "null"}};
  auto r = check_with("duckdb", path, expected_json(schema, {b}, meta));
  EXPECT_EQ(r.exit_code, 0) << r.output;
}

TEST(ParquetInterop, DictionaryCanBeTurnedOffAndFallsBackPastItsLimit) {
  std::string dir = scratch_dir("dict");
  Schema schema =
      *Schema::make({{.name = "low", .type = ColumnType::kString}, {.name = "high", .type = ColumnType::kString}});
  ColumnBatch b;
  b.rows = 5000;
  b.columns.resize(2);
  for (int i = 0; i < 5000; ++i) {
    b.columns[0].append_string("r" + std::to_string(i % 16));
    b.columns[1].append_string("unique-value-" + std::to_string(i * 7919));
  }
  std::string small_dict = dir + "/small_dict.parquet";
  write_file(small_dict, schema, {b}, {.dictionary_bytes = 4096});
  auto r = check_with("duckdb", small_dict,
                      expected_json(schema, {b},
                                    {{.column = "low", .encoding = "RLE_DICTIONARY"},
                                     {.column = "high", .no_encoding = "RLE_DICTIONARY"}}));
  EXPECT_EQ(r.exit_code, 0) << r.output;
  std::string no_dict = dir + "/no_dict.parquet";
  write_file(no_dict, schema, {b}, {.dictionary = false});
  r = check_with("duckdb", no_dict, expected_json(schema, {b}, {{.column = "low", .no_encoding = "RLE_DICTIONARY"}}));
  EXPECT_EQ(r.exit_code, 0) << r.output;
}

TEST(ParquetInterop, ACodecSetOnOneColumnOverridesTheFilesCodec) {
  std::string dir = scratch_dir("per-column-codec");
  Schema schema = *Schema::make({{.name = "a", .type = ColumnType::kInt64},
                                 {.name = "b", .type = ColumnType::kString, .compression = Compression::kSnappy},
                                 {.name = "c", .type = ColumnType::kDouble, .compression = Compression::kNone}});
  ColumnBatch b = TableMaker(5).make(schema, 300);
  std::string path = dir + "/mixed.parquet";
  write_file(path, schema, {b}, {.compression = Compression::kZstd});
  auto r = check_with("duckdb", path,
                      expected_json(schema, {b},
                                    {{.column = "a", .compression = "ZSTD"},
                                     {.column = "b", .compression = "SNAPPY"},
                                     {.column = "c", .compression = "UNCOMPRESSED"}}));
  EXPECT_EQ(r.exit_code, 0) << r.output;
}

TEST(ParquetInterop, RandomSchemasAndDataRoundTripThroughDuckdb) {
  std::string dir = scratch_dir("random");
  const ColumnType kTypes[] = {
      ColumnType::kBool,   ColumnType::kInt32,     ColumnType::kInt64, ColumnType::kFloat,      ColumnType::kDouble,
      ColumnType::kString, ColumnType::kTimestamp, ColumnType::kDate,  ColumnType::kListDouble, ColumnType::kListInt64};
  for (unsigned seed = 1; seed <= 12; ++seed) {
    std::mt19937 rng(seed);
    auto pick = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
    std::vector<Column> cols;
    int n = pick(1, 8);
    for (int i = 0; i < n; ++i) {
      cols.push_back({.name = "c" + std::to_string(i),
                      .type = kTypes[pick(0, 9)],
                      .nullable = pick(0, 1) == 1,
                      .unit = static_cast<TimeUnit>(pick(0, 2))});
    }
    Schema schema = *Schema::make(cols);
    TableMaker maker(seed);
    // Zero rows, a single row, or many; a column of nulls only now and then.
    std::size_t rows = seed == 1 ? 0 : seed == 2 ? 1 : static_cast<std::size_t>(pick(2, 3000));
    std::vector<ColumnBatch> batches = {maker.make(schema, rows, seed == 3 ? 1.0 : 0.2)};
    WriterOptions opt{.compression = static_cast<Compression>(pick(0, 4)),
                      .row_group_rows = static_cast<std::uint64_t>(pick(1, 2000)),
                      .page_bytes = static_cast<std::uint64_t>(pick(64, 8192)),
                      .dictionary = pick(0, 3) != 0};
    std::string path = dir + "/seed" + std::to_string(seed) + ".parquet";
    write_file(path, schema, batches, opt);
    auto r = check_with("duckdb", path, expected_json(schema, batches));
    EXPECT_EQ(r.exit_code, 0) << "seed " << seed << ": " << r.output;
  }
}

// Nulls marked the ways callers mark them (a row at a time with the rows
// unknown, or afterwards in any order), in every type, in batches and row
// groups of many sizes, several batches a file: DuckDB reads back exactly
// the values and nulls written. (Marking a second null a row at a time once
// wrote past the end of `valid`.) Run under ASan by CI, so an overrun fails
// here even when the bytes happen to read back.
TEST(ParquetInterop, NullsMarkedRowByRowOrLaterRoundTripThroughDuckdb) {
  std::string dir = scratch_dir("nulls");
  const ColumnType kTypes[] = {
      ColumnType::kBool,   ColumnType::kInt32,     ColumnType::kInt64, ColumnType::kFloat,      ColumnType::kDouble,
      ColumnType::kString, ColumnType::kTimestamp, ColumnType::kDate,  ColumnType::kListDouble, ColumnType::kListInt64};
  for (unsigned seed = 1; seed <= 16; ++seed) {
    std::mt19937 rng(seed * 7919);
    auto pick = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
    std::vector<Column> cols;
    const int n = pick(1, 12);
    for (int i = 0; i < n; ++i) {
      // Every type nullable in turn; a required column now and then.
      cols.push_back({.name = "c" + std::to_string(i),
                      .type = kTypes[(seed + static_cast<unsigned>(i)) % 10],
                      .nullable = pick(0, 4) != 0,
                      .unit = static_cast<TimeUnit>(pick(0, 2))});
    }
    Schema schema = *Schema::make(cols);
    TableMaker maker(seed);
    const auto how = static_cast<TableMaker::Nulls>(seed % 3);
    // Null rates from none to all, batches from one row to thousands.
    const double rates[] = {0.0, 0.01, 0.2, 0.5, 0.9, 1.0};
    std::vector<ColumnBatch> batches;
    std::size_t rows = 0;
    for (int k = pick(1, 4); k > 0; --k) {
      const auto size = static_cast<std::size_t>(pick(0, 3) == 0 ? pick(1, 3) : pick(4, 2500));
      batches.push_back(maker.make(schema, size, rates[pick(0, 5)], how));
      rows += size;
    }
    WriterOptions opt{.compression = static_cast<Compression>(pick(0, 4)),
                      .row_group_rows = static_cast<std::uint64_t>(pick(1, 3000)),
                      .page_bytes = static_cast<std::uint64_t>(pick(64, 8192)),
                      .dictionary = pick(0, 3) != 0};
    std::string path = dir + "/seed" + std::to_string(seed) + ".parquet";
    FileSummary s = write_file(path, schema, batches, opt);
    EXPECT_EQ(s.rows, rows) << "seed " << seed;
    auto r = check_with("duckdb", path, expected_json(schema, batches));
    EXPECT_EQ(r.exit_code, 0) << "seed " << seed << ": " << r.output;
    EXPECT_EQ(r.output, "ok " + std::to_string(rows) + " rows\n") << "seed " << seed;
  }
}

}  // namespace
}  // namespace sluice::parquet
