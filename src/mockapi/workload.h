// The reference workload ("item features"): its hash, its records, its
// entities dataset and its API's answers, exactly as specified. Deterministic:
// the same id always gives the same bytes.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "sluice/status.h"

namespace sluice::mockapi {

// splitmix64's finaliser; all arithmetic wraps modulo 2^64.
constexpr std::uint64_t mix(std::uint64_t x) {
  x += 0x9E3779B97F4A7C15ULL;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
  return x ^ (x >> 31);
}

inline constexpr std::uint64_t kEventsPerPage = 200;

// Pages of events item `id` has: 1 + (mix(id) >> 16) % 4.
constexpr std::uint64_t pages_of(std::uint64_t id) { return 1 + (mix(id) >> 16) % 4; }

// GET /v1/items/{id}: {"id", "score", "pages", "kind", "name"}.
void append_item_json(std::uint64_t id, std::string& out);
// GET /v1/items/{id}/pages: {"id", "pages": [0, 1, ...]}, the item's page
// numbers as a list (not part of the reference workload: it lets a pipeline
// fan out over an array of an earlier answer).
void append_pages_json(std::uint64_t id, std::string& out);
// GET /v1/items/{id}/events?page=p: {"id", "page", "events": [200 x {"t","v","c"}]}.
// REQUIRES: page < pages_of(id).
void append_events_json(std::uint64_t id, std::uint64_t page, std::string& out);

// The entities row of `id`, if the dataset has one (about 90 % of ids).
struct Entity {
  std::string region;
  std::string segment;
  std::string weight;  // exactly as the CSV holds it ("12.34")
};
std::optional<Entity> entity_of(std::uint64_t id);

// records.csv (header "id", ids 1..n) and entities.csv
// (header "id,region,segment,weight") for ids 1..n.
Status write_records_csv(const std::string& path, std::uint64_t n);
Status write_entities_csv(const std::string& path, std::uint64_t n);

}  // namespace sluice::mockapi
