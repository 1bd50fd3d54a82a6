#include "pipeline/data/key_set.h"

#include <limits>

namespace sluice::pipeline {

namespace {

// splitmix64's finaliser: a bijection, so distinct int64 keys stay distinct.
std::uint64_t mix(std::uint64_t x) {
  x += 0x9E3779B97F4A7C15ULL;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
  return x ^ (x >> 31);
}

std::uint64_t hash_bytes(std::uint64_t h, const void* data, std::size_t n) {
  const auto* p = static_cast<const unsigned char*>(data);
  for (std::size_t i = 0; i < n; ++i) h = (h ^ p[i]) * 0x100000001B3ULL;  // FNV-1a, then mixed below
  return mix(h);
}

}  // namespace

std::uint64_t KeySet::fingerprint(const std::vector<const Value*>& key) {
  if (key.size() == 1 && key[0]->type() == Type::kInt64) return mix(static_cast<std::uint64_t>(key[0]->as_int()));
  std::uint64_t h = 0xCBF29CE484222325ULL;
  for (const Value* v : key) {
    const auto type = static_cast<unsigned char>(v->type());
    h = hash_bytes(h, &type, 1);  // 1 and "1" are different keys
    switch (v->type()) {
      case Type::kInt64: {
        const std::int64_t i = v->as_int();
        h = hash_bytes(h, &i, sizeof i);
        break;
      }
      case Type::kDouble: {
        const double d = v->as_double();
        h = hash_bytes(h, &d, sizeof d);
        break;
      }
      case Type::kBool: {
        const unsigned char b = v->as_bool() ? 1 : 0;
        h = hash_bytes(h, &b, 1);
        break;
      }
      case Type::kString: {
        const std::string& s = v->as_string();
        const std::uint64_t n = s.size();
        h = hash_bytes(hash_bytes(h, &n, sizeof n), s.data(), s.size());  // the length first: ("ab","c") != ("a","bc")
        break;
      }
      case Type::kNull:
        break;
    }
  }
  return h;
}

bool KeySet::insert(std::uint64_t f) {
  if (f == 0) {
    if (has_zero_) return false;
    has_zero_ = true;
    ++size_;
    return true;
  }
  if ((size_ + 1) * 4 > slots_.size() * 3) grow();
  const std::size_t mask = slots_.size() - 1;
  for (std::size_t i = static_cast<std::size_t>(f) & mask;; i = (i + 1) & mask) {
    if (slots_[i] == f) return false;
    if (slots_[i] == 0) {
      slots_[i] = f;
      ++size_;
      return true;
    }
  }
}

void KeySet::grow() {
  std::vector<std::uint64_t> old = std::move(slots_);
  slots_.assign(old.empty() ? 1024 : 2 * old.size(), 0);
  const std::size_t mask = slots_.size() - 1;
  for (std::uint64_t f : old) {
    if (f == 0) continue;
    std::size_t i = static_cast<std::size_t>(f) & mask;
    while (slots_[i] != 0) i = (i + 1) & mask;
    slots_[i] = f;
  }
}

bool KeySet::in_table(std::uint64_t f) const {
  if (f == 0) return has_zero_;
  if (slots_.empty()) return false;
  const std::size_t mask = slots_.size() - 1;
  for (std::size_t i = static_cast<std::size_t>(f) & mask;; i = (i + 1) & mask) {
    if (slots_[i] == f) return true;
    if (slots_[i] == 0) return false;
  }
}

bool KeySet::in_runs(std::int64_t key) const {
  auto it = runs_.upper_bound(key);  // the first run starting after key
  if (it == runs_.begin()) return false;
  --it;
  return key <= it->second;
}

// The run being extended ends: kept as a run if long enough, else its keys
// go into the table.
void KeySet::close_run() {
  if (!run_open_) return;
  run_open_ = false;
  if (run_last_ - run_first_ + 1 >= kMinRun) {
    runs_.emplace(run_first_, run_last_);
    return;
  }
  const std::size_t before = size_;
  for (std::int64_t k = run_first_;; ++k) {
    insert(mix(static_cast<std::uint64_t>(k)));
    if (k == run_last_) break;
  }
  size_ = before;  // counted when they came
}

bool KeySet::insert_int(std::int64_t key) {
  if (run_open_ && key >= run_first_ && key <= run_last_) return false;
  if (in_runs(key) || in_table(mix(static_cast<std::uint64_t>(key)))) return false;
  ++size_;
  if (run_open_ && run_last_ != std::numeric_limits<std::int64_t>::max() && key == run_last_ + 1) {
    run_last_ = key;
    return true;
  }
  close_run();
  run_open_ = true;
  run_first_ = run_last_ = key;
  return true;
}

std::size_t KeySet::memory_bytes() const {
  constexpr std::size_t kNodeBytes = 48;  // a map node of two int64s, as glibc allocates it
  return slots_.capacity() * sizeof(std::uint64_t) + runs_.size() * kNodeBytes;
}

}  // namespace sluice::pipeline
