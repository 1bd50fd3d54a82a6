// Reading one page of the reference workload's events (200 objects, ~8 KB):
// sluice's one-pass array reader against simdjson's DOM, the parse alone and
// the parse with the walk that fills the same columns. Bytes/s is answer
// bytes read.
//   build/release/bench/json_benchmark
#include <benchmark/benchmark.h>
#include <simdjson.h>
#include <zlib.h>

#include "../src/mockapi/workload.h"
#include "../tests/http/gzip_util.h"
#include "../tests/pipeline/array_reference.h"
#include "pipeline/json/array_reader.h"
#include "sluice/http/client.h"

namespace {

using sluice::pipeline::ArrayData;
using sluice::pipeline::FieldSpec;
using sluice::pipeline::Type;

const std::vector<FieldSpec> kFields = {{.name = "t", .path = "t", .type = Type::kInt64},
                                        {.name = "v", .path = "v", .type = Type::kDouble},
                                        {.name = "c", .path = "c", .type = Type::kString}};

std::string page() {
  std::string body;
  sluice::mockapi::append_events_json(5, 0, body);
  return body;
}

ArrayData columns() {
  ArrayData d;
  for (const auto& f : kFields) d.columns.push_back({.type = f.type});
  return d;
}

// Empties the columns and keeps their memory, as the engine does between records.
void clear(ArrayData& d) {
  d.rows = 0;
  for (auto& c : d.columns) {
    c.i64.clear();
    c.f64.clear();
    c.bytes.clear();
    c.offsets.assign(1, 0);
    c.valid.clear();
  }
}

void BM_ReadArray(benchmark::State& state) {
  const std::string body = page();
  const std::vector<std::string> path = {"events"};
  ArrayData out = columns();
  for (auto _ : state) {
    clear(out);
    auto s = sluice::pipeline::detail::read_array(body, path, "events", kFields, out);
    if (!s.ok()) state.SkipWithError(s.message().c_str());
    benchmark::DoNotOptimize(out.rows);
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * body.size()));
}
BENCHMARK(BM_ReadArray);

// The same over 512 different pages (4 MB, past the L2 cache) in turn, as a
// run meets them: the branch predictor cannot learn one page's numbers, and
// each body comes from memory. Closer to what a run pays per page.
void BM_ReadArrayManyPages(benchmark::State& state) {
  std::vector<std::string> bodies;
  std::size_t bytes = 0;
  for (std::uint64_t id = 1; bodies.size() < 512; ++id) {
    bodies.emplace_back();
    sluice::mockapi::append_events_json(id, 0, bodies.back());
  }
  const std::vector<std::string> path = {"events"};
  ArrayData out = columns();
  std::size_t i = 0;
  for (auto _ : state) {
    const std::string& body = bodies[i++ % bodies.size()];
    clear(out);
    auto s = sluice::pipeline::detail::read_array(body, path, "events", kFields, out);
    if (!s.ok()) state.SkipWithError(s.message().c_str());
    benchmark::DoNotOptimize(out.rows);
    bytes += body.size();
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(bytes));
}
BENCHMARK(BM_ReadArrayManyPages);

void BM_SimdjsonDomParseOnly(benchmark::State& state) {
  simdjson::padded_string body(page());
  simdjson::dom::parser parser;
  for (auto _ : state) {
    simdjson::dom::element doc;
    if (parser.parse(body).get(doc)) state.SkipWithError("parse");
    benchmark::DoNotOptimize(doc);
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * body.size()));
}
BENCHMARK(BM_SimdjsonDomParseOnly);

void BM_SimdjsonDomIntoColumns(benchmark::State& state) {
  const std::string body = page();
  ArrayData out = columns();
  for (auto _ : state) {
    clear(out);
    if (!sluice::pipeline::testing::reference_read_array(body, {"events"}, kFields, out)) state.SkipWithError("read");
    benchmark::DoNotOptimize(out.rows);
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * body.size()));
}
BENCHMARK(BM_SimdjsonDomIntoColumns);

}  // namespace

namespace {
void BM_ReadArrayPathAbsent(benchmark::State& state) {
  const std::string body = page();
  const std::vector<std::string> path = {"nothing"};
  ArrayData out = columns();
  for (auto _ : state) {
    auto s = sluice::pipeline::detail::read_array(body, path, "events", kFields, out);
    benchmark::DoNotOptimize(s);
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * body.size()));
}
BENCHMARK(BM_ReadArrayPathAbsent);

// The same page gzipped (level 1, as `sluice mock-api --gzip` and nginx's
// default send it), inflated as a compressed answer is before its arrays are
// read: http::decode_body (libdeflate, one call) against zlib's streaming
// inflate, which the client used before. Bytes/s is inflated bytes.
std::string gzipped_page() { return sluice::http::testing::deflate_with(page(), 15 + 16, 1); }

void BM_InflatePage(benchmark::State& state) {
  const std::string packed = gzipped_page();
  std::string out;
  for (auto _ : state) {
    auto s = sluice::http::decode_body(packed, "gzip", 1 << 20, out);
    benchmark::DoNotOptimize(s);
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * out.size()));
}
BENCHMARK(BM_InflatePage);

void BM_InflatePageZlib(benchmark::State& state) {
  const std::string packed = gzipped_page();
  std::string out(page().size() * 2, '\0');
  std::size_t n = 0;
  for (auto _ : state) {
    z_stream zs{};
    inflateInit2(&zs, 15 + 32);
    zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(packed.data()));
    zs.avail_in = static_cast<uInt>(packed.size());
    zs.next_out = reinterpret_cast<Bytef*>(out.data());
    zs.avail_out = static_cast<uInt>(out.size());
    benchmark::DoNotOptimize(inflate(&zs, Z_FINISH));
    n = zs.total_out;
    inflateEnd(&zs);
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * n));
}
BENCHMARK(BM_InflatePageZlib);
}  // namespace
BENCHMARK_MAIN();
