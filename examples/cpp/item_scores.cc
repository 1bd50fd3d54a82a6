// A pipeline of your own in C++, built against the installed sluice package
// (CMakeLists.txt beside this file): every item of the reference workload's
// API (`sluice mock-api` serves it) fetched with at most 64 requests in
// flight, the items scored 0.3 or more kept, batched, and summed up on the
// CPU pool by a stage of this program's own, off the event loop.
//
//   sluice mock-api --port 8080 &
//   item_scores http://127.0.0.1:8080 10000
//   items 10000 kept 7010 score_sum 4532.320000 pages 1:1708 2:1803 3:1716 4:1783
#include <simdjson.h>

#include <array>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <ranges>
#include <string>
#include <vector>

#include "sluice/http/client.h"
#include "sluice/pipeline.h"
#include "sluice/runtime.h"

namespace {

struct Item {
  std::uint64_t id = 0;
  double score = 0;
  std::uint64_t pages = 0;
};

// What the CPU stage makes of a batch, and the sink of all of them.
struct Totals {
  std::uint64_t items = 0;
  double score_sum = 0;
  std::array<std::uint64_t, 5> by_pages{};  // items by their number of pages (1 to 4)

  void add(const Totals& o) {
    items += o.items;
    score_sum += o.score_sum;
    for (std::size_t p = 0; p < by_pages.size(); ++p) by_pages[p] += o.by_pages[p];
  }
};

sluice::Result<Item> parse_item(const std::string& body) {
  simdjson::dom::parser parser;
  simdjson::dom::element e;
  Item item;
  if (parser.parse(body).get(e) || e["id"].get(item.id) || e["score"].get(item.score) || e["pages"].get(item.pages) ||
      item.pages < 1 || item.pages > 4) {
    return sluice::Status::DataLoss("an item that is not {\"id\", \"score\", \"pages\" 1 to 4, ...}");
  }
  return item;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: %s API_BASE_URL ITEMS\n", argv[0]);
    return 2;
  }
  const std::uint64_t n = std::strtoull(argv[2], nullptr, 10);
  sluice::Runtime rt{{.io_threads = 1, .cpu_threads = 1}};
  auto api = sluice::http::Client::create(rt, {.base_url = argv[1], .max_in_flight = 64});
  if (!api.ok()) {
    std::fprintf(stderr, "%s\n", api.status().to_string().c_str());
    return 2;
  }

  // On the event loop: one request per item, parsed where it lands (small).
  auto fetch = [client = *api](std::uint64_t id) mutable -> boost::asio::awaitable<sluice::Result<Item>> {
    sluice::Result<sluice::http::Response> r = co_await client.get("/v1/items/" + std::to_string(id));
    if (!r.ok()) co_return r.status();
    if (r->status != 200)
      co_return sluice::Status::Unavailable("item " + std::to_string(id) + ": HTTP " + std::to_string(r->status));
    co_return parse_item(r->body);
  };
  // On the CPU pool: a batch at a time.
  auto aggregate = [](std::vector<Item> batch) {
    Totals t;
    for (const Item& i : batch) {
      ++t.items;
      t.score_sum += i.score;
      ++t.by_pages[i.pages];
    }
    return t;
  };
  Totals totals;
  auto pipeline = sluice::from_range(std::views::iota(std::uint64_t{1}, n + 1), {.name = "ids"}) |
                  sluice::map_unordered(fetch, {.name = "fetch", .concurrency = 64}) |
                  sluice::filter([](const Item& i) { return i.score >= 0.3; }) | sluice::batch({.size = 128}) |
                  sluice::cpu(aggregate, {.name = "aggregate"}) |
                  sluice::sink([&totals](const Totals& t) { totals.add(t); });
  const sluice::Status status = rt.block_on(std::move(pipeline));
  if (!status.ok()) {
    std::fprintf(stderr, "%s\n", status.to_string().c_str());
    return 1;
  }
  std::printf("items %llu kept %llu score_sum %.6f pages 1:%llu 2:%llu 3:%llu 4:%llu\n",
              static_cast<unsigned long long>(n), static_cast<unsigned long long>(totals.items), totals.score_sum,
              static_cast<unsigned long long>(totals.by_pages[1]), static_cast<unsigned long long>(totals.by_pages[2]),
              static_cast<unsigned long long>(totals.by_pages[3]), static_cast<unsigned long long>(totals.by_pages[4]));
  return 0;
}
