#include "pipeline/run/columns.h"

#include <cctype>

#include "pipeline/run/lines.h"

namespace sluice::pipeline {
namespace {

std::string dead_line(const Plan& plan, const std::vector<std::string>& inputs, const Record& r) {
  std::string line = "{\"input\":" + json_quote(inputs[r.input] == "-" ? "<stdin>" : inputs[r.input]) +
                     ",\"line\":" + std::to_string(r.line) + ",\"key\":" + key_json(plan, r) +
                     ",\"step\":" + json_quote(r.dead_step);
  if (!r.dead_url.empty()) line += ",\"url\":" + json_quote(r.dead_url);
  line += ",\"error\":" + json_quote(r.dead_error) + "}\n";
  return line;
}

void append(parquet::ColumnData& col, Type type, const Value& v, std::size_t row) {
  col.push_validity(row, !v.is_null());
  switch (type) {
    case Type::kInt64:
      col.i64.push_back(v.is_null() ? 0 : v.as_int());
      break;
    case Type::kDouble:
      col.f64.push_back(v.is_null() ? 0.0 : v.as_double());
      break;
    case Type::kBool:
      col.b.push_back(v.is_null() ? 0 : v.as_bool());
      break;
    case Type::kString:
      col.append_string(v.is_null() ? std::string_view() : std::string_view(v.as_string()));
      break;
    case Type::kNull:
      break;
  }
}

// A partition directory's names are file names: one may not be longer
// than a file system holds (NAME_MAX, 255 bytes on Linux's), nor all of them
// together leave too little of S3's 1,024 bytes a key for the prefix and
// the file's name.
constexpr std::size_t kMaxPartitionName = 255;
constexpr std::size_t kMaxPartitionPath = 512;

}  // namespace

Result<std::string> partition_dir(const Plan& plan, const std::vector<Value>& row) {
  std::string dir;
  for (std::size_t c : plan.partition_columns) {
    const std::size_t begin = dir.size();
    dir += plan.output[c].name;
    dir += '=';
    const Value& v = row[c];
    if (v.is_null() || (v.type() == Type::kString && v.as_string().empty())) {  // as Hive writes both
      dir += "__HIVE_DEFAULT_PARTITION__";
    } else {
      static constexpr char kHex[] = "0123456789ABCDEF";
      for (unsigned char ch : value_text(v)) {  // what a path segment cannot hold, as %XX
        if (std::isalnum(ch) || ch == '-' || ch == '_' || ch == '.' || ch == ' ' || ch >= 0x80) {
          dir += static_cast<char>(ch);
        } else {
          dir += '%';
          dir += kHex[ch >> 4];
          dir += kHex[ch & 15];
        }
      }
    }
    if (dir.size() - begin > kMaxPartitionName) {
      return Status::InvalidArgument("partition_by '" + plan.output[c].name +
                                     "': the value makes a directory name of " + std::to_string(dir.size() - begin) +
                                     " bytes, more than a file system holds (" + std::to_string(kMaxPartitionName) +
                                     ")");
    }
    dir += '/';
  }
  if (dir.size() > kMaxPartitionPath) {
    return Status::InvalidArgument("partition_by: the values make a directory path of " + std::to_string(dir.size()) +
                                   " bytes, more than " + std::to_string(kMaxPartitionPath) +
                                   " (an S3 key holds 1,024 bytes with its prefix and file name)");
  }
  return dir;
}

Chunk to_columns(const Plan& plan, const std::vector<std::string>& inputs, std::vector<Record> batch) {
  Chunk out;
  for (Record& r : batch) {
    switch (r.outcome) {
      case Record::Outcome::kFiltered:
        ++out.filtered;
        out.settled.push_back(r.position);
        break;
      case Record::Outcome::kNotJoined:
        ++out.not_joined;
        out.settled.push_back(r.position);
        break;
      case Record::Outcome::kWritten: {
        Result<std::string> dir = partition_dir(plan, r.row);
        if (!dir.ok()) {  // evaluate() dead-letters such a row first; should one come, it goes the same way
          r.outcome = Record::Outcome::kDead;
          r.dead_step = "output";
          r.dead_error = dir.status().message();
          ++out.dead_count;
          out.dead.push_back(dead_line(plan, inputs, r));
          break;
        }
        Chunk::Part& part = out.parts[*dir];
        part.positions.push_back(r.position);
        parquet::ColumnBatch& b = part.batch;
        if (b.columns.empty()) b.columns.resize(plan.file_columns.size());
        for (std::size_t k = 0; k < plan.file_columns.size(); ++k) {
          const std::size_t c = plan.file_columns[k];
          append(b.columns[k], plan.output[c].type, r.row[c], b.rows);
        }
        ++b.rows;
        ++out.rows;
        break;
      }
      case Record::Outcome::kUnfinished:
        ++out.unfinished;
        break;
      case Record::Outcome::kPending:
      case Record::Outcome::kDead:
        ++out.dead_count;
        out.dead.push_back(dead_line(plan, inputs, r));
        break;
    }
  }
  return out;
}

}  // namespace sluice::pipeline
