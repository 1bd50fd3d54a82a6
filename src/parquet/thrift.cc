#include "thrift.h"

#include <cstring>

namespace sluice::parquet::thrift {
namespace {

constexpr int kMaxDepth = 64;  // deeper nesting is malformed input, not Parquet

class Reader {
 public:
  explicit Reader(std::string_view d) : data_(d) {}
  std::size_t pos() const { return pos_; }

  Status read_struct(Value& v, int depth) {
    if (depth > kMaxDepth) return bad("nesting too deep");
    v.type = kStruct;
    std::int16_t last = 0;
    for (;;) {
      std::uint8_t h;
      if (!byte(h)) return bad("truncated struct");
      if (h == kStop) return Status();
      auto t = static_cast<Type>(h & 0x0F);
      std::int16_t id;
      if ((h >> 4) != 0) {
        id = static_cast<std::int16_t>(last + (h >> 4));
      } else {
        std::int64_t raw;
        if (!zigzag(raw)) return bad("truncated field id");
        id = static_cast<std::int16_t>(raw);
      }
      last = id;
      Value& f = v.fields[id];
      SLUICE_RETURN_IF_ERROR(read_value(t, f, depth + 1));
    }
  }

 private:
  Status read_value(Type t, Value& v, int depth) {
    v.type = t;
    switch (t) {
      case kTrue:
        v.integer = 1;
        return Status();
      case kFalse:
        v.integer = 0;
        return Status();
      case kByte: {
        std::uint8_t b;
        if (!byte(b)) return bad("truncated byte");
        v.integer = static_cast<std::int8_t>(b);  // NOLINT(bugprone-signed-char-misuse): Thrift's byte is signed
        return Status();
      }
      case kI16:
      case kI32:
      case kI64:
        if (!zigzag(v.integer)) return bad("truncated integer");
        return Status();
      case kDouble: {
        if (data_.size() - pos_ < 8) return bad("truncated double");
        std::memcpy(&v.real, data_.data() + pos_, 8);
        pos_ += 8;
        return Status();
      }
      case kBinary: {
        std::uint64_t n;
        if (!varint(n) || n > data_.size() - pos_) return bad("truncated binary");
        v.binary.assign(data_.substr(pos_, n));
        pos_ += n;
        return Status();
      }
      case kList:
      case kSet: {
        std::uint8_t h;
        if (!byte(h)) return bad("truncated list");
        std::uint64_t n = h >> 4;
        if (n == 15 && !varint(n)) return bad("truncated list size");
        if (n > data_.size() - pos_) return bad("list longer than the data");
        auto et = static_cast<Type>(h & 0x0F);
        v.list.resize(n);
        for (auto& e : v.list) {
          if (et == kTrue || et == kFalse) {  // list bools are one byte each
            std::uint8_t b;
            if (!byte(b)) return bad("truncated bool");
            e.type = et;
            e.integer = b == 1;
            continue;
          }
          SLUICE_RETURN_IF_ERROR(read_value(et, e, depth + 1));
        }
        return Status();
      }
      case kStruct:
        return read_struct(v, depth);
      default:
        return bad("unknown type " + std::to_string(static_cast<int>(t)));
    }
  }

  bool byte(std::uint8_t& b) {
    if (pos_ >= data_.size()) return false;
    b = static_cast<std::uint8_t>(data_[pos_++]);
    return true;
  }
  bool varint(std::uint64_t& v) {
    v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      std::uint8_t b;
      if (!byte(b)) return false;
      v |= static_cast<std::uint64_t>(b & 0x7F) << shift;
      if ((b & 0x80) == 0) return true;
    }
    return false;
  }
  bool zigzag(std::int64_t& v) {
    std::uint64_t u;
    if (!varint(u)) return false;
    v = static_cast<std::int64_t>(u >> 1) ^ -static_cast<std::int64_t>(u & 1);
    return true;
  }
  Status bad(const std::string& what) const {
    return Status::DataLoss("thrift metadata at byte " + std::to_string(pos_) + ": " + what);
  }

  std::string_view data_;
  std::size_t pos_ = 0;
};

}  // namespace

Result<Value> read_struct(std::string_view data, std::size_t& consumed) {
  Reader r(data);
  Value v;
  SLUICE_RETURN_IF_ERROR(r.read_struct(v, 0));
  consumed = r.pos();
  return v;
}

}  // namespace sluice::parquet::thrift
