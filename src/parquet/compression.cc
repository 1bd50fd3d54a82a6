#include "compression.h"

#include <lz4.h>
#include <snappy.h>
#include <zlib.h>
#include <zstd.h>

#include <algorithm>
#include <climits>

namespace sluice::parquet {

struct Compressor::Contexts {
  ZSTD_CCtx* zstd = ZSTD_createCCtx();
  ~Contexts() { ZSTD_freeCCtx(zstd); }
};

Compressor::Compressor(int zstd_level) : zstd_level_(zstd_level), ctx_(std::make_unique<Contexts>()) {}
Compressor::~Compressor() = default;

int codec_id(Compression c) {
  switch (c) {
    case Compression::kNone:
      return 0;
    case Compression::kSnappy:
      return 1;
    case Compression::kGzip:
      return 2;
    case Compression::kZstd:
      return 6;
    case Compression::kLz4Raw:
      return 7;
  }
  return 0;
}

char* Compressor::room(std::size_t n) {
  if (n > cap_) {
    cap_ = std::max(n, cap_ * 2);
    buf_.reset(new char[cap_]);
  }
  return buf_.get();
}

Result<std::string_view> Compressor::compress(Compression codec, std::string_view in) {
  if (in.size() > INT_MAX) return Status::ResourceExhausted("page larger than 2 GiB");
  switch (codec) {
    case Compression::kNone:
      return in;
    case Compression::kZstd: {
      std::size_t bound = ZSTD_compressBound(in.size());
      char* out = room(bound);
      std::size_t n = ZSTD_compressCCtx(ctx_->zstd, out, bound, in.data(), in.size(), zstd_level_);
      if (ZSTD_isError(n)) return Status::Internal(std::string("zstd: ") + ZSTD_getErrorName(n));
      return std::string_view(out, n);
    }
    case Compression::kSnappy: {
      char* out = room(snappy::MaxCompressedLength(in.size()));
      std::size_t n = 0;
      snappy::RawCompress(in.data(), in.size(), out, &n);
      return std::string_view(out, n);
    }
    case Compression::kGzip: {
      z_stream zs{};
      // 15 + 16: a 32 KiB window with a gzip header, as Parquet's GZIP codec is.
      if (deflateInit2(&zs, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
        return Status::Internal("gzip: deflateInit2 failed");
      }
      std::size_t bound = deflateBound(&zs, in.size());
      char* out = room(bound);
      zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
      zs.avail_in = static_cast<uInt>(in.size());
      zs.next_out = reinterpret_cast<Bytef*>(out);
      zs.avail_out = static_cast<uInt>(bound);
      int rc = deflate(&zs, Z_FINISH);
      std::size_t n = zs.total_out;
      deflateEnd(&zs);
      if (rc != Z_STREAM_END) return Status::Internal("gzip: deflate failed");
      return std::string_view(out, n);
    }
    case Compression::kLz4Raw: {
      int bound = LZ4_compressBound(static_cast<int>(in.size()));
      char* out = room(static_cast<std::size_t>(bound));
      int n = LZ4_compress_default(in.data(), out, static_cast<int>(in.size()), bound);
      if (n <= 0) return Status::Internal("lz4: compression failed");
      return std::string_view(out, static_cast<std::size_t>(n));
    }
  }
  return Status::Internal("unknown codec");
}

Status decompress(Compression codec, std::string_view in, std::size_t size, std::string& out) {
  out.resize(size);
  auto bad = [&](const char* name) {
    return Status::DataLoss(std::string(name) + ": page does not decompress to its stated size");
  };
  switch (codec) {
    case Compression::kNone:
      if (in.size() != size) return bad("uncompressed");
      out.assign(in);
      return Status();
    case Compression::kZstd: {
      std::size_t n = ZSTD_decompress(out.data(), size, in.data(), in.size());
      if (ZSTD_isError(n) || n != size) return bad("zstd");
      return Status();
    }
    case Compression::kSnappy: {
      std::size_t n = 0;
      if (!snappy::GetUncompressedLength(in.data(), in.size(), &n) || n != size ||
          !snappy::RawUncompress(in.data(), in.size(), out.data())) {
        return bad("snappy");
      }
      return Status();
    }
    case Compression::kGzip: {
      z_stream zs{};
      if (inflateInit2(&zs, 15 + 32) != Z_OK) return bad("gzip");
      zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
      zs.avail_in = static_cast<uInt>(in.size());
      zs.next_out = reinterpret_cast<Bytef*>(out.data());
      zs.avail_out = static_cast<uInt>(size);
      int rc = inflate(&zs, Z_FINISH);
      std::size_t n = zs.total_out;
      inflateEnd(&zs);
      if (rc != Z_STREAM_END || n != size) return bad("gzip");
      return Status();
    }
    case Compression::kLz4Raw: {
      int n = LZ4_decompress_safe(in.data(), out.data(), static_cast<int>(in.size()), static_cast<int>(size));
      if (n < 0 || static_cast<std::size_t>(n) != size) return bad("lz4");
      return Status();
    }
  }
  return Status::DataLoss("unknown codec");
}

}  // namespace sluice::parquet
