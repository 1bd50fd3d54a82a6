#include "sluice/parquet/reader.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstring>

#include "compression.h"
#include "encoding.h"
#include "thrift.h"

namespace sluice::parquet {

namespace {

constexpr std::size_t kMaxFooterBytes = 64 << 20;  // a larger footer is a corrupt one
// Pages are written a megabyte or so at a time; one that claims to decode
// to more than this, or to hold more values, is corrupt (not worth the
// memory it would take to find out).
constexpr std::int64_t kMaxPageBytes = std::int64_t{1} << 30;
constexpr std::uint64_t kMaxPageValues = std::uint64_t{1} << 26;

Status corrupt(const std::string& path, const std::string& what) { return Status::DataLoss(path + ": " + what); }

const char* codec_name(std::int64_t id) {
  static const char* const kNames[] = {"UNCOMPRESSED", "SNAPPY", "GZIP", "LZO", "BROTLI", "LZ4", "ZSTD", "LZ4_RAW"};
  return id >= 0 && id < 8 ? kNames[id] : "UNKNOWN";
}

std::optional<Compression> codec_of(std::int64_t id) {
  switch (id) {
    case 0:
      return Compression::kNone;
    case 1:
      return Compression::kSnappy;
    case 2:
      return Compression::kGzip;
    case 6:
      return Compression::kZstd;
    case 7:
      return Compression::kLz4Raw;
    default:
      return std::nullopt;
  }
}

std::string encoding_name(std::int64_t e) {
  switch (e) {
    case 0:
      return "PLAIN";
    case 2:
      return "PLAIN_DICTIONARY";
    case 3:
      return "RLE";
    case 4:
      return "BIT_PACKED";
    case 5:
      return "DELTA_BINARY_PACKED";
    case 6:
      return "DELTA_LENGTH_BYTE_ARRAY";
    case 7:
      return "DELTA_BYTE_ARRAY";
    case 8:
      return "RLE_DICTIONARY";
    case 9:
      return "BYTE_STREAM_SPLIT";
  }
  return "ENCODING_" + std::to_string(e);
}

template <class T>
T load(const char* p) {
  T v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

std::string render_double(double d) {
  char buf[64];
  auto r = std::to_chars(buf, buf + sizeof buf, d);
  return std::string(buf, r.ptr);
}

std::string render_date(std::int64_t days) {
  using namespace std::chrono;
  year_month_day ymd{sys_days{std::chrono::days{days}}};
  char buf[32];
  std::snprintf(buf, sizeof buf, "%04d-%02u-%02u", static_cast<int>(ymd.year()), static_cast<unsigned>(ymd.month()),
                static_cast<unsigned>(ymd.day()));
  return buf;
}

std::string render_timestamp(std::int64_t v, TimeUnit unit) {
  const std::int64_t per_second = unit == TimeUnit::kMillis   ? 1000
                                  : unit == TimeUnit::kMicros ? 1'000'000
                                                              : 1'000'000'000;
  std::int64_t seconds = v / per_second, frac = v % per_second;
  if (frac < 0) frac += per_second, --seconds;
  std::int64_t days = seconds / 86400, rest = seconds % 86400;
  if (rest < 0) rest += 86400, --days;
  char buf[64];
  int digits = unit == TimeUnit::kMillis ? 3 : unit == TimeUnit::kMicros ? 6 : 9;
  std::snprintf(buf, sizeof buf, "%sT%02lld:%02lld:%02lld.%0*lldZ", render_date(days).c_str(),
                static_cast<long long>(rest / 3600), static_cast<long long>(rest / 60 % 60),
                static_cast<long long>(rest % 60), digits, static_cast<long long>(frac));
  return buf;
}

std::string render_string(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') {
      out.push_back('\\');
      out.push_back(c);
    } else if (static_cast<unsigned char>(c) < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", static_cast<unsigned char>(c));
      out += buf;
    } else {
      out.push_back(c);
    }
  }
  return out + "\"";
}

// The element type of a list column, or the column's own type.
ColumnType value_type(ColumnType t) {
  if (t == ColumnType::kListDouble) return ColumnType::kDouble;
  if (t == ColumnType::kListInt64) return ColumnType::kInt64;
  return t;
}

// One value of PLAIN data at `pos` (advanced past it), rendered as text.
// Booleans are bit-packed: `index` is the value's ordinal in the page.
bool render_plain(const Column& c, std::string_view data, std::size_t& pos, std::size_t index, std::string& out) {
  ColumnType t = value_type(c.type);
  auto need = [&](std::size_t n) { return data.size() - pos >= n; };
  switch (t) {
    case ColumnType::kBool:
      if (index / 8 >= data.size()) return false;
      out = (static_cast<unsigned char>(data[index / 8]) >> (index % 8)) & 1 ? "true" : "false";
      return true;
    case ColumnType::kInt32:
    case ColumnType::kDate: {
      if (!need(4)) return false;
      auto v = load<std::int32_t>(data.data() + pos);
      pos += 4;
      out = t == ColumnType::kDate ? render_date(v) : std::to_string(v);
      return true;
    }
    case ColumnType::kInt64:
    case ColumnType::kTimestamp: {
      if (!need(8)) return false;
      auto v = load<std::int64_t>(data.data() + pos);
      pos += 8;
      out = t == ColumnType::kTimestamp ? render_timestamp(v, c.unit) : std::to_string(v);
      return true;
    }
    case ColumnType::kFloat:
      if (!need(4)) return false;
      out = render_double(load<float>(data.data() + pos));
      pos += 4;
      return true;
    case ColumnType::kDouble:
      if (!need(8)) return false;
      out = render_double(load<double>(data.data() + pos));
      pos += 8;
      return true;
    case ColumnType::kString: {
      if (!need(4)) return false;
      auto len = load<std::uint32_t>(data.data() + pos);
      pos += 4;
      if (!need(len)) return false;
      out = render_string(data.substr(pos, len));
      pos += len;
      return true;
    }
    default:
      return false;
  }
}

// A statistics value: PLAIN without the length prefix for strings.
std::string render_stat(const Column& c, const std::string& bytes) {
  if (value_type(c.type) == ColumnType::kString) return render_string(bytes);
  std::size_t pos = 0;
  std::string out;
  if (value_type(c.type) == ColumnType::kBool) return bytes.empty() ? "?" : (bytes[0] ? "true" : "false");
  return render_plain(c, bytes, pos, 0, out) ? out : "?";
}

// The sluice column a footer's schema elements describe, from index i on.
Result<Column> column_from_schema(const std::vector<thrift::Value>& el, std::size_t& i, const std::string& path) {
  const thrift::Value& e = el[i];
  Column c;
  c.name = e.field(4) ? e.field(4)->binary : "";
  std::int64_t repetition = e.get_int(3);
  if (repetition == 2)
    return corrupt(path, "column '" + c.name + "' is repeated outside a list, which sluice cannot read");
  c.nullable = repetition == 1;
  if (e.field(5)) {  // a group: only the standard three-level list
    const thrift::Value* lt = e.field(10);
    bool is_list = e.get_int(6, -1) == 3 || (lt && lt->field(3));
    if (!is_list || e.get_int(5) != 1 || i + 2 >= el.size() || el[i + 1].get_int(5, 0) != 1 || el[i + 2].field(5)) {
      return corrupt(path, "column '" + c.name + "' is a nested group other than a list of numbers");
    }
    std::int64_t leaf = el[i + 2].get_int(1, -1);
    if (leaf == 5) {
      c.type = ColumnType::kListDouble;
    } else if (leaf == 2) {
      c.type = ColumnType::kListInt64;
    } else {
      return corrupt(path, "list column '" + c.name + "' holds a type other than double or int64");
    }
    i += 3;
    return c;
  }
  const thrift::Value* logical = e.field(10);
  std::int64_t converted = e.get_int(6, -1);
  switch (e.get_int(1, -1)) {
    case 0:
      c.type = ColumnType::kBool;
      break;
    case 1:
      c.type = converted == 6 || (logical && logical->field(6)) ? ColumnType::kDate : ColumnType::kInt32;
      break;
    case 2: {
      const thrift::Value* ts = logical ? logical->field(8) : nullptr;
      if (ts || converted == 9 || converted == 10) {
        c.type = ColumnType::kTimestamp;
        const thrift::Value* unit = ts ? ts->field(2) : nullptr;
        if (unit) {
          c.unit = unit->field(1) ? TimeUnit::kMillis : unit->field(2) ? TimeUnit::kMicros : TimeUnit::kNanos;
        } else {
          c.unit = converted == 9 ? TimeUnit::kMillis : TimeUnit::kMicros;
        }
      } else {
        c.type = ColumnType::kInt64;
      }
      break;
    }
    case 4:
      c.type = ColumnType::kFloat;
      break;
    case 5:
      c.type = ColumnType::kDouble;
      break;
    case 6:
      c.type = ColumnType::kString;
      break;
    default:
      return corrupt(path, "column '" + c.name + "' has a physical type (" + std::to_string(e.get_int(1, -1)) +
                               ") that sluice cannot read");
  }
  ++i;
  return c;
}

}  // namespace

struct ParquetReader::Chunk {
  std::int64_t start = 0;
  std::int64_t bytes = 0;
  std::int64_t codec = 0;
};

ParquetReader::~ParquetReader() {
  if (fd_ >= 0) ::close(fd_);
}

Status ParquetReader::read_at(std::uint64_t offset, std::size_t n, std::string& out) const {
  // Offsets and sizes come from the file: check them before allocating.
  if (offset > info_.file_bytes || n > info_.file_bytes - offset) {
    return corrupt(path_, "bytes " + std::to_string(offset) + " to " + std::to_string(offset + n) +
                              " are past the end of the file (" + std::to_string(info_.file_bytes) + " bytes)");
  }
  out.resize(n);
  std::size_t done = 0;
  while (done < n) {
    ssize_t r = ::pread(fd_, out.data() + done, n - done, static_cast<off_t>(offset + done));
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) return Status::IoError(path_ + ": read failed: " + errno_text(errno));
    if (r == 0) return corrupt(path_, "the file ends before byte " + std::to_string(offset + n));
    done += static_cast<std::size_t>(r);
  }
  return Status();
}

Result<std::unique_ptr<ParquetReader>> ParquetReader::open(const std::string& path) {
  std::unique_ptr<ParquetReader> r(new ParquetReader());
  r->path_ = path;
  r->fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (r->fd_ < 0) {
    std::string m = path + ": " + errno_text(errno);
    return errno == ENOENT ? Status::NotFound(m) : Status::IoError(m);
  }
  struct stat st {};
  if (::fstat(r->fd_, &st) != 0) return Status::IoError(path + ": " + errno_text(errno));
  const auto size = static_cast<std::uint64_t>(st.st_size);
  r->info_.file_bytes = size;
  std::string tail;
  if (size < 12) return corrupt(path, "too short to be a Parquet file (" + std::to_string(size) + " bytes)");
  SLUICE_RETURN_IF_ERROR(r->read_at(size - 8, 8, tail));
  if (tail.substr(4) != "PAR1") return corrupt(path, "not a Parquet file (no PAR1 at its end)");
  auto footer_len = load<std::uint32_t>(tail.data());
  if (footer_len > size - 12 || footer_len > kMaxFooterBytes) {
    return corrupt(path, "the footer length " + std::to_string(footer_len) + " does not fit the file");
  }
  std::string footer;
  SLUICE_RETURN_IF_ERROR(r->read_at(size - 8 - footer_len, footer_len, footer));
  std::size_t used = 0;
  Result<thrift::Value> meta = thrift::read_struct(footer, used);
  if (!meta.ok()) return meta.status().with_context(path + ": footer");

  FileInfo& info = r->info_;
  info.rows = meta->get_int(3);
  if (const thrift::Value* cb = meta->field(6)) info.created_by = cb->binary;
  if (const thrift::Value* kv = meta->field(5)) {
    for (const auto& e : kv->list)
      info.metadata.emplace_back(e.field(1) ? e.field(1)->binary : "", e.field(2) ? e.field(2)->binary : "");
  }
  const thrift::Value* schema = meta->field(2);
  if (!schema || schema->list.empty()) return corrupt(path, "the footer has no schema");
  for (std::size_t i = 1; i < schema->list.size();) {
    Result<Column> c = column_from_schema(schema->list, i, path);
    if (!c.ok()) return c.status();
    info.columns.push_back(*c);
  }
  if (const thrift::Value* groups = meta->field(4)) {
    for (const thrift::Value& g : groups->list) {
      RowGroupInfo rg;
      rg.rows = g.get_int(3);
      std::vector<Chunk> chunks;
      const thrift::Value* cols = g.field(1);
      if (!cols || cols->list.size() != info.columns.size())
        return corrupt(path, "a row group's columns differ from the schema");
      for (std::size_t k = 0; k < cols->list.size(); ++k) {
        const thrift::Value* md = cols->list[k].field(3);
        if (!md) return corrupt(path, "a column chunk has no metadata");
        const Column& col = info.columns[k];
        ChunkInfo ci;
        if (const thrift::Value* p = md->field(3)) {
          for (const auto& part : p->list) ci.path += (ci.path.empty() ? "" : ".") + part.binary;
        }
        ci.codec = codec_name(md->get_int(4));
        if (const thrift::Value* enc = md->field(2)) {
          for (const auto& e : enc->list) ci.encodings.push_back(encoding_name(e.integer));
        }
        ci.num_values = md->get_int(5);
        ci.uncompressed_bytes = md->get_int(6);
        ci.compressed_bytes = md->get_int(7);
        if (const thrift::Value* st = md->field(12)) {
          if (st->field(3)) ci.null_count = st->get_int(3);
          if (const thrift::Value* mn = st->field(6)) ci.min = render_stat(col, mn->binary);
          if (const thrift::Value* mx = st->field(5)) ci.max = render_stat(col, mx->binary);
        }
        std::int64_t start = md->field(11) ? md->get_int(11) : md->get_int(9);
        if (start < 4 || ci.compressed_bytes < 0 || static_cast<std::uint64_t>(start + ci.compressed_bytes) > size) {
          return corrupt(path, "column chunk '" + ci.path + "' lies outside the file");
        }
        chunks.push_back({start, ci.compressed_bytes, md->get_int(4)});
        rg.columns.push_back(std::move(ci));
      }
      info.row_groups.push_back(std::move(rg));
      r->chunks_.push_back(std::move(chunks));
    }
  }
  return r;
}

Result<std::vector<std::vector<std::string>>> ParquetReader::head(std::size_t n) {
  std::vector<std::vector<std::string>> rows;
  for (std::size_t g = 0; g < chunks_.size() && rows.size() < n; ++g) {
    const std::size_t want = std::min<std::size_t>(n - rows.size(), static_cast<std::size_t>(info_.row_groups[g].rows));
    SLUICE_RETURN_IF_ERROR(render_group(g, want, rows));
  }
  return rows;
}

Result<std::vector<std::vector<std::string>>> ParquetReader::row_group(std::size_t g) {
  std::vector<std::vector<std::string>> rows;
  if (g >= chunks_.size()) return Status::InvalidArgument(path_ + ": no row group " + std::to_string(g));
  SLUICE_RETURN_IF_ERROR(render_group(g, static_cast<std::size_t>(info_.row_groups[g].rows), rows));
  return rows;
}

namespace {

// One column chunk as text, a page at a time, until `want` rows are made:
// its dictionary page kept for the data pages after it, a list column's
// values gathered into "[a, b]", a null as "null".
class ChunkRenderer {
 public:
  ChunkRenderer(const Column& c, std::string where, std::int64_t group_rows, std::size_t want)
      : c_(c),
        where_(std::move(where)),
        group_rows_(group_rows),
        want_(want),
        list_(c.type == ColumnType::kListDouble || c.type == ColumnType::kListInt64),
        max_rep_(list_ ? 1 : 0),
        max_def_(list_ ? (c.nullable ? 2 : 1) : (c.nullable ? 1 : 0)) {}

  Status render(std::string_view bytes, Compression codec) {
    std::size_t pos = 0;
    while (pos < bytes.size() && rows_.size() < want_) {
      std::size_t used = 0;
      Result<thrift::Value> header = thrift::read_struct(bytes.substr(pos), used);
      if (!header.ok()) return header.status().with_context(where_);
      pos += used;
      std::string page;
      SLUICE_RETURN_IF_ERROR(page_body(*header, bytes, pos, codec, page));
      const std::int64_t type = header->get_int(1);
      if (type == 2) {
        SLUICE_RETURN_IF_ERROR(dictionary_page(*header, page));
      } else {
        SLUICE_RETURN_IF_ERROR(data_page(*header, type, page));
      }
    }
    if (open_list_ && rows_.size() < want_) rows_.push_back(current_ + "]");
    if (rows_.size() < want_) return corrupt(where_, "the chunk holds fewer rows than its row group");
    rows_.resize(want_);
    return Status();
  }

  std::vector<std::string>& rows() { return rows_; }

 private:
  // The page after its header, at `pos` (moved past it), decompressed.
  Status page_body(const thrift::Value& header, std::string_view bytes, std::size_t& pos, Compression codec,
                   std::string& page) const {
    const std::int64_t compressed_size = header.get_int(3), uncompressed_size = header.get_int(2);
    if (compressed_size < 0 || static_cast<std::uint64_t>(compressed_size) > bytes.size() - pos) {
      return corrupt(where_, "a page runs past its column chunk");
    }
    if (uncompressed_size < 0 || uncompressed_size > kMaxPageBytes) {
      return corrupt(where_, "a page's size " + std::to_string(uncompressed_size) + " is out of range (at most " +
                                 std::to_string(kMaxPageBytes) + " bytes)");
    }
    const auto compressed = static_cast<std::size_t>(compressed_size);
    if (Status s = decompress(codec, bytes.substr(pos, compressed), static_cast<std::size_t>(uncompressed_size), page);
        !s.ok()) {
      return s.with_context(where_);
    }
    pos += compressed;
    return Status();
  }

  Status dictionary_page(const thrift::Value& header, const std::string& page) {
    const thrift::Value* dh = header.field(7);
    const std::int64_t count = dh ? dh->get_int(1) : 0;
    // Every value takes a byte at least: more than the page holds is corrupt.
    if (count < 0 || static_cast<std::uint64_t>(count) > page.size()) {
      return corrupt(where_, "the dictionary page claims " + std::to_string(count) + " values in " +
                                 std::to_string(page.size()) + " bytes");
    }
    dict_.resize(static_cast<std::size_t>(count));
    std::size_t p = 0;
    for (std::size_t i = 0; i < dict_.size(); ++i) {
      if (!render_plain(c_, page, p, i, dict_[i])) return corrupt(where_, "the dictionary page is truncated");
    }
    return Status();
  }

  // A flat column's page holds at most its row group's rows; any page, at
  // most kMaxPageValues values.
  Result<std::size_t> entries_of(const thrift::Value& dh) const {
    const std::int64_t claimed = dh.get_int(1);
    const std::uint64_t room = list_ || group_rows_ < 0
                                   ? kMaxPageValues
                                   : std::min<std::uint64_t>(kMaxPageValues, static_cast<std::uint64_t>(group_rows_));
    if (claimed < 0 || static_cast<std::uint64_t>(claimed) > room) {
      return corrupt(where_, "a page claims " + std::to_string(claimed) + " values, more than the " +
                                 std::to_string(room) +
                                 (list_ ? " a page may hold" : " its row group or a page may hold"));
    }
    return static_cast<std::size_t>(claimed);
  }

  // Repetition or definition levels at `p` (moved past them): RLE/bit-packed
  // with a 4-byte length; none when the column has no such level.
  Status levels(const std::string& page, std::size_t& p, int max_level, std::size_t entries,
                std::vector<std::uint32_t>& out) const {
    if (max_level == 0) {
      out.assign(entries, 0);
      return Status();
    }
    if (page.size() - p < 4) return corrupt(where_, "levels are truncated");
    const auto len = load<std::uint32_t>(page.data() + p);
    p += 4;
    if (len > page.size() - p) return corrupt(where_, "levels are truncated");
    Status s = decode_hybrid(std::string_view(page).substr(p, len), bit_width(static_cast<std::uint64_t>(max_level)),
                             entries, out);
    p += len;
    return s.ok() ? s : s.with_context(where_);
  }

  Status data_page(const thrift::Value& header, std::int64_t type, const std::string& page) {
    const thrift::Value* dh = header.field(5);
    if (type != 0 || !dh) return corrupt(where_, "page type " + std::to_string(type) + " is not supported");
    SLUICE_ASSIGN_OR_RETURN(const std::size_t entries, entries_of(*dh));
    std::size_t p = 0;
    std::vector<std::uint32_t> rep, def, indices;
    SLUICE_RETURN_IF_ERROR(levels(page, p, max_rep_, entries, rep));
    SLUICE_RETURN_IF_ERROR(levels(page, p, max_def_, entries, def));
    const auto present = static_cast<std::uint32_t>(max_def_);
    const auto values = static_cast<std::size_t>(std::count(def.begin(), def.end(), present));
    const std::int64_t encoding = dh->get_int(2);
    if (encoding == 8 || encoding == 2) {
      if (p >= page.size()) return corrupt(where_, "dictionary indices are missing");
      const int width = static_cast<unsigned char>(page[p++]);
      if (Status s = decode_hybrid(std::string_view(page).substr(p), width, values, indices); !s.ok())
        return s.with_context(where_);
    } else if (encoding != 0) {
      return corrupt(where_, "encoding " + encoding_name(encoding) + " is not supported");
    }
    std::size_t vi = 0;
    for (std::size_t e = 0; e < entries; ++e) {
      std::string v;
      if (def[e] == present) {
        if (encoding != 0) {
          if (indices[vi] >= dict_.size()) return corrupt(where_, "a dictionary index is out of range");
          v = dict_[indices[vi]];
        } else if (!render_plain(c_, page, p, vi, v)) {
          return corrupt(where_, "the values are truncated");
        }
        ++vi;
      }
      if (!add(rep[e], def[e], std::move(v))) break;
    }
    return Status();
  }

  // One entry: a row of a flat column; of a list column, a row begins at
  // repetition level 0. False once `want_` rows are made.
  bool add(std::uint32_t rep, std::uint32_t def, std::string v) {
    const bool present = def == static_cast<std::uint32_t>(max_def_);
    if (!list_) {
      rows_.push_back(present ? std::move(v) : "null");
      return true;
    }
    if (rep == 0) {
      if (open_list_) rows_.push_back(current_ + "]");
      open_list_ = false;
      if (rows_.size() >= want_) return false;
      if (c_.nullable && def == 0) {
        rows_.push_back("null");
        return true;
      }
      current_ = "[";
      open_list_ = true;
    }
    if (present) current_ += (current_.size() > 1 ? ", " : "") + v;
    return true;
  }

  const Column& c_;
  const std::string where_;
  const std::int64_t group_rows_;
  const std::size_t want_;
  const bool list_;
  const int max_rep_, max_def_;
  std::vector<std::string> dict_;
  std::vector<std::string> rows_;
  std::string current_;  // the list being assembled
  bool open_list_ = false;
};

}  // namespace

Status ParquetReader::render_group(std::size_t g, std::size_t want, std::vector<std::vector<std::string>>& rows) {
  std::vector<std::vector<std::string>> cols(info_.columns.size());
  for (std::size_t k = 0; k < info_.columns.size(); ++k) {
    const Column& c = info_.columns[k];
    const Chunk& ch = chunks_[g][k];
    std::string where = path_ + ": column '" + c.name + "', row group " + std::to_string(g);
    std::optional<Compression> codec = codec_of(ch.codec);
    if (!codec) return corrupt(where, std::string("codec ") + codec_name(ch.codec) + " is not supported");
    std::string bytes;
    SLUICE_RETURN_IF_ERROR(read_at(static_cast<std::uint64_t>(ch.start), static_cast<std::size_t>(ch.bytes), bytes));
    ChunkRenderer chunk(c, std::move(where), info_.row_groups[g].rows, want);
    SLUICE_RETURN_IF_ERROR(chunk.render(bytes, *codec));
    cols[k] = std::move(chunk.rows());
  }
  for (std::size_t r = 0; r < want; ++r) {
    std::vector<std::string> row;
    row.reserve(cols.size());
    for (auto& col : cols) row.push_back(std::move(col[r]));
    rows.push_back(std::move(row));
  }
  return Status();
}

}  // namespace sluice::parquet
