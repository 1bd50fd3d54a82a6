// Thrift's compact protocol, the encoding of Parquet's metadata: a writer
// for the few structs sluice writes, and a generic reader into a tree for
// `sluice inspect` and the tests.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "sluice/status.h"

namespace sluice::parquet::thrift {

// Compact protocol type codes.
enum Type : std::uint8_t {
  kStop = 0,
  kTrue = 1,
  kFalse = 2,
  kByte = 3,
  kI16 = 4,
  kI32 = 5,
  kI64 = 6,
  kDouble = 7,
  kBinary = 8,
  kList = 9,
  kSet = 10,
  kMap = 11,
  kStruct = 12,
};

// Appends compact-protocol bytes to a string. Fields must be written in
// increasing id order within a struct (as the delta encoding prefers).
class Writer {
 public:
  explicit Writer(std::string& out) : out_(out) {}

  void i32(std::int16_t id, std::int32_t v) { header(id, kI32), zigzag(v); }
  void i64(std::int16_t id, std::int64_t v) { header(id, kI64), zigzag(v); }
  void boolean(std::int16_t id, bool v) { header(id, v ? kTrue : kFalse); }
  void binary(std::int16_t id, std::string_view v) {
    header(id, kBinary);
    raw_binary(v);
  }
  void begin_struct(std::int16_t id) {
    header(id, kStruct);
    stack_.push_back(last_);
    last_ = 0;
  }
  void end_struct() {
    out_.push_back(static_cast<char>(kStop));
    last_ = stack_.back();
    stack_.pop_back();
  }
  // A list field; then write `size` elements with the element_* calls.
  void begin_list(std::int16_t id, Type element, std::size_t size) {
    header(id, kList);
    if (size < 15) {
      out_.push_back(static_cast<char>((size << 4) | element));
    } else {
      out_.push_back(static_cast<char>(0xF0 | element));
      varint(size);
    }
  }
  void element_i32(std::int32_t v) { zigzag(v); }
  void element_binary(std::string_view v) { raw_binary(v); }
  void begin_element_struct() {
    stack_.push_back(last_);
    last_ = 0;
  }
  void end_element_struct() { end_struct(); }
  // Ends the top-level struct.
  void end() { out_.push_back(static_cast<char>(kStop)); }

 private:
  void header(std::int16_t id, Type t) {
    int delta = id - last_;
    if (delta > 0 && delta <= 15) {
      out_.push_back(static_cast<char>((delta << 4) | t));
    } else {
      out_.push_back(static_cast<char>(t));
      zigzag(id);
    }
    last_ = id;
  }
  void varint(std::uint64_t v) {
    while (v >= 0x80) {
      out_.push_back(static_cast<char>(v | 0x80));
      v >>= 7;
    }
    out_.push_back(static_cast<char>(v));
  }
  void zigzag(std::int64_t v) { varint((static_cast<std::uint64_t>(v) << 1) ^ static_cast<std::uint64_t>(v >> 63)); }
  void raw_binary(std::string_view v) {
    varint(v.size());
    out_.append(v);
  }

  std::string& out_;
  std::int16_t last_ = 0;
  std::vector<std::int16_t> stack_;
};

// A decoded value: a struct (fields by id), a list, an integer, a bool, or binary.
struct Value {
  Type type = kStop;
  std::int64_t integer = 0;  // i8..i64, and bools (0/1)
  double real = 0;
  std::string binary;
  std::vector<Value> list;
  std::map<std::int16_t, Value> fields;

  const Value* field(std::int16_t id) const {
    auto it = fields.find(id);
    return it == fields.end() ? nullptr : &it->second;
  }
  std::int64_t get_int(std::int16_t id, std::int64_t fallback = 0) const {
    const Value* v = field(id);
    return v ? v->integer : fallback;
  }
};

// Reads one struct from `data`; `consumed` gets the bytes it took. Fails
// with kDataLoss on truncated or malformed input (never reads past `data`).
Result<Value> read_struct(std::string_view data, std::size_t& consumed);

}  // namespace sluice::parquet::thrift
