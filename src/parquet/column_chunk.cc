#include "column_chunk.h"

#include "encoding.h"
#include "thrift.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <functional>
#include <string_view>
#include <type_traits>

namespace sluice::parquet {

PhysicalType physical_type(ColumnType t) {
  switch (t) {
    case ColumnType::kBool: return kBoolean;
    case ColumnType::kInt32:
    case ColumnType::kDate: return kInt32;
    case ColumnType::kInt64:
    case ColumnType::kTimestamp:
    case ColumnType::kListInt64: return kInt64;
    case ColumnType::kFloat: return kFloat;
    case ColumnType::kDouble:
    case ColumnType::kListDouble: return kDouble;
    case ColumnType::kString: return kByteArray;
  }
  return kInt64;
}

bool is_list(ColumnType t) { return t == ColumnType::kListDouble || t == ColumnType::kListInt64; }

namespace {

// Largest string written into statistics; longer ones leave min/max out
// rather than bloat the footer.
constexpr std::size_t kMaxStatBytes = 4096;

// ---- values of one physical type -----------------------------------------

template <class T>
void append_plain(const T* v, std::size_t n, std::string& out) {
  if constexpr (std::is_same_v<T, std::string_view>) {
    for (std::size_t i = 0; i < n; ++i) {
      auto len = static_cast<std::uint32_t>(v[i].size());
      out.append(reinterpret_cast<const char*>(&len), 4);  // little-endian hosts only (x86-64, arm64)
      out.append(v[i]);
    }
  } else if constexpr (std::is_same_v<T, bool>) {
    // Booleans are bit-packed, LSB first.
    std::size_t start = out.size();
    out.resize(start + (n + 7) / 8, '\0');
    for (std::size_t i = 0; i < n; ++i) {
      if (v[i]) out[start + i / 8] = static_cast<char>(out[start + i / 8] | (1 << (i % 8)));
    }
  } else {
    out.append(reinterpret_cast<const char*>(v), n * sizeof(T));
  }
}

template <class T>
std::string plain_one(const T& v) {
  if constexpr (std::is_same_v<T, std::string_view>) {
    return std::string(v);
  } else if constexpr (std::is_same_v<T, bool>) {
    return std::string(1, v ? '\1' : '\0');
  } else {
    return std::string(reinterpret_cast<const char*>(&v), sizeof(T));
  }
}

template <class T>
std::size_t plain_size(const T& v) {
  if constexpr (std::is_same_v<T, std::string_view>) {
    return 4 + v.size();
  } else {
    return sizeof(T);
  }
}

// Running min/max in the column's sort order: signed for integers, unsigned
// bytes for strings, IEEE for floating point with NaN left out and a zero
// min written as -0.0 and a zero max as +0.0 (as the format asks).
template <class T>
struct MinMax {
  bool any = false;
  T min{}, max{};
  void add(const T& v) {
    if constexpr (std::is_floating_point_v<T>) {
      if (std::isnan(v)) return;
    }
    if (!any) {
      min = max = v;
      any = true;
      return;
    }
    if (v < min) min = v;
    if (max < v) max = v;
  }
  void merge(const MinMax& o) {
    if (!o.any) return;
    add(o.min);
    add(o.max);
  }
  void write(Statistics& s) const {
    if (!any) return;
    T lo = min, hi = max;
    if constexpr (std::is_floating_point_v<T>) {
      if (lo == 0) lo = -T(0);
      if (hi == 0) hi = T(0);
    }
    if constexpr (std::is_same_v<T, std::string_view>) {
      if (lo.size() > kMaxStatBytes || hi.size() > kMaxStatBytes) return;
    }
    s.has_min_max = true;
    s.min = plain_one(lo);
    s.max = plain_one(hi);
  }
};

// ---- dictionary ------------------------------------------------------------

inline std::uint64_t hash64(std::uint64_t x) {
  x ^= x >> 33;
  x *= 0xff51afd7ed558ccdULL;
  x ^= x >> 33;
  return x;
}

template <class T>
std::uint64_t hash_value(const T& v) {
  if constexpr (std::is_same_v<T, std::string_view>) {
    return std::hash<std::string_view>()(v);
  } else {
    std::uint64_t bits = 0;
    std::memcpy(&bits, &v, sizeof(T));
    return hash64(bits);
  }
}

// Dictionary keys compare by bit pattern, so -0.0, 0.0 and each NaN stay
// distinct and every value reads back exactly.
template <class T>
bool same(const T& a, const T& b) {
  if constexpr (std::is_same_v<T, std::string_view>) {
    return a == b;
  } else {
    return std::memcmp(&a, &b, sizeof(T)) == 0;
  }
}

// Builds a dictionary of values with open addressing; gives up once the
// dictionary's PLAIN size passes `limit` bytes.
template <class T>
bool build_dictionary(const T* v, std::size_t n, std::uint64_t limit, std::vector<T>& dict,
                      std::vector<std::uint32_t>& indices) {
  std::size_t cap = 1024;
  std::vector<std::int32_t> slots(cap, -1);
  std::uint64_t bytes = 0;
  indices.resize(n);
  dict.clear();
  for (std::size_t i = 0; i < n; ++i) {
    std::size_t mask = cap - 1;
    std::size_t s = hash_value(v[i]) & mask;
    while (slots[s] >= 0 && !same(dict[static_cast<std::size_t>(slots[s])], v[i])) s = (s + 1) & mask;
    if (slots[s] < 0) {
      bytes += plain_size(v[i]);
      if (bytes > limit) return false;
      slots[s] = static_cast<std::int32_t>(dict.size());
      dict.push_back(v[i]);
      if (dict.size() * 2 > cap) {  // keep the load under one half
        cap *= 2;
        std::vector<std::int32_t> bigger(cap, -1);
        for (std::size_t k = 0; k < dict.size(); ++k) {
          std::size_t t = hash_value(dict[k]) & (cap - 1);
          while (bigger[t] >= 0) t = (t + 1) & (cap - 1);
          bigger[t] = static_cast<std::int32_t>(k);
        }
        slots.swap(bigger);
      }
      indices[i] = static_cast<std::uint32_t>(dict.size() - 1);
    } else {
      indices[i] = static_cast<std::uint32_t>(slots[s]);
    }
  }
  return true;
}

// ---- levels and page ranges -------------------------------------------------

struct Levels {
  int max_def = 0;
  int max_rep = 0;
  std::vector<std::uint8_t> def;  // per entry, when max_def > 0
  std::vector<std::uint8_t> rep;  // per entry, when max_rep > 0
};

void append_levels(const std::vector<std::uint8_t>& levels, std::size_t e0, std::size_t e1, int max_level,
                   std::string& out) {
  // Data page v1: a 4-byte little-endian length, then the hybrid encoding.
  std::size_t at = out.size();
  out.append(4, '\0');
  encode_hybrid(levels.data() + e0, e1 - e0, bit_width(static_cast<std::uint64_t>(max_level)), out);
  auto len = static_cast<std::uint32_t>(out.size() - at - 4);
  std::memcpy(out.data() + at, &len, 4);
}

void write_statistics(thrift::Writer& w, std::int16_t id, const Statistics& s) {
  w.begin_struct(id);
  w.i64(3, s.null_count);
  if (s.has_min_max) {
    w.binary(5, s.max);
    w.binary(6, s.min);
  }
  w.end_struct();
}

// Compresses `body` and appends header + page to `out`; returns the
// uncompressed size (header included) for the chunk's totals.
Result<std::int64_t> append_page(int page_type, std::string_view body, std::int32_t num_values, int encoding,
                                 const Statistics* stats, Compression codec, Compressor& compressor,
                                 std::string& scratch, std::string& out) {
  if (Status s = compressor.compress(codec, body, scratch); !s.ok()) return s;
  std::string header;
  thrift::Writer w(header);
  w.i32(1, page_type);
  w.i32(2, static_cast<std::int32_t>(body.size()));
  w.i32(3, static_cast<std::int32_t>(scratch.size()));
  if (page_type == 0) {  // DATA_PAGE
    w.begin_struct(5);
    w.i32(1, num_values);
    w.i32(2, encoding);
    w.i32(3, kRle);
    w.i32(4, kRle);
    if (stats) write_statistics(w, 5, *stats);
    w.end_struct();
  } else {  // DICTIONARY_PAGE
    w.begin_struct(7);
    w.i32(1, num_values);
    w.i32(2, kPlain);
    w.end_struct();
  }
  w.end();
  out.append(header);
  out.append(scratch);
  return static_cast<std::int64_t>(header.size() + body.size());
}

// Splits rows into pages of about opt.page_bytes and encodes them.
template <class T>
Status encode_values(const Column& col, const T* values, std::size_t n_values, const Levels& levels,
                            std::size_t rows, const std::vector<std::size_t>& row_entry,
                            const std::vector<std::size_t>& row_value, const ChunkOptions& opt, Compressor& compressor,
                            EncodedChunk& out) {
  const Compression codec = col.compression.value_or(opt.codec);
  // Dictionary, when it is allowed, fits the limit and pays for itself.
  std::vector<std::uint32_t> indices;
  bool use_dict = false;
  int index_width = 1;
  std::string body, scratch;
  out.num_values = static_cast<std::int64_t>(row_entry[rows]);
  out.encodings = {kPlain, kRle};
  if constexpr (!std::is_same_v<T, bool>) {  // a dictionary cannot beat one bit a value
    std::vector<T> dict;
    if (opt.dictionary && n_values > 0 && build_dictionary(values, n_values, opt.dictionary_bytes, dict, indices)) {
      std::uint64_t plain = 0, dict_plain = 0;
      for (std::size_t i = 0; i < n_values; ++i) plain += plain_size(values[i]);
      for (const T& d : dict) dict_plain += plain_size(d);
      index_width = std::max(1, bit_width(dict.size() - 1));
      use_dict = dict_plain + n_values * static_cast<std::uint64_t>(index_width) / 8 < plain;
    }
    if (use_dict) {
      append_plain(dict.data(), dict.size(), body);
      out.dictionary_page_offset = static_cast<std::int64_t>(out.bytes.size());
      Result<std::int64_t> size = append_page(2, body, static_cast<std::int32_t>(dict.size()), kPlain, nullptr, codec,
                                              compressor, scratch, out.bytes);
      if (!size.ok()) return size.status();
      out.uncompressed_size += *size;
      out.encodings = {kPlain, kRle, kRleDictionary};
    }
  }
  out.data_page_offset = static_cast<std::int64_t>(out.bytes.size());

  MinMax<T> chunk_mm;
  std::size_t r = 0;
  while (r < rows || (rows == 0 && out.data_pages == 0)) {
    // Rows for this page: until their values reach page_bytes.
    std::size_t r1 = r;
    std::uint64_t bytes = 0;
    while (r1 < rows && (bytes < opt.page_bytes || r1 == r)) {
      for (std::size_t v = row_value[r1]; v < row_value[r1 + 1]; ++v) {
        bytes += use_dict ? 2 : plain_size(values[v]);
      }
      bytes += 1;  // levels, roughly
      ++r1;
    }
    const std::size_t e0 = row_entry[r], e1 = row_entry[r1], v0 = row_value[r], v1 = row_value[r1];
    body.clear();
    if (levels.max_rep > 0) append_levels(levels.rep, e0, e1, levels.max_rep, body);
    if (levels.max_def > 0) append_levels(levels.def, e0, e1, levels.max_def, body);
    MinMax<T> page_mm;
    for (std::size_t v = v0; v < v1; ++v) page_mm.add(values[v]);
    if (use_dict) {
      body.push_back(static_cast<char>(index_width));
      encode_hybrid(indices.data() + v0, v1 - v0, index_width, body);
    } else {
      append_plain(values + v0, v1 - v0, body);
    }
    Statistics page_stats;
    page_stats.null_count = static_cast<std::int64_t>((e1 - e0) - (v1 - v0));
    page_mm.write(page_stats);
    Result<std::int64_t> size = append_page(0, body, static_cast<std::int32_t>(e1 - e0), use_dict ? kRleDictionary : kPlain,
                                            &page_stats, codec, compressor, scratch, out.bytes);
    if (!size.ok()) return size.status();
    out.uncompressed_size += *size;
    out.stats.null_count += page_stats.null_count;
    chunk_mm.merge(page_mm);
    ++out.data_pages;
    r = r1;
    if (rows == 0) break;
  }
  chunk_mm.write(out.stats);
  return Status();
}

}  // namespace

Status encode_chunk(const Column& col, const ColumnData& data, std::size_t rows, const ChunkOptions& opt,
                    Compressor& compressor, EncodedChunk& out) {
  out = EncodedChunk{};
  Levels levels;
  // row_entry[r] / row_value[r]: the first level entry / value of row r.
  std::vector<std::size_t> row_entry(rows + 1), row_value(rows + 1);
  const bool list = is_list(col.type);
  if (list) {
    levels.max_rep = 1;
    levels.max_def = col.nullable ? 2 : 1;
    const std::uint8_t value_def = static_cast<std::uint8_t>(levels.max_def);
    std::size_t base = data.offsets[0];
    for (std::size_t r = 0; r < rows; ++r) {
      row_entry[r] = levels.def.size();
      row_value[r] = data.offsets[r] - base;
      std::size_t len = data.offsets[r + 1] - data.offsets[r];
      if (!data.is_valid(r)) {
        levels.def.push_back(0);
        levels.rep.push_back(0);
      } else if (len == 0) {
        levels.def.push_back(static_cast<std::uint8_t>(value_def - 1));
        levels.rep.push_back(0);
      } else {
        levels.def.insert(levels.def.end(), len, value_def);
        levels.rep.push_back(0);
        levels.rep.insert(levels.rep.end(), len - 1, 1);
      }
    }
    row_entry[rows] = levels.def.size();
    row_value[rows] = data.offsets[rows] - base;
    if (col.type == ColumnType::kListDouble) {
      return encode_values(col, data.f64.data() + base, row_value[rows], levels, rows, row_entry, row_value, opt,
                           compressor, out);
    }
    return encode_values(col, data.i64.data() + base, row_value[rows], levels, rows, row_entry, row_value, opt,
                         compressor, out);
  }

  // Flat: one entry per row; values are the non-null rows, gathered.
  for (std::size_t r = 0; r <= rows; ++r) row_entry[r] = r;
  const bool has_nulls = col.nullable && !data.valid.empty();
  if (col.nullable) {
    levels.max_def = 1;
    levels.def = has_nulls ? std::vector<std::uint8_t>(data.valid.begin(), data.valid.begin() + static_cast<std::ptrdiff_t>(rows))
                           : std::vector<std::uint8_t>(rows, 1);
  }
  std::size_t nv = 0;
  for (std::size_t r = 0; r < rows; ++r) {
    row_value[r] = nv;
    nv += data.is_valid(r) ? 1 : 0;
  }
  row_value[rows] = nv;

  auto gather = [&](const auto* src) {
    using T = std::remove_cv_t<std::remove_pointer_t<decltype(src)>>;
    std::vector<T> v;
    if (has_nulls) {
      v.reserve(nv);
      for (std::size_t r = 0; r < rows; ++r) {
        if (data.valid[r]) v.push_back(src[r]);
      }
    }
    return v;
  };
  auto run = [&](const auto* src) {
    auto compact = gather(src);
    const auto* vals = has_nulls ? compact.data() : src;
    return encode_values(col, vals, nv, levels, rows, row_entry, row_value, opt, compressor, out);
  };

  switch (col.type) {
    case ColumnType::kBool: {  // gathered here: std::vector<bool> has no data()
      std::unique_ptr<bool[]> b(new bool[nv + 1]);
      std::size_t k = 0;
      for (std::size_t r = 0; r < rows; ++r) {
        if (data.is_valid(r)) b[k++] = data.b[r] != 0;
      }
      return encode_values(col, static_cast<const bool*>(b.get()), nv, levels, rows, row_entry, row_value, opt,
                           compressor, out);
    }
    case ColumnType::kInt32:
    case ColumnType::kDate:
      return run(data.i32.data());
    case ColumnType::kInt64:
    case ColumnType::kTimestamp:
      return run(data.i64.data());
    case ColumnType::kFloat:
      return run(data.f32.data());
    case ColumnType::kDouble:
      return run(data.f64.data());
    case ColumnType::kString: {
      std::vector<std::string_view> sv(rows);
      for (std::size_t r = 0; r < rows; ++r) {
        sv[r] = std::string_view(data.bytes).substr(data.offsets[r], data.offsets[r + 1] - data.offsets[r]);
      }
      return run(static_cast<const std::string_view*>(sv.data()));
    }
    case ColumnType::kListDouble:
    case ColumnType::kListInt64:
      break;
  }
  return Status::Internal("unhandled column type");
}

}  // namespace sluice::parquet
