#include "parquet_test_util.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>

namespace sluice::parquet::testing {
namespace {

// The expected side of the interop tests: written here, apart from
// sluice's own JSON writer (sluice/detail/json.h), on purpose, so that a
// fault in that one cannot make the two sides agree.
void json_string(std::string_view s, std::string& out) {
  out.push_back('"');
  for (unsigned char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (c < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          out += buf;
        } else {
          out.push_back(static_cast<char>(c));
        }
    }
  }
  out.push_back('"');
}

std::string canon_double(double d) {
  if (std::isnan(d)) return "\"d:nan\"";
  std::uint64_t bits;
  std::memcpy(&bits, &d, 8);
  char buf[32];
  std::snprintf(buf, sizeof buf, "\"d:%016llx\"", static_cast<unsigned long long>(bits));
  return buf;
}

std::string canon_int(long long v) { return "\"" + std::to_string(v) + "\""; }

std::string type_name(const Column& c) { return std::string(to_string(c.type)); }

std::string unit_name(TimeUnit u) { return u == TimeUnit::kMillis ? "ms" : u == TimeUnit::kMicros ? "us" : "ns"; }

void append_value(const Column& c, const ColumnData& d, std::size_t r, std::string& out) {
  if (!d.is_valid(r)) {
    out += "null";
    return;
  }
  switch (c.type) {
    case ColumnType::kBool:
      out += d.b[r] ? "\"b:1\"" : "\"b:0\"";
      return;
    case ColumnType::kInt32:
    case ColumnType::kDate:
      out += canon_int(d.i32[r]);
      return;
    case ColumnType::kInt64:
    case ColumnType::kTimestamp:
      out += canon_int(d.i64[r]);
      return;
    case ColumnType::kFloat:
      out += canon_double(static_cast<double>(d.f32[r]));
      return;
    case ColumnType::kDouble:
      out += canon_double(d.f64[r]);
      return;
    case ColumnType::kString:
      json_string("s:" + d.bytes.substr(d.offsets[r], d.offsets[r + 1] - d.offsets[r]), out);
      return;
    case ColumnType::kListDouble:
    case ColumnType::kListInt64: {
      out.push_back('[');
      for (std::uint32_t k = d.offsets[r]; k < d.offsets[r + 1]; ++k) {
        if (k != d.offsets[r]) out.push_back(',');
        out += c.type == ColumnType::kListDouble ? canon_double(d.f64[k]) : canon_int(d.i64[k]);
      }
      out.push_back(']');
      return;
    }
  }
}

}  // namespace

std::string expected_json(const Schema& schema, const std::vector<ColumnBatch>& batches,
                          const std::vector<ExpectedMeta>& meta) {
  std::string out = "{\"columns\":[";
  for (std::size_t i = 0; i < schema.size(); ++i) {
    if (i) out.push_back(',');
    out += "{\"name\":";
    json_string(schema[i].name, out);
    out += ",\"type\":\"" + type_name(schema[i]) + "\",\"unit\":\"" + unit_name(schema[i].unit) + "\"}";
  }
  out += "],\"rows\":[";
  bool first = true;
  for (const ColumnBatch& b : batches) {
    for (std::size_t r = 0; r < b.rows; ++r) {
      out += first ? "[" : ",[";
      first = false;
      for (std::size_t i = 0; i < schema.size(); ++i) {
        if (i) out.push_back(',');
        append_value(schema[i], b.columns[i], r, out);
      }
      out.push_back(']');
    }
  }
  out += "]";
  if (!meta.empty()) {
    out += ",\"meta\":[";
    for (std::size_t k = 0; k < meta.size(); ++k) {
      const ExpectedMeta& m = meta[k];
      if (k) out.push_back(',');
      out += "{\"row_group\":" + std::to_string(m.row_group) + ",\"column\":";
      json_string(m.column, out);
      out += ",\"null_count\":" + std::to_string(m.null_count);
      if (!m.min_json.empty()) out += ",\"min\":" + m.min_json;
      if (!m.max_json.empty()) out += ",\"max\":" + m.max_json;
      if (!m.encoding.empty()) out += ",\"encoding\":\"" + m.encoding + "\"";
      if (!m.no_encoding.empty()) out += ",\"no_encoding\":\"" + m.no_encoding + "\"";
      if (!m.compression.empty()) out += ",\"compression\":\"" + m.compression + "\"";
      out += "}";
    }
    out += "]";
  }
  out += "}";
  return out;
}

CheckResult check_with(const std::string& reader, const std::string& parquet_path, const std::string& expected) {
  std::string expected_path = parquet_path + "." + reader + ".expected.json";
  std::ofstream(expected_path) << expected;
  std::string cmd = "cd '" SLUICE_INTEROP_DIR "' && node check_parquet.mjs '" + reader + "' '" + parquet_path + "' '" +
                    expected_path + "' 2>&1";
  CheckResult r;
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) return r;
  char buf[4096];
  while (std::size_t n = std::fread(buf, 1, sizeof buf, p)) r.output.append(buf, n);
  int status = pclose(p);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

FileSummary write_file(const std::string& path, const Schema& schema, const std::vector<ColumnBatch>& batches,
                       WriterOptions options) {
  auto stream = open_local_file(path);
  EXPECT_TRUE(stream.ok()) << stream.status().to_string();
  if (!stream.ok()) return {};
  auto writer = ParquetWriter::open(schema, std::move(options), std::move(*stream));
  EXPECT_TRUE(writer.ok()) << writer.status().to_string();
  if (!writer.ok()) return {};
  for (const ColumnBatch& b : batches) {
    Status s = (*writer)->write(b);
    EXPECT_TRUE(s.ok()) << s.to_string();
  }
  auto summary = (*writer)->close();
  EXPECT_TRUE(summary.ok()) << summary.status().to_string();
  return summary.ok() ? *summary : FileSummary{};
}

std::string scratch_dir(const std::string& name) {
  std::string dir = ::testing::TempDir() + "/sluice-" + name;
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

}  // namespace sluice::parquet::testing
