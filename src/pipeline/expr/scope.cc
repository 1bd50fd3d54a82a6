// Scopes: the names an expression may use, and the nearest known name for
// one that is not (a suggestion in the error).
#include <algorithm>
#include <numeric>

#include "pipeline/expr/expr.h"

namespace sluice::pipeline {

// ---- scope -----------------------------------------------------------------

const std::pair<int, Type>* Scope::scalar(std::string_view name) const {
  auto it = scalars_.find(name);
  return it == scalars_.end() ? nullptr : &it->second;
}

const Scope::Array* Scope::array(std::string_view name) const {
  auto it = arrays_.find(name);
  return it == arrays_.end() ? nullptr : &it->second;
}

const std::pair<int, Type>* Scope::list(std::string_view name) const {
  auto it = lists_.find(name);
  return it == lists_.end() ? nullptr : &it->second;
}

namespace {

std::size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> row(b.size() + 1);
  std::iota(row.begin(), row.end(), 0);
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t prev = row[0]++;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      std::size_t cur = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, prev + (a[i - 1] != b[j - 1])});
      prev = cur;
    }
  }
  return row[b.size()];
}

}  // namespace

std::string Scope::suggest(std::string_view name) const {
  std::string best;
  std::size_t best_d = 3;  // at most two edits away
  auto consider = [&](const std::string& n) {
    std::size_t d = edit_distance(name, n);
    if (d < best_d) best_d = d, best = n;
  };
  for (const auto& [n, _] : scalars_) consider(n);
  for (const auto& [n, _] : lists_) consider(n);
  for (const auto& [n, a] : arrays_) {
    consider(n);
    for (const auto& field : a.fields) consider(n + "." + field.first);
  }
  return best;
}

}  // namespace sluice::pipeline
