#include "pipeline/json/array_reader.h"

#include <simdjson.h>

#include <charconv>
#include <cstdint>
#include <cstring>
#include <limits>

#include "sluice/detail/json.h"

namespace sluice::pipeline::detail {
namespace {

constexpr int kMaxDepth = 1024;  // as simdjson's DOM parser

// A member's value as read, before it is checked against the field's type.
enum class Kind : std::uint8_t { kAbsent, kNull, kInt, kUint, kDouble, kString, kBool, kOther };

struct Slot {
  Kind kind = Kind::kAbsent;
  bool b = false;
  std::int64_t i = 0;
  double d = 0;
  std::string_view s;  // into the body, or into `unescaped`
  std::string unescaped;
};

bool is_digit(char c) { return static_cast<unsigned char>(c - '0') < 10; }
bool is_space(char c) { return c == ' ' || c == '\n' || c == '\r' || c == '\t'; }

// 10^0 .. 10^22: every one exact in a double.
constexpr double kPow10[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,  1e8,  1e9,  1e10, 1e11,
                             1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

// The value of 8 ASCII digits, the first most significant, in three steps:
// adjacent digits into pairs, pairs into fours, fours into the whole.
std::uint64_t eight_digits_value(const char* p) {
  std::uint64_t v;
  std::memcpy(&v, p, 8);
  v -= 0x3030303030303030;
  v = v * 10 + (v >> 8);  // byte 2k: the pair of digits 2k, 2k+1
  const std::uint64_t pairs_02 = v & 0x000000FF000000FF;
  const std::uint64_t pairs_13 = (v >> 16) & 0x000000FF000000FF;
  return (pairs_02 * (100 + (1000000ULL << 32)) + pairs_13 * (1 + (10000ULL << 32))) >> 32;
}

std::uint64_t load8(const char* p) {
  std::uint64_t v;
  std::memcpy(&v, p, 8);
  return v;
}

// How many of the 8 bytes of v (the first in its low byte) are ASCII digits
// before the first that is not. A carry out of a byte above 0xF9 can only
// spoil the test of the bytes after it, which the count does not reach.
int leading_digits(std::uint64_t v) {
  constexpr std::uint64_t kHighNibbles = 0xF0F0F0F0F0F0F0F0, kThrees = 0x3030303030303030;
  const std::uint64_t other = ((v & kHighNibbles) ^ kThrees) | (((v + 0x0606060606060606) & kHighNibbles) ^ kThrees);
  return other == 0 ? 8 : __builtin_ctzll(other) / 8;
}

// The value of the first n (1 to 8) digit bytes of v: they are moved up
// and '0's put before them, making 8 digits of the same value.
std::uint64_t digits_value(std::uint64_t v, int n) {
  if (n < 8) v = (v << (8 * (8 - n))) | (0x3030303030303030ULL >> (8 * n));
  char bytes[8];
  std::memcpy(bytes, &v, 8);
  return eight_digits_value(bytes);
}

constexpr std::uint64_t kPow10Int[] = {1, 10, 100, 1000, 10000, 100000, 1000000, 10000000, 100000000};

// The bytes among the 8 at p that end a string's plain run ('"', '\\', a
// control character), each as its high bit; exact up to the first of them.
// (A byte b < n, for n <= 128, is one whose b - n borrows into its high bit
// while b's own high bit is clear; a borrow only spoils the bytes after it.)
std::uint64_t special_bytes(const char* p) {
  constexpr std::uint64_t kOnes = 0x0101010101010101, kHigh = 0x8080808080808080;
  const std::uint64_t v = load8(p);
  const std::uint64_t quote = v ^ (kOnes * '"'), backslash = v ^ (kOnes * '\\');
  return ((v - kOnes * 0x20) | (quote - kOnes) | (backslash - kOnes)) & ~v & kHigh;
}

int hex_digit(char c) {
  if (is_digit(c)) return c - '0';
  const char l = static_cast<char>(c | 0x20);
  return l >= 'a' && l <= 'f' ? l - 'a' + 10 : -1;
}

void append_utf8(std::string& out, std::uint32_t cp) {
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

// Where the array at the path stands after the members read so far; a later
// occurrence of a key on the path replaces what an earlier one gave.
enum class Outcome : std::uint8_t { kMissing, kRows, kNotArray, kNotObject, kFieldMissing, kWrongType };

// The recursive-descent reader. Every function returns false once the JSON
// is malformed, with the reason and offset kept; the text ends in a NUL
// (std::string's terminator), which no valid JSON holds outside a string
// and none inside one, so the scan needs no bounds check but at a NUL.
class Reader {
 public:
  Reader(const std::string& body, const std::vector<std::string>& path, const std::vector<FieldSpec>& fields,
         ArrayData& out)
      : begin_(body.data()), end_(body.data() + body.size()), p_(begin_), path_(path), fields_(fields), out_(out) {
    slots_.resize(fields.size());
    base_rows_ = out.rows;
    for (const ArrayColumn& c : out.columns) {
      base_.push_back({c.i64.size(), c.f64.size(), c.offsets.size(), c.bytes.size(), c.valid.size()});
    }
  }

  bool document() {
    skip_space();
    if (p_ == end_) return fail("empty answer");
    if (!(path_.empty() ? array(1) : walk(0, 0))) return false;
    skip_space();
    return p_ == end_ || fail("more after the JSON value");
  }

  Status result(const std::string& path_name) const {
    if (error_ != nullptr) {
      return Status::DataLoss("malformed JSON at byte " + std::to_string(error_at_) + ": " + error_);
    }
    // Well-formed JSON not shaped as the step says: asking again would get
    // the same (kFailedPrecondition; malformed JSON above is kDataLoss).
    const std::string where = "array '" + path_name + "'";
    switch (outcome_) {
      case Outcome::kRows:
        return Status();
      case Outcome::kMissing:
        return Status::FailedPrecondition(where + ": no such field");
      case Outcome::kNotArray:
        return Status::FailedPrecondition(where + ": not an array");
      case Outcome::kNotObject:
        return Status::FailedPrecondition(where + ", element " + std::to_string(bad_row_) + ": not an object");
      case Outcome::kFieldMissing:
        return Status::FailedPrecondition(where + ", element " + std::to_string(bad_row_) + ": field '" +
                                          fields_[bad_field_].path + "' is missing");
      case Outcome::kWrongType:
        return Status::FailedPrecondition(where + ", element " + std::to_string(bad_row_) + ", field '" +
                                          fields_[bad_field_].path + "': expected " +
                                          std::string(type_name(fields_[bad_field_].type)));
    }
    return Status();
  }

 private:
  struct Sizes {
    std::size_t i64, f64, offsets, bytes, valid;
  };

  [[gnu::cold, gnu::noinline]] bool fail(const char* why) {
    if (error_ == nullptr) {
      error_ = why;
      error_at_ = static_cast<std::size_t>(p_ - begin_);
    }
    return false;
  }

  void skip_space() {
    while (is_space(*p_)) ++p_;
  }

  // A key on the path was met again (or first): what came before is void.
  void restart() {
    outcome_ = Outcome::kMissing;
    out_.rows = base_rows_;
    for (std::size_t c = 0; c < out_.columns.size(); ++c) {
      ArrayColumn& col = out_.columns[c];
      col.i64.resize(base_[c].i64);
      col.f64.resize(base_[c].f64);
      col.offsets.resize(base_[c].offsets);
      col.bytes.resize(base_[c].bytes);
      col.valid.resize(base_[c].valid);
    }
  }

  // At the value of the object at path level `level` (the root for 0).
  bool walk(std::size_t level, int depth) {
    if (*p_ != '{') return value(depth);  // not an object: the path has no array (restart() said so)
    return object(depth + 1, [&](std::string_view key, int d) {
      if (key != path_[level]) return value(d);
      restart();
      return level + 1 == path_.size() ? array(d) : walk(level + 1, d);
    });
  }

  // Calls member(key, depth) at each member's value, which it must read.
  template <class Member>
  bool object(int depth, Member&& member) {
    if (depth > kMaxDepth) return fail("nested too deep");
    ++p_;  // '{'
    skip_space();
    if (*p_ == '}') {
      ++p_;
      return true;
    }
    for (;;) {
      if (*p_ != '"') return fail("expected a key");
      std::string_view key;
      if (!string(key, key_unescaped_)) return false;
      skip_space();
      if (*p_ != ':') return fail("expected ':'");
      ++p_;
      skip_space();
      if (!member(key, depth)) return false;
      skip_space();
      if (*p_ == ',') {
        ++p_;
        skip_space();
        continue;
      }
      if (*p_ == '}') {
        ++p_;
        return true;
      }
      return fail("expected ',' or '}'");
    }
  }

  // The array at the path: one row per element.
  bool array(int depth) {
    if (*p_ != '[') {
      outcome_ = Outcome::kNotArray;
      return value(depth);
    }
    outcome_ = Outcome::kRows;
    return items(depth + 1, [&](int d) { return element(d); });
  }

  // At '['. Calls item(depth) at each element, which it must read.
  template <class Item>
  bool items(int depth, Item&& item) {
    if (depth > kMaxDepth) return fail("nested too deep");
    ++p_;  // '['
    skip_space();
    if (*p_ == ']') {
      ++p_;
      return true;
    }
    for (;;) {
      if (!item(depth)) return false;
      skip_space();
      if (*p_ == ',') {
        ++p_;
        skip_space();
        continue;
      }
      if (*p_ == ']') {
        ++p_;
        return true;
      }
      return fail("expected ',' or ']'");
    }
  }

  bool element(int depth) {
    if (outcome_ != Outcome::kRows) return value(depth);  // this occurrence failed already: check the rest
    if (*p_ != '{') {
      outcome_ = Outcome::kNotObject;
      bad_row_ = out_.rows;
      return value(depth);
    }
    for (Slot& s : slots_) s.kind = Kind::kAbsent;
    const bool ok = object(depth + 1, [&](std::string_view key, int d) {
      for (std::size_t i = 0; i < fields_.size(); ++i) {
        const std::string& want = fields_[i].path;
        if (key.size() == want.size() && (key.size() == 1 ? key[0] == want[0] : key == want)) {
          return member(slots_[i], d);
        }
      }
      return value(d);
    });
    return ok && append_row();
  }

  // A field's value, kept until the element ends (a later repeat replaces it).
  bool member(Slot& s, int depth) {
    switch (*p_) {
      case '"':
        s.kind = Kind::kString;
        return string(s.s, s.unescaped);
      case 'n':
        s.kind = Kind::kNull;
        return literal("null");
      case 't':
      case 'f':
        s.kind = Kind::kBool;
        s.b = *p_ == 't';
        return literal(s.b ? "true" : "false");
      case '{':
      case '[':
        s.kind = Kind::kOther;
        return value(depth);
      default:
        return number(s);
    }
  }

  bool append_row() {
    const std::size_t row = out_.rows;
    for (std::size_t i = 0; i < fields_.size(); ++i) {
      const Slot& s = slots_[i];
      ArrayColumn& c = out_.columns[i];
      if (s.kind == Kind::kAbsent && !fields_[i].optional) {
        outcome_ = Outcome::kFieldMissing;
        bad_row_ = row;
        bad_field_ = i;
        return true;
      }
      const bool null = s.kind == Kind::kAbsent || s.kind == Kind::kNull;
      bool fits = true;
      switch (c.type) {
        case Type::kInt64:
          fits = null || s.kind == Kind::kInt;
          if (fits) c.i64.push_back(null ? 0 : s.i);
          break;
        case Type::kBool:
          fits = null || s.kind == Kind::kBool;
          if (fits) c.i64.push_back(!null && s.b);
          break;
        case Type::kDouble:
          fits = null || s.kind == Kind::kInt || s.kind == Kind::kUint || s.kind == Kind::kDouble;
          if (fits) c.f64.push_back(null ? 0 : s.d);
          break;
        case Type::kString:
          fits = null || s.kind == Kind::kString;
          if (fits) c.push_str(null ? std::string_view() : s.s);
          break;
        case Type::kNull:
          break;
      }
      if (!fits) {
        outcome_ = Outcome::kWrongType;
        bad_row_ = row;
        bad_field_ = i;
        return true;
      }
      if (null) {
        if (c.valid.empty()) c.valid.assign(row, 1);
        c.valid.push_back(0);
      } else if (!c.valid.empty()) {
        c.valid.push_back(1);
      }
    }
    ++out_.rows;
    return true;
  }

  // Any value, checked and passed over.
  bool value(int depth) {
    switch (*p_) {
      case '{':
        return object(depth + 1, [&](std::string_view, int d) { return value(d); });
      case '[':
        return items(depth + 1, [&](int d) { return value(d); });
      case '"': {
        std::string_view s;
        return string(s, scratch_);
      }
      case 't':
        return literal("true");
      case 'f':
        return literal("false");
      case 'n':
        return literal("null");
      default: {
        Slot s;
        return number(s);
      }
    }
  }

  bool literal(const char* word) {
    const std::size_t n = std::strlen(word);
    if (static_cast<std::size_t>(end_ - p_) < n || std::memcmp(p_, word, n) != 0) return fail("bad literal");
    p_ += n;
    return true;
  }

  // At '"'. Without escapes the view is into the body; else into `unescaped`.
  bool string(std::string_view& out, std::string& unescaped) {
    const char* start = ++p_;
    // 8 bytes at a time, to the first byte that may end the plain run.
    while (end_ - p_ >= 8) {
      const std::uint64_t special = special_bytes(p_);
      if (special != 0) {
        p_ += __builtin_ctzll(special) / 8;
        break;
      }
      p_ += 8;
    }
    for (;;) {
      const auto c = static_cast<unsigned char>(*p_);
      if (c == '"') {
        out = std::string_view(start, static_cast<std::size_t>(p_ - start));
        ++p_;
        return true;
      }
      if (c == '\\') break;
      if (c < 0x20) return fail(p_ == end_ ? "unterminated string" : "control character in a string");
      ++p_;
    }
    unescaped.assign(start, p_);
    for (;;) {
      const auto c = static_cast<unsigned char>(*p_);
      if (c == '"') {
        ++p_;
        out = unescaped;
        return true;
      }
      if (c < 0x20) return fail(p_ == end_ ? "unterminated string" : "control character in a string");
      if (c != '\\') {
        unescaped.push_back(static_cast<char>(c));
        ++p_;
        continue;
      }
      ++p_;
      const char e = *p_++;
      switch (e) {
        case '"':
        case '\\':
        case '/':
          unescaped.push_back(e);
          break;
        case 'b':
          unescaped.push_back('\b');
          break;
        case 'f':
          unescaped.push_back('\f');
          break;
        case 'n':
          unescaped.push_back('\n');
          break;
        case 'r':
          unescaped.push_back('\r');
          break;
        case 't':
          unescaped.push_back('\t');
          break;
        case 'u': {
          std::uint32_t cp = 0;
          if (!hex4(cp)) return false;
          if (cp >= 0xD800 && cp < 0xDC00) {  // a high surrogate: its low half must follow
            std::uint32_t low = 0;
            if (p_[0] != '\\' || p_[1] != 'u') return fail("unpaired surrogate");
            p_ += 2;
            if (!hex4(low)) return false;
            if (low < 0xDC00 || low >= 0xE000) return fail("unpaired surrogate");
            cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
          } else if (cp >= 0xDC00 && cp < 0xE000) {
            return fail("unpaired surrogate");
          }
          append_utf8(unescaped, cp);
          break;
        }
        default:
          --p_;
          return fail("bad escape");
      }
    }
  }

  bool hex4(std::uint32_t& cp) {
    for (int k = 0; k < 4; ++k) {
      const int h = hex_digit(p_[k]);
      if (h < 0) return fail("bad \\u escape");
      cp = cp << 4 | static_cast<std::uint32_t>(h);
    }
    p_ += 4;
    return true;
  }

  // A number as JSON writes it: an integer when it has no fraction or
  // exponent and fits 64 bits, else a double rounded correctly.
  bool number(Slot& s) {
    const char* start = p_;
    const bool negative = *p_ == '-';
    if (negative) ++p_;
    if (!is_digit(*p_)) return fail("expected a value");
    std::uint64_t mantissa = 0;
    int digits = 0;     // significant digits taken into `mantissa` (at most 19)
    bool lost = false;  // a nonzero digit past the 19th
    int dropped = 0;    // integer digits past the 19th (their power of ten)
    int int_digits = 0;
    if (*p_ == '0') {
      ++p_;
      if (is_digit(*p_)) return fail("leading zero in a number");
    } else {
      digit_runs(mantissa, digits, int_digits);
      for (; is_digit(*p_); ++p_, ++int_digits) {
        if (digits < 19) {
          mantissa = mantissa * 10 + static_cast<std::uint64_t>(*p_ - '0');
          ++digits;
        } else {
          lost |= *p_ != '0';
          ++dropped;
        }
      }
    }
    const bool integer = *p_ != '.' && *p_ != 'e' && *p_ != 'E';
    if (integer) {
      if (int_digits > 20) return fail("integer out of range");
      std::uint64_t u = mantissa;
      if (dropped == 1) {  // a 20-digit integer: fits 64 bits or not
        if (__builtin_mul_overflow(u, 10, &u) ||
            __builtin_add_overflow(u, static_cast<std::uint64_t>(p_[-1] - '0'), &u))
          return fail("integer out of range");
      }
      if (negative) {
        if (u > (std::uint64_t{1} << 63)) return fail("integer out of range");
        s.kind = Kind::kInt;
        s.i = static_cast<std::int64_t>(0 - u);
        s.d = static_cast<double>(s.i);  // "-0" is 0, not -0.0
      } else if (u <= static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
        s.kind = Kind::kInt;
        s.i = static_cast<std::int64_t>(u);
        s.d = static_cast<double>(u);
      } else {
        s.kind = Kind::kUint;
        s.d = static_cast<double>(u);
      }
      return true;
    }
    int exp10 = dropped;
    if (*p_ == '.') {
      ++p_;
      if (!is_digit(*p_)) return fail("expected a digit after '.'");
      if (mantissa != 0) {  // (leading zeros of a fraction take the loop below)
        int fraction_digits = 0;
        digit_runs(mantissa, digits, fraction_digits);
        exp10 -= fraction_digits;
      }
      for (; is_digit(*p_); ++p_) {
        if (mantissa == 0 && *p_ == '0') {  // leading zeros of the fraction are no digits
          --exp10;
        } else if (digits < 19) {
          mantissa = mantissa * 10 + static_cast<std::uint64_t>(*p_ - '0');
          ++digits;
          --exp10;
        } else {
          lost |= *p_ != '0';
        }
      }
    }
    if (*p_ == 'e' || *p_ == 'E') {
      ++p_;
      const bool exp_negative = *p_ == '-';
      if (*p_ == '-' || *p_ == '+') ++p_;
      if (!is_digit(*p_)) return fail("expected a digit in the exponent");
      int e = 0;
      for (; is_digit(*p_); ++p_) {
        if (e < 100000) e = e * 10 + (*p_ - '0');
      }
      exp10 += exp_negative ? -e : e;
    }
    s.kind = Kind::kDouble;
    if (mantissa == 0) {
      s.d = negative ? -0.0 : 0.0;
      return true;
    }
    // Exact operands and one rounding (Clinger's fast path); else the
    // standard library's correctly rounded conversion of the text.
    if (!lost && mantissa <= (std::uint64_t{1} << 53) && exp10 >= -22 && exp10 <= 22) {
      const double m = static_cast<double>(static_cast<std::int64_t>(mantissa));  // below 2^53: one signed convert
      s.d = exp10 < 0 ? m / kPow10[-exp10] : m * kPow10[exp10];
      if (negative) s.d = -s.d;
      return true;
    }
    return slow_double(start, negative, exp10 + digits - 1, s);
  }

  // Digits at p_ taken into `mantissa` up to 8 at a time (and counted in
  // `digits` and `run`), while 19 significant digits are not passed and 8
  // bytes are left to load; the caller's byte loop takes what remains.
  void digit_runs(std::uint64_t& mantissa, int& digits, int& run) {
    while (end_ - p_ >= 8) {
      const std::uint64_t v = load8(p_);
      const int n = leading_digits(v);
      if (n == 0 || digits + n > 19) return;
      mantissa = mantissa * kPow10Int[n] + digits_value(v, n);
      p_ += n;
      digits += n;
      run += n;
      if (n < 8) return;
    }
  }

  // The text [start, p_) by the standard library; `magnitude` is the power
  // of ten of its leading digit. Rare: long mantissas, large exponents.
  [[gnu::noinline]] bool slow_double(const char* start, bool negative, int magnitude, Slot& s) {
    double d = 0;
    const auto [ptr, ec] = std::from_chars(start, p_, d);
    if (ec == std::errc::result_out_of_range) {
      // Too small is zero, as simdjson reads it; too large is an error.
      if (magnitude < 0) {
        s.d = negative ? -0.0 : 0.0;
        return true;
      }
      return fail("number out of range");
    }
    if (ec != std::errc() || ptr != p_) return fail("bad number");
    s.d = d;
    return true;
  }

  const char* begin_;
  const char* end_;
  const char* p_;
  const std::vector<std::string>& path_;
  const std::vector<FieldSpec>& fields_;
  ArrayData& out_;
  std::vector<Slot> slots_;
  std::string key_unescaped_, scratch_;
  std::size_t base_rows_ = 0;
  std::vector<Sizes> base_;

  Outcome outcome_ = Outcome::kMissing;
  std::size_t bad_row_ = 0, bad_field_ = 0;
  const char* error_ = nullptr;
  std::size_t error_at_ = 0;
};

}  // namespace

Status read_array(const std::string& body, const std::vector<std::string>& path, const std::string& path_name,
                  const std::vector<FieldSpec>& fields, ArrayData& out) {
  if (!sluice::detail::valid_utf8(body)) return Status::DataLoss("malformed JSON: not UTF-8");
  Reader reader(body, path, fields, out);
  reader.document();
  return reader.result(path_name);
}

}  // namespace sluice::pipeline::detail
