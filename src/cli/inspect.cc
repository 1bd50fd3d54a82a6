#include "inspect.h"

#include <algorithm>
#include <string>
#include <vector>

#include "log.h"
#include "sluice/parquet/reader.h"

namespace sluice::cli {
namespace {

using parquet::ColumnType;

std::string type_text(const parquet::Column& c) {
  std::string t(parquet::to_string(c.type));
  if (c.type == ColumnType::kTimestamp) {
    t += c.unit == parquet::TimeUnit::kMillis   ? "(ms, UTC)"
         : c.unit == parquet::TimeUnit::kMicros ? "(us, UTC)"
                                                : "(ns, UTC)";
  }
  return t;
}

std::string join(const std::vector<std::string>& v, const char* sep) {
  std::string out;
  for (const auto& s : v) out += (out.empty() ? "" : sep) + s;
  return out;
}

std::string clip(std::string s, std::size_t width) {
  if (s.size() > width) s = s.substr(0, width - 3) + "...";
  return s;
}

// Prints rows as a table whose columns are as wide as their widest cell (up to a cap).
void print_table(std::FILE* out, const std::vector<std::vector<std::string>>& table) {
  constexpr std::size_t kMaxWidth = 32;
  std::vector<std::size_t> width(table.empty() ? 0 : table[0].size(), 0);
  for (const auto& row : table) {
    for (std::size_t i = 0; i < row.size(); ++i) width[i] = std::max(width[i], std::min(kMaxWidth, row[i].size()));
  }
  for (const auto& row : table) {
    std::string line = " ";
    for (std::size_t i = 0; i < row.size(); ++i) {
      std::string cell = clip(row[i], kMaxWidth);
      line += " " + cell + std::string(width[i] - cell.size(), ' ');
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    std::fprintf(out, "%s\n", line.c_str());
  }
}

}  // namespace

void add_inspect_options(CLI::App& cmd, InspectOptions& o) {
  cmd.add_option("file", o.path, "the Parquet file")->required();
  cmd.add_option("--rows", o.rows, "first rows to print")->check(CLI::Range(0, 1'000'000));
}

int run_inspect(const InspectOptions& o, std::FILE* out) {
  const std::string& path = o.path;
  const std::size_t rows = o.rows;
  auto reader = parquet::ParquetReader::open(path);
  if (!reader.ok()) {
    log_error(reader.status().message());
    return 1;
  }
  const parquet::FileInfo& info = (*reader)->info();
  std::fprintf(out, "file: %s (%llu bytes)\n", path.c_str(), static_cast<unsigned long long>(info.file_bytes));
  std::fprintf(out, "created by: %s\n", info.created_by.empty() ? "(not recorded)" : info.created_by.c_str());
  std::fprintf(out, "rows: %lld in %zu row group%s\n", static_cast<long long>(info.rows), info.row_groups.size(),
               info.row_groups.size() == 1 ? "" : "s");
  for (const auto& [k, v] : info.metadata) std::fprintf(out, "metadata: %s = %s\n", k.c_str(), clip(v, 200).c_str());

  std::fprintf(out, "\nschema:\n");
  std::vector<std::vector<std::string>> schema;
  for (const auto& c : info.columns) schema.push_back({c.name, type_text(c), c.nullable ? "optional" : "required"});
  print_table(out, schema);

  constexpr std::size_t kRowGroupsShown = 10;
  for (std::size_t g = 0; g < info.row_groups.size() && g < kRowGroupsShown; ++g) {
    const parquet::RowGroupInfo& rg = info.row_groups[g];
    long long compressed = 0, uncompressed = 0;
    for (const auto& c : rg.columns) compressed += c.compressed_bytes, uncompressed += c.uncompressed_bytes;
    std::fprintf(out, "\nrow group %zu: %lld rows, %lld bytes compressed, %lld uncompressed\n", g,
                 static_cast<long long>(rg.rows), compressed, uncompressed);
    std::vector<std::vector<std::string>> table = {
        {"column", "codec", "encodings", "compressed", "uncompressed", "nulls", "min", "max"}};
    for (const auto& c : rg.columns) {
      table.push_back({c.path, c.codec, join(c.encodings, ","), std::to_string(c.compressed_bytes),
                       std::to_string(c.uncompressed_bytes), c.null_count ? std::to_string(*c.null_count) : "-",
                       c.min.value_or("-"), c.max.value_or("-")});
    }
    print_table(out, table);
  }
  if (info.row_groups.size() > kRowGroupsShown) {
    std::fprintf(out, "\n(%zu more row groups)\n", info.row_groups.size() - kRowGroupsShown);
  }

  if (rows == 0) return 0;
  auto head = (*reader)->head(rows);
  if (!head.ok()) {
    log_error(head.status().message());
    return 1;
  }
  std::fprintf(out, "\nfirst %zu row%s:\n", head->size(), head->size() == 1 ? "" : "s");
  std::vector<std::vector<std::string>> table;
  table.emplace_back();
  for (const auto& c : info.columns) table.back().push_back(c.name);
  for (auto& r : *head) table.push_back(std::move(r));
  print_table(out, table);
  return 0;
}

}  // namespace sluice::cli
