#include "sluice/parquet/writer.h"

#include <cstdio>
#include <cstring>

#include "column_chunk.h"
#include "compression.h"
#include "encoding.h"
#include "sluice/detail/json.h"
#include "thrift.h"

namespace sluice::parquet {
namespace {

constexpr std::string_view kMagic = "PAR1";
constexpr const char* kCreatedBy = "sluice version 0.1.0";

Status column_error(const Column& c, const std::string& what) {
  return Status::InvalidArgument("column '" + c.name + "' (" + std::string(to_string(c.type)) + "): " + what);
}

template <class V>
Status check_size(const Column& c, const V& v, std::size_t want, const char* field) {
  if (v.size() != want) {
    return column_error(
        c, std::string(field) + " holds " + std::to_string(v.size()) + " values, expected " + std::to_string(want));
  }
  return Status();
}

// Offsets: rows + 1 of them, non-decreasing, within `limit`.
Status check_offsets(const Column& c, const ColumnData& d, std::size_t rows, std::size_t limit) {
  SLUICE_RETURN_IF_ERROR(check_size(c, d.offsets, rows + 1, "offsets"));
  if (d.offsets[0] != 0) return column_error(c, "offsets must start at 0");
  for (std::size_t r = 0; r < rows; ++r) {
    if (d.offsets[r + 1] < d.offsets[r]) return column_error(c, "offsets decrease at row " + std::to_string(r));
  }
  if (d.offsets[rows] != limit) {
    return column_error(c, "the last offset is " + std::to_string(d.offsets[rows]) + " but there are " +
                               std::to_string(limit) + " bytes or elements");
  }
  // A null holds nothing: bytes or elements under a null would shift every
  // later value onto the wrong row.
  if (!d.valid.empty()) {
    for (std::size_t r = 0; r < rows; ++r) {
      if (d.valid[r] == 0 && d.offsets[r + 1] != d.offsets[r]) {
        return column_error(c, "row " + std::to_string(r) + " is null but holds " +
                                   std::to_string(d.offsets[r + 1] - d.offsets[r]) + " bytes or elements");
      }
    }
  }
  return Status();
}

Status validate_column(const Column& c, const ColumnData& d, std::size_t rows) {
  if (!d.valid.empty()) {
    SLUICE_RETURN_IF_ERROR(check_size(c, d.valid, rows, "valid"));
    for (std::size_t r = 0; r < rows; ++r) {
      if (d.valid[r] == 0 && !c.nullable)
        return column_error(c, "null at row " + std::to_string(r) + " in a required column");
    }
  }
  switch (c.type) {
    case ColumnType::kBool:
      SLUICE_RETURN_IF_ERROR(check_size(c, d.b, rows, "b"));
      for (std::size_t r = 0; r < rows; ++r) {
        if (d.b[r] > 1)
          return column_error(c, "row " + std::to_string(r) + ": a bool must be 0 or 1, got " + std::to_string(d.b[r]));
      }
      return Status();
    case ColumnType::kInt32:
    case ColumnType::kDate:
      return check_size(c, d.i32, rows, "i32");
    case ColumnType::kInt64:
    case ColumnType::kTimestamp:
      return check_size(c, d.i64, rows, "i64");
    case ColumnType::kFloat:
      return check_size(c, d.f32, rows, "f32");
    case ColumnType::kDouble:
      return check_size(c, d.f64, rows, "f64");
    case ColumnType::kString: {
      SLUICE_RETURN_IF_ERROR(check_offsets(c, d, rows, d.bytes.size()));
      if (!detail::valid_utf8(d.bytes)) {
        for (std::size_t r = 0; r < rows; ++r) {
          if (!detail::valid_utf8(std::string_view(d.bytes).substr(d.offsets[r], d.offsets[r + 1] - d.offsets[r]))) {
            return column_error(c, "row " + std::to_string(r) + ": the string is not valid UTF-8");
          }
        }
        return column_error(c, "the strings are not valid UTF-8");  // split across rows
      }
      return Status();
    }
    case ColumnType::kListDouble:
      return check_offsets(c, d, rows, d.f64.size());
    case ColumnType::kListInt64:
      return check_offsets(c, d, rows, d.i64.size());
  }
  return Status();
}

// Appends rows [begin, end) of `src` to `dst` (a row group's buffer).
void append_rows(const Column& c, const ColumnData& src, std::size_t begin, std::size_t end, std::size_t dst_rows,
                 ColumnData& dst) {
  const std::size_t n = end - begin;
  if (!src.valid.empty() || !dst.valid.empty()) {
    if (dst.valid.empty()) dst.valid.assign(dst_rows, 1);
    if (src.valid.empty()) {
      dst.valid.insert(dst.valid.end(), n, 1);
    } else {
      dst.valid.insert(dst.valid.end(), src.valid.begin() + static_cast<std::ptrdiff_t>(begin),
                       src.valid.begin() + static_cast<std::ptrdiff_t>(end));
    }
  }
  auto copy = [&](auto& d, const auto& s, std::size_t from, std::size_t to) {
    d.insert(d.end(), s.begin() + static_cast<std::ptrdiff_t>(from), s.begin() + static_cast<std::ptrdiff_t>(to));
  };
  auto copy_offsets = [&](std::size_t base_dst) {
    std::uint32_t base_src = src.offsets[begin];
    for (std::size_t r = begin; r < end; ++r) {
      dst.offsets.push_back(static_cast<std::uint32_t>(base_dst + (src.offsets[r + 1] - base_src)));
    }
  };
  switch (c.type) {
    case ColumnType::kBool:
      copy(dst.b, src.b, begin, end);
      break;
    case ColumnType::kInt32:
    case ColumnType::kDate:
      copy(dst.i32, src.i32, begin, end);
      break;
    case ColumnType::kInt64:
    case ColumnType::kTimestamp:
      copy(dst.i64, src.i64, begin, end);
      break;
    case ColumnType::kFloat:
      copy(dst.f32, src.f32, begin, end);
      break;
    case ColumnType::kDouble:
      copy(dst.f64, src.f64, begin, end);
      break;
    case ColumnType::kString: {
      std::size_t base = dst.bytes.size();
      dst.bytes.append(src.bytes, src.offsets[begin], src.offsets[end] - src.offsets[begin]);
      copy_offsets(base);
      break;
    }
    case ColumnType::kListDouble: {
      std::size_t base = dst.f64.size();
      copy(dst.f64, src.f64, src.offsets[begin], src.offsets[end]);
      copy_offsets(base);
      break;
    }
    case ColumnType::kListInt64: {
      std::size_t base = dst.i64.size();
      copy(dst.i64, src.i64, src.offsets[begin], src.offsets[end]);
      copy_offsets(base);
      break;
    }
  }
}

// Reserves room for `rows` more rows shaped like `sample` (bytes and list
// elements per row as in the sample). Large reservations only map memory;
// pages count against RSS when written, so this costs nothing up front and
// spares the copies of growing by doubling.
void reserve_like(const ColumnData& sample, std::size_t sample_rows, std::size_t rows, ColumnData& d) {
  auto grow = [&](auto& v, std::size_t per_sample) {
    if (per_sample == 0) return;
    std::size_t want = v.size() + per_sample * rows / std::max<std::size_t>(1, sample_rows) + 1;
    if (want > v.capacity()) v.reserve(want);
  };
  grow(d.b, sample.b.size());
  grow(d.i32, sample.i32.size());
  grow(d.i64, sample.i64.size());
  grow(d.f32, sample.f32.size());
  grow(d.f64, sample.f64.size());
  grow(d.offsets, sample.offsets.size() > 1 ? sample_rows : 0);
  grow(d.valid, sample.valid.empty() ? 0 : sample_rows);
  if (!sample.bytes.empty()) {
    std::size_t want = d.bytes.size() + sample.bytes.size() * rows / std::max<std::size_t>(1, sample_rows) + 1;
    if (want > d.bytes.capacity()) d.bytes.reserve(want);
  }
}

// Empties a row group's buffer, keeping its memory for the next one.
void clear_keep_capacity(ColumnData& d) {
  d.valid.clear();
  d.b.clear();
  d.i32.clear();
  d.i64.clear();
  d.f32.clear();
  d.f64.clear();
  d.offsets.assign(1, 0);
  d.bytes.clear();
}

std::uint64_t buffered_bytes(const ColumnData& d) {
  return d.valid.size() + d.b.size() + 4 * d.i32.size() + 8 * d.i64.size() + 4 * d.f32.size() + 8 * d.f64.size() +
         4 * d.offsets.size() + d.bytes.size();
}

struct RowGroupMeta {
  std::vector<EncodedChunk> chunks;
  std::int64_t rows = 0;
  std::int64_t start = 0;
  std::int64_t total_uncompressed = 0;
  std::int64_t total_compressed = 0;
};

void write_schema_element(thrift::Writer& w, const Column& c) {
  auto leaf = [&](const std::string& name, int repetition) {
    w.begin_element_struct();
    w.i32(1, physical_type(c.type));
    w.i32(3, repetition);
    w.binary(4, name);
    switch (c.type) {
      case ColumnType::kString:
        w.i32(6, 0);  // UTF8
        w.begin_struct(10);
        w.begin_struct(1);  // StringType
        w.end_struct();
        w.end_struct();
        break;
      case ColumnType::kDate:
        w.i32(6, 6);  // DATE
        w.begin_struct(10);
        w.begin_struct(6);  // DateType
        w.end_struct();
        w.end_struct();
        break;
      case ColumnType::kTimestamp:
        if (c.unit != TimeUnit::kNanos) w.i32(6, c.unit == TimeUnit::kMillis ? 9 : 10);  // TIMESTAMP_MILLIS / _MICROS
        w.begin_struct(10);
        w.begin_struct(8);  // TimestampType
        w.boolean(1, true);
        w.begin_struct(2);  // TimeUnit
        w.begin_struct(c.unit == TimeUnit::kMillis ? 1 : c.unit == TimeUnit::kMicros ? 2 : 3);
        w.end_struct();
        w.end_struct();
        w.end_struct();
        w.end_struct();
        break;
      default:
        break;
    }
    w.end_element_struct();
  };
  const int repetition = c.nullable ? 1 : 0;
  if (!is_list(c.type)) {
    leaf(c.name, repetition);
    return;
  }
  // <repetition> group <name> (LIST) { repeated group list { required <type> element; } }
  w.begin_element_struct();
  w.i32(3, repetition);
  w.binary(4, c.name);
  w.i32(5, 1);
  w.i32(6, 3);  // LIST
  w.begin_struct(10);
  w.begin_struct(3);  // ListType
  w.end_struct();
  w.end_struct();
  w.end_element_struct();
  w.begin_element_struct();
  w.i32(3, 2);  // REPEATED
  w.binary(4, "list");
  w.i32(5, 1);
  w.end_element_struct();
  leaf("element", 0);
}

std::size_t schema_elements(const Schema& schema) {
  std::size_t n = 1;
  for (const Column& c : schema.columns()) n += is_list(c.type) ? 3 : 1;
  return n;
}

}  // namespace

Status validate(const Schema& schema, const ColumnBatch& batch) {
  if (batch.columns.size() != schema.size()) {
    return Status::InvalidArgument("batch has " + std::to_string(batch.columns.size()) + " columns, the schema " +
                                   std::to_string(schema.size()));
  }
  for (std::size_t i = 0; i < schema.size(); ++i) {
    SLUICE_RETURN_IF_ERROR(validate_column(schema[i], batch.columns[i], batch.rows));
  }
  return Status();
}

struct ParquetWriter::Impl {
  Schema schema;
  WriterOptions options;
  std::unique_ptr<OutputStream> out;
  Compressor compressor;
  ChunkScratch scratch;
  std::vector<ColumnData> buffer;
  std::size_t buffered_rows = 0;
  std::uint64_t buffered_estimate = 0;
  std::vector<RowGroupMeta> row_groups;
  std::uint64_t rows = 0;
  Status failed;
  bool open = true;

  Impl(Schema s, WriterOptions o, std::unique_ptr<OutputStream> os)
      : schema(std::move(s)),
        options(std::move(o)),
        out(std::move(os)),
        compressor(options.zstd_level),
        buffer(schema.size()) {}

  Status fail(Status s) {
    failed = s;
    if (open) {
      out->abort();
      open = false;
    }
    return s;
  }

  Status flush_row_group() {
    if (buffered_rows == 0) return Status();
    RowGroupMeta rg;
    rg.rows = static_cast<std::int64_t>(buffered_rows);
    rg.start = static_cast<std::int64_t>(out->position());
    ChunkOptions copt{.codec = options.compression,
                      .page_bytes = options.page_bytes,
                      .dictionary_bytes = options.dictionary_bytes,
                      .dictionary = options.dictionary};
    for (std::size_t i = 0; i < schema.size(); ++i) {
      EncodedChunk chunk;
      if (Status s = encode_chunk(schema[i], buffer[i], buffered_rows, copt, compressor, scratch, *out, chunk);
          !s.ok()) {
        return s.with_context("column '" + schema[i].name + "'");
      }
      rg.total_uncompressed += chunk.uncompressed_size;
      rg.total_compressed += chunk.compressed_size;
      rg.chunks.push_back(chunk);
      clear_keep_capacity(buffer[i]);
    }
    row_groups.push_back(std::move(rg));
    buffered_rows = 0;
    buffered_estimate = 0;
    return Status();
  }

  std::string footer() const {
    std::string f;
    thrift::Writer w(f);
    w.i32(1, 1);  // version
    w.begin_list(2, thrift::kStruct, schema_elements(schema));
    w.begin_element_struct();
    w.binary(4, "schema");
    w.i32(5, static_cast<std::int32_t>(schema.size()));
    w.end_element_struct();
    for (const Column& c : schema.columns()) write_schema_element(w, c);
    w.i64(3, static_cast<std::int64_t>(rows));
    w.begin_list(4, thrift::kStruct, row_groups.size());
    for (std::size_t g = 0; g < row_groups.size(); ++g) {
      const RowGroupMeta& rg = row_groups[g];
      w.begin_element_struct();
      w.begin_list(1, thrift::kStruct, rg.chunks.size());
      for (std::size_t i = 0; i < rg.chunks.size(); ++i) {
        const Column& c = schema[i];
        const EncodedChunk& ch = rg.chunks[i];
        const std::int64_t start = ch.start;
        w.begin_element_struct();
        w.i64(2, start);
        w.begin_struct(3);
        w.i32(1, physical_type(c.type));
        w.begin_list(2, thrift::kI32, ch.encodings.size());
        for (int e : ch.encodings) w.element_i32(e);
        if (is_list(c.type)) {
          w.begin_list(3, thrift::kBinary, 3);
          w.element_binary(c.name);
          w.element_binary("list");
          w.element_binary("element");
        } else {
          w.begin_list(3, thrift::kBinary, 1);
          w.element_binary(c.name);
        }
        w.i32(4, codec_id(c.compression.value_or(options.compression)));
        w.i64(5, ch.num_values);
        w.i64(6, ch.uncompressed_size);
        w.i64(7, ch.compressed_size);
        w.i64(9, ch.data_page_offset);
        if (ch.dictionary_page_offset >= 0) w.i64(11, ch.dictionary_page_offset);
        w.begin_struct(12);
        w.i64(3, ch.stats.null_count);
        if (ch.stats.has_min_max) {
          w.binary(5, ch.stats.max);
          w.binary(6, ch.stats.min);
        }
        w.end_struct();
        w.end_struct();
        w.end_element_struct();
      }
      w.i64(2, rg.total_uncompressed);
      w.i64(3, rg.rows);
      w.i64(5, rg.start);
      w.i64(6, rg.total_compressed);
      w.i32(7, static_cast<std::int32_t>(g));
      w.end_element_struct();
    }
    w.begin_list(5, thrift::kStruct, 1 + options.metadata.size());
    w.begin_element_struct();
    w.binary(1, "sluice.version");
    w.binary(2, "0.1.0");
    w.end_element_struct();
    for (const auto& [k, v] : options.metadata) {
      w.begin_element_struct();
      w.binary(1, k);
      w.binary(2, v);
      w.end_element_struct();
    }
    w.binary(6, kCreatedBy);
    // Column orders: every leaf sorts by its type's order (signed integers,
    // unsigned bytes for strings), which makes min_value/max_value usable.
    w.begin_list(7, thrift::kStruct, schema.size());
    for (std::size_t i = 0; i < schema.size(); ++i) {
      w.begin_element_struct();
      w.begin_struct(1);  // TypeDefinedOrder
      w.end_struct();
      w.end_element_struct();
    }
    w.end();
    return f;
  }
};

Result<std::unique_ptr<ParquetWriter>> ParquetWriter::open(Schema schema, WriterOptions options,
                                                           std::unique_ptr<OutputStream> out) {
  if (options.zstd_level < 1 || options.zstd_level > 19) {
    return Status::InvalidArgument("zstd_level: expected 1 to 19, got " + std::to_string(options.zstd_level));
  }
  if (options.row_group_rows == 0) return Status::InvalidArgument("row_group_rows: must be at least 1");
  if (options.row_group_rows > (1u << 31)) return Status::InvalidArgument("row_group_rows: at most 2^31");
  if (options.page_bytes == 0) return Status::InvalidArgument("page_bytes: must be at least 1");
  if (!out) return Status::InvalidArgument("no output stream");
  auto impl = std::make_unique<Impl>(std::move(schema), std::move(options), std::move(out));
  if (Status s = impl->out->write(kMagic); !s.ok()) {
    impl->out->abort();
    return s;
  }
  return std::unique_ptr<ParquetWriter>(new ParquetWriter(std::move(impl)));
}

ParquetWriter::ParquetWriter(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

ParquetWriter::~ParquetWriter() { abort(); }

Status ParquetWriter::write(const ColumnBatch& batch) {
  Impl& m = *impl_;
  if (!m.failed.ok()) return m.failed;
  if (!m.open) return Status::FailedPrecondition("parquet writer: write after close");
  if (Status s = validate(m.schema, batch); !s.ok()) return s;  // the file stays usable
  std::size_t row = 0;
  while (row < batch.rows) {
    std::size_t room = m.options.row_group_rows - m.buffered_rows;
    std::size_t take = std::min(room, batch.rows - row);
    if (m.buffered_rows == 0) {
      // A new row group: reserve for as many rows as it will likely hold,
      // judged from this batch against both bounds.
      std::uint64_t batch_bytes = 0;
      for (const ColumnData& c : batch.columns) batch_bytes += buffered_bytes(c);
      std::uint64_t per_row = std::max<std::uint64_t>(1, batch_bytes / std::max<std::size_t>(1, batch.rows));
      std::size_t expect =
          static_cast<std::size_t>(std::min<std::uint64_t>(room, m.options.row_group_bytes / per_row + 1));
      for (std::size_t i = 0; i < m.schema.size(); ++i) reserve_like(batch.columns[i], batch.rows, expect, m.buffer[i]);
    }
    for (std::size_t i = 0; i < m.schema.size(); ++i) {
      std::uint64_t before = buffered_bytes(m.buffer[i]);
      append_rows(m.schema[i], batch.columns[i], row, row + take, m.buffered_rows, m.buffer[i]);
      m.buffered_estimate += buffered_bytes(m.buffer[i]) - before;
    }
    m.buffered_rows += take;
    m.rows += take;
    row += take;
    if (m.buffered_rows >= m.options.row_group_rows || m.buffered_estimate >= m.options.row_group_bytes) {
      if (Status s = m.flush_row_group(); !s.ok()) return m.fail(s);
    }
  }
  return Status();
}

Result<FileSummary> ParquetWriter::close() {
  Impl& m = *impl_;
  if (!m.failed.ok()) return m.failed;
  if (!m.open) return Status::FailedPrecondition("parquet writer: already closed");
  if (Status s = m.flush_row_group(); !s.ok()) return m.fail(s);
  std::string footer = m.footer();
  auto len = static_cast<std::uint32_t>(footer.size());
  footer.append(reinterpret_cast<const char*>(&len), 4);
  footer.append(kMagic);
  if (Status s = m.out->write(footer); !s.ok()) return m.fail(s);
  FileSummary summary{
      .rows = m.rows, .bytes = m.out->position(), .row_groups = static_cast<std::uint32_t>(m.row_groups.size())};
  if (Status s = m.out->close(); !s.ok()) return m.fail(s);
  m.open = false;
  return summary;
}

void ParquetWriter::abort() {
  if (impl_ && impl_->open) {
    impl_->out->abort();
    impl_->open = false;
  }
}

std::uint64_t ParquetWriter::rows() const { return impl_->rows; }

std::uint64_t ParquetWriter::estimated_bytes() const { return impl_->out->position() + impl_->buffered_estimate / 2; }

// ---- rolling ---------------------------------------------------------------

RollingParquetWriter::RollingParquetWriter(Schema schema, WriterOptions writer, RollingOptions rolling,
                                           StreamFactory open)
    : schema_(std::move(schema)),
      writer_options_(std::move(writer)),
      rolling_(std::move(rolling)),
      open_(std::move(open)) {}

RollingParquetWriter::~RollingParquetWriter() { abort(); }

Status RollingParquetWriter::roll() {
  if (current_) {
    if (rolling_.before_commit) {
      if (Status b = rolling_.before_commit(current_name_); !b.ok()) return failed_ = b;
    }
    Result<FileSummary> s = current_->close();
    current_.reset();
    if (!s.ok()) return failed_ = s.status();
    done_.emplace_back(current_name_, *s);
  }
  char name[64];
  std::snprintf(name, sizeof name, "-%05zu.parquet", done_.size());
  current_name_ = rolling_.prefix + name;
  Result<std::unique_ptr<OutputStream>> stream = open_(current_name_);
  if (!stream.ok()) return failed_ = stream.status();
  Result<std::unique_ptr<ParquetWriter>> w = ParquetWriter::open(schema_, writer_options_, std::move(*stream));
  if (!w.ok()) return failed_ = w.status();
  current_ = std::move(*w);
  return Status();
}

Status RollingParquetWriter::write(const ColumnBatch& batch) {
  if (!failed_.ok()) return failed_;
  SLUICE_RETURN_IF_ERROR(validate(schema_, batch));
  std::size_t row = 0;
  while (row < batch.rows) {
    if (!current_ || current_->rows() >= rolling_.file_rows || current_->estimated_bytes() >= rolling_.file_bytes) {
      SLUICE_RETURN_IF_ERROR(roll());
    }
    std::size_t take = batch.rows - row;
    if (rolling_.split_batches) take = std::min<std::size_t>(take, rolling_.file_rows - current_->rows());
    ColumnBatch part;
    const ColumnBatch* src = &batch;
    if (take != batch.rows) {  // split the batch at the file boundary
      part.rows = take;
      part.columns.resize(schema_.size());
      for (std::size_t i = 0; i < schema_.size(); ++i) {
        append_rows(schema_[i], batch.columns[i], row, row + take, 0, part.columns[i]);
      }
      src = &part;
    }
    if (Status s = current_->write(*src); !s.ok()) return failed_ = s;
    row += take;
  }
  return Status();
}

Result<std::vector<std::pair<std::string, FileSummary>>> RollingParquetWriter::close() {
  if (!failed_.ok()) return failed_;
  if (current_) {
    if (rolling_.before_commit) {
      if (Status b = rolling_.before_commit(current_name_); !b.ok()) return failed_ = b;
    }
    Result<FileSummary> s = current_->close();
    current_.reset();
    if (!s.ok()) return failed_ = s.status();
    done_.emplace_back(current_name_, *s);
  }
  return done_;
}

void RollingParquetWriter::abort() {
  if (current_) current_->abort();
  current_.reset();
}

}  // namespace sluice::parquet
