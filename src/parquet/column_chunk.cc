#include "column_chunk.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <functional>
#include <string_view>
#include <type_traits>

#include "encoding.h"
#include "thrift.h"

namespace sluice::parquet {

PhysicalType physical_type(ColumnType t) {
  switch (t) {
    case ColumnType::kBool:
      return kBoolean;
    case ColumnType::kInt32:
    case ColumnType::kDate:
      return kInt32;
    case ColumnType::kInt64:
    case ColumnType::kTimestamp:
    case ColumnType::kListInt64:
      return kInt64;
    case ColumnType::kFloat:
      return kFloat;
    case ColumnType::kDouble:
    case ColumnType::kListDouble:
      return kDouble;
    case ColumnType::kString:
      return kByteArray;
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
    // The same bits: -0.0 and 0.0 stay apart, a NaN equals itself.
    return std::memcmp(&a, &b, sizeof(T)) == 0;  // NOLINT(bugprone-suspicious-memory-comparison)
  }
}

// How often build_dictionary checks that the dictionary still pays.
constexpr std::size_t kDictionaryCheckEvery = 16384;

// Bytes a dictionary encoding of `n` values with `distinct` entries of
// `dict_bytes` takes, against their PLAIN size.
bool dictionary_pays(std::uint64_t dict_bytes, std::size_t distinct, std::size_t n, std::uint64_t plain_bytes) {
  int width = std::max(1, bit_width(distinct > 0 ? distinct - 1 : 0));
  return dict_bytes + n * static_cast<std::uint64_t>(width) / 8 < plain_bytes;
}

// Builds a dictionary of values with open addressing. Gives up (false) once
// the dictionary's PLAIN size passes `limit` bytes, or at a checkpoint where
// it would not be smaller than PLAIN so far: distinct values only get rarer
// as a column goes on, so a dictionary that does not pay early seldom does.
template <class T>
bool build_dictionary(const T* v, std::size_t n, std::uint64_t limit, std::vector<T>& dict, ChunkScratch& scratch) {
  std::size_t cap = 1024;
  std::vector<std::int32_t>& slots = scratch.slots;
  slots.assign(cap, -1);
  std::vector<std::uint32_t>& indices = scratch.indices;
  indices.resize(n);
  std::uint64_t dict_bytes = 0, plain_bytes = 0;
  dict.clear();
  for (std::size_t i = 0; i < n; ++i) {
    plain_bytes += plain_size(v[i]);
    if ((i + 1) % kDictionaryCheckEvery == 0 && !dictionary_pays(dict_bytes, dict.size(), i, plain_bytes)) return false;
    std::size_t mask = cap - 1;
    std::size_t s = hash_value(v[i]) & mask;
    while (slots[s] >= 0 && !same(dict[static_cast<std::size_t>(slots[s])], v[i])) s = (s + 1) & mask;
    if (slots[s] >= 0) {
      indices[i] = static_cast<std::uint32_t>(slots[s]);
      continue;
    }
    dict_bytes += plain_size(v[i]);
    if (dict_bytes > limit) return false;
    slots[s] = static_cast<std::int32_t>(dict.size());
    indices[i] = static_cast<std::uint32_t>(dict.size());
    dict.push_back(v[i]);
    if (dict.size() * 2 > cap) {  // keep the load under one half
      cap *= 2;
      slots.assign(cap, -1);
      for (std::size_t k = 0; k < dict.size(); ++k) {
        std::size_t t = hash_value(dict[k]) & (cap - 1);
        while (slots[t] >= 0) t = (t + 1) & (cap - 1);
        slots[t] = static_cast<std::int32_t>(k);
      }
    }
  }
  return dictionary_pays(dict_bytes, dict.size(), n, plain_bytes);
}

// ---- levels and pages ------------------------------------------------------

struct Levels {
  int max_def = 0;
  int max_rep = 0;
  const std::uint8_t* def = nullptr;  // per entry, when max_def > 0
  const std::uint8_t* rep = nullptr;  // per entry, when max_rep > 0
};

// Where each row's level entries and values start. Null arrays mean "the
// same as the row number" (a flat column has one entry a row, and without
// nulls one value a row).
struct RowMap {
  const std::size_t* entry = nullptr;
  const std::size_t* value = nullptr;
  std::size_t entry_at(std::size_t r) const { return entry ? entry[r] : r; }
  std::size_t value_at(std::size_t r) const { return value ? value[r] : r; }
};

void append_levels(const std::uint8_t* levels, std::size_t e0, std::size_t e1, int max_level, std::string& out) {
  // Data page v1: a 4-byte little-endian length, then the hybrid encoding.
  std::size_t at = out.size();
  out.append(4, '\0');
  encode_hybrid(levels + e0, e1 - e0, bit_width(static_cast<std::uint64_t>(max_level)), out);
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

// Compresses `body`, writes header and page to the sink, and counts them
// in the chunk's totals.
Status write_page(int page_type, std::string_view body, std::int32_t num_values, int encoding, const Statistics* stats,
                  Compression codec, Compressor& compressor, ChunkScratch& scratch, OutputStream& sink,
                  EncodedChunk& out) {
  Result<std::string_view> compressed = compressor.compress(codec, body);
  if (!compressed.ok()) return compressed.status();
  std::string& header = scratch.header;
  header.clear();
  thrift::Writer w(header);
  w.i32(1, page_type);
  w.i32(2, static_cast<std::int32_t>(body.size()));
  w.i32(3, static_cast<std::int32_t>(compressed->size()));
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
  SLUICE_RETURN_IF_ERROR(sink.write(header));
  SLUICE_RETURN_IF_ERROR(sink.write(*compressed));
  out.uncompressed_size += static_cast<std::int64_t>(header.size() + body.size());
  out.compressed_size += static_cast<std::int64_t>(header.size() + compressed->size());
  return Status();
}

// The first row of the next page: rows from r0 until their values reach
// about page_bytes.
template <class T>
std::size_t page_end(const T* values, const RowMap& map, std::size_t r0, std::size_t rows, std::uint64_t page_bytes,
                     bool dictionary) {
  if (!map.value && !std::is_same_v<T, std::string_view>) {
    // One fixed-width value a row: by arithmetic. Dictionary indices are
    // counted at two bytes a value, a guess that keeps pages near the size.
    std::uint64_t per_row = dictionary ? 2 : sizeof(T);
    return std::min(rows, r0 + std::max<std::uint64_t>(1, page_bytes / per_row));
  }
  std::size_t r = r0;
  std::uint64_t bytes = 0;
  while (r < rows && (bytes < page_bytes || r == r0)) {
    for (std::size_t v = map.value_at(r); v < map.value_at(r + 1); ++v) bytes += dictionary ? 2 : plain_size(values[v]);
    bytes += 1;  // its levels, roughly
    ++r;
  }
  return r;
}

// Encodes the chunk's values: a dictionary page if one pays, then data pages.
template <class T>
Status encode_values(const Column& col, const T* values, std::size_t n_values, const Levels& levels, std::size_t rows,
                     const RowMap& map, const ChunkOptions& opt, Compressor& compressor, ChunkScratch& scratch,
                     OutputStream& sink, EncodedChunk& out) {
  const Compression codec = col.compression.value_or(opt.codec);
  std::string& body = scratch.body;
  out.num_values = static_cast<std::int64_t>(map.entry_at(rows));
  out.encodings = {kPlain, kRle};

  // A dictionary, when allowed and it pays; its entries ranked by sort order
  // so page statistics compare small integers instead of values.
  std::vector<T> dict;
  std::vector<std::uint32_t> rank;
  bool use_dict = false;
  int index_width = 1;
  if constexpr (!std::is_same_v<T, bool>) {  // a dictionary cannot beat one bit a value
    use_dict =
        opt.dictionary && n_values > 0 && build_dictionary(values, n_values, opt.dictionary_bytes, dict, scratch);
    if (use_dict) {
      index_width = std::max(1, bit_width(dict.size() - 1));
      body.clear();
      append_plain(dict.data(), dict.size(), body);
      out.dictionary_page_offset = static_cast<std::int64_t>(sink.position());
      if (Status s = write_page(2, body, static_cast<std::int32_t>(dict.size()), kPlain, nullptr, codec, compressor,
                                scratch, sink, out);
          !s.ok()) {
        return s;
      }
      out.encodings = {kPlain, kRle, kRleDictionary};
      // NaN sorts last here and is skipped by MinMax; order among others is the type's.
      std::vector<std::uint32_t> order(dict.size());
      for (std::uint32_t i = 0; i < order.size(); ++i) order[i] = i;
      std::sort(order.begin(), order.end(), [&](std::uint32_t a, std::uint32_t b) {
        if constexpr (std::is_floating_point_v<T>) {
          if (std::isnan(dict[a]) || std::isnan(dict[b])) return !std::isnan(dict[a]) && std::isnan(dict[b]);
        }
        return dict[a] < dict[b];
      });
      rank.resize(dict.size());
      for (std::uint32_t i = 0; i < order.size(); ++i) rank[order[i]] = i;
    }
  }
  const std::uint32_t* indices = scratch.indices.data();

  out.data_page_offset = static_cast<std::int64_t>(sink.position());
  MinMax<T> chunk_mm;
  std::size_t r = 0;
  do {
    const std::size_t r1 = page_end(values, map, r, rows, opt.page_bytes, use_dict);
    const std::size_t e0 = map.entry_at(r), e1 = map.entry_at(r1), v0 = map.value_at(r), v1 = map.value_at(r1);
    body.clear();
    if (levels.max_rep > 0) append_levels(levels.rep, e0, e1, levels.max_rep, body);
    if (levels.max_def > 0) append_levels(levels.def, e0, e1, levels.max_def, body);
    MinMax<T> page_mm;
    if (use_dict) {
      if (v1 > v0) {
        std::uint32_t lo = indices[v0], hi = indices[v0];
        for (std::size_t v = v0 + 1; v < v1; ++v) {
          if (rank[indices[v]] < rank[lo]) lo = indices[v];
          if (rank[indices[v]] > rank[hi]) hi = indices[v];
        }
        page_mm.add(dict[lo]);
        page_mm.add(dict[hi]);
      }
      body.push_back(static_cast<char>(index_width));
      encode_hybrid(indices + v0, v1 - v0, index_width, body);
    } else {
      for (std::size_t v = v0; v < v1; ++v) page_mm.add(values[v]);
      append_plain(values + v0, v1 - v0, body);
    }
    Statistics page_stats;
    page_stats.null_count = static_cast<std::int64_t>((e1 - e0) - (v1 - v0));
    page_mm.write(page_stats);
    if (Status s = write_page(0, body, static_cast<std::int32_t>(e1 - e0), use_dict ? kRleDictionary : kPlain,
                              &page_stats, codec, compressor, scratch, sink, out);
        !s.ok()) {
      return s;
    }
    out.stats.null_count += page_stats.null_count;
    chunk_mm.merge(page_mm);
    ++out.data_pages;
    r = r1;
  } while (r < rows);
  chunk_mm.write(out.stats);
  return Status();
}

Status encode_list(const Column& col, const ColumnData& data, std::size_t rows, const ChunkOptions& opt,
                   Compressor& compressor, ChunkScratch& scratch, OutputStream& sink, EncodedChunk& out) {
  // Levels of the standard three-level list: a null list (def 0), an empty
  // list (def max-1), or one entry per element (def max; rep 0 for the first
  // element of a row, 1 for the rest).
  Levels levels{.max_def = col.nullable ? 2 : 1, .max_rep = 1};
  const auto value_def = static_cast<std::uint8_t>(levels.max_def);
  auto& def = scratch.def;
  auto& rep = scratch.rep;
  auto& entry = scratch.entry;
  auto& value = scratch.value;
  def.clear(), rep.clear();
  entry.resize(rows + 1), value.resize(rows + 1);
  const std::size_t base = data.offsets[0];
  for (std::size_t r = 0; r < rows; ++r) {
    entry[r] = def.size();
    value[r] = data.offsets[r] - base;
    std::size_t len = data.offsets[r + 1] - data.offsets[r];
    if (!data.is_valid(r)) {
      def.push_back(0);
      rep.push_back(0);
    } else if (len == 0) {
      def.push_back(static_cast<std::uint8_t>(value_def - 1));
      rep.push_back(0);
    } else {
      def.insert(def.end(), len, value_def);
      rep.push_back(0);
      rep.insert(rep.end(), len - 1, 1);
    }
  }
  entry[rows] = def.size();
  value[rows] = data.offsets[rows] - base;
  levels.def = def.data();
  levels.rep = rep.data();
  RowMap map{.entry = entry.data(), .value = value.data()};
  if (col.type == ColumnType::kListDouble) {
    return encode_values(col, data.f64.data() + base, value[rows], levels, rows, map, opt, compressor, scratch, sink,
                         out);
  }
  return encode_values(col, data.i64.data() + base, value[rows], levels, rows, map, opt, compressor, scratch, sink,
                       out);
}

}  // namespace

Status encode_chunk(const Column& col, const ColumnData& data, std::size_t rows, const ChunkOptions& opt,
                    Compressor& compressor, ChunkScratch& scratch, OutputStream& sink, EncodedChunk& out) {
  out = EncodedChunk{};
  out.start = static_cast<std::int64_t>(sink.position());
  if (is_list(col.type)) return encode_list(col, data, rows, opt, compressor, scratch, sink, out);

  // Flat: one entry a row; the values are the non-null rows, gathered when
  // there are nulls.
  Levels levels;
  RowMap map;
  const bool has_nulls = col.nullable && !data.valid.empty();
  std::size_t nv = rows;
  if (col.nullable) {
    levels.max_def = 1;
    if (has_nulls) {
      levels.def = data.valid.data();
    } else {
      scratch.def.assign(rows, 1);
      levels.def = scratch.def.data();
    }
  }
  if (has_nulls) {
    scratch.value.resize(rows + 1);
    nv = 0;
    for (std::size_t r = 0; r < rows; ++r) {
      scratch.value[r] = nv;
      nv += data.valid[r] != 0;
    }
    scratch.value[rows] = nv;
    map.value = scratch.value.data();
  }

  auto run = [&](const auto* src) {
    using T = std::remove_cv_t<std::remove_pointer_t<decltype(src)>>;
    if (!has_nulls) return encode_values(col, src, nv, levels, rows, map, opt, compressor, scratch, sink, out);
    std::vector<T> compact;
    compact.reserve(nv);
    for (std::size_t r = 0; r < rows; ++r) {
      if (data.valid[r]) compact.push_back(src[r]);
    }
    return encode_values(col, compact.data(), nv, levels, rows, map, opt, compressor, scratch, sink, out);
  };

  switch (col.type) {
    case ColumnType::kBool: {  // gathered here: std::vector<bool> has no data()
      std::unique_ptr<bool[]> b(new bool[nv + 1]);
      std::size_t k = 0;
      for (std::size_t r = 0; r < rows; ++r) {
        if (data.is_valid(r)) b[k++] = data.b[r] != 0;
      }
      return encode_values(col, static_cast<const bool*>(b.get()), nv, levels, rows, map, opt, compressor, scratch,
                           sink, out);
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
      const std::string_view bytes(data.bytes);
      for (std::size_t r = 0; r < rows; ++r)
        sv[r] = bytes.substr(data.offsets[r], data.offsets[r + 1] - data.offsets[r]);
      return run(static_cast<const std::string_view*>(sv.data()));
    }
    case ColumnType::kListDouble:
    case ColumnType::kListInt64:
      break;
  }
  return Status::Internal("unhandled column type");
}

}  // namespace sluice::parquet
