#include "workload.h"

#include <charconv>

#include "sluice/output_stream.h"

namespace sluice::mockapi {
namespace {

void append_uint(std::uint64_t v, std::string& out) {
  char buf[24];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, r.ptr);
}

// thousandths / 1000 with exactly three decimals ("123.450"), from the
// integer, so no floating-point printing is involved.
void append_milli(std::uint64_t thousandths, std::string& out) {
  append_uint(thousandths / 1000, out);
  char frac[4] = {'.', static_cast<char>('0' + thousandths / 100 % 10), static_cast<char>('0' + thousandths / 10 % 10),
                  static_cast<char>('0' + thousandths % 10)};
  out.append(frac, 4);
}

// hundredths / 100 with two decimals, as entities.csv's weight.
void append_centi(std::uint64_t hundredths, std::string& out) {
  append_uint(hundredths / 100, out);
  char frac[3] = {'.', static_cast<char>('0' + hundredths / 10 % 10), static_cast<char>('0' + hundredths % 10)};
  out.append(frac, 3);
}

constexpr const char* kKinds[] = {"a", "b", "c"};
constexpr const char* kCategories[] = {"x", "y", "z"};

}  // namespace

void append_item_json(std::uint64_t id, std::string& out) {
  const std::uint64_t h = mix(id);
  out += "{\"id\":";
  append_uint(id, out);
  out += ",\"score\":";
  append_milli(h % 1000, out);
  out += ",\"pages\":";
  append_uint(1 + (h >> 16) % 4, out);
  out += ",\"kind\":\"";
  out += kKinds[(h >> 32) % 3];
  out += "\",\"name\":\"item-";
  append_uint(id, out);
  out += "\"}";
}

void append_pages_json(std::uint64_t id, std::string& out) {
  out += "{\"id\":";
  append_uint(id, out);
  out += ",\"pages\":[";
  const std::uint64_t pages = pages_of(id);
  for (std::uint64_t p = 0; p < pages; ++p) {
    if (p > 0) out += ',';
    append_uint(p, out);
  }
  out += "]}";
}

void append_events_json(std::uint64_t id, std::uint64_t page, std::string& out) {
  out += "{\"id\":";
  append_uint(id, out);
  out += ",\"page\":";
  append_uint(page, out);
  out += ",\"events\":[";
  for (std::uint64_t i = 0; i < kEventsPerPage; ++i) {
    const std::uint64_t j = page * kEventsPerPage + i;
    const std::uint64_t m = mix((id << 10) | j);
    out += i ? ",{\"t\":" : "{\"t\":";
    append_uint(1700000000000ULL + 1000 * ((j * 337) % 800), out);
    out += ",\"v\":";
    append_milli(m % 1000000, out);
    out += ",\"c\":\"";
    out += kCategories[(m >> 20) % 3];
    out += "\"}";
  }
  out += "]}";
}

std::optional<Entity> entity_of(std::uint64_t id) {
  const std::uint64_t e = mix(id ^ 0xABCDEF);
  if (e % 10 == 0) return std::nullopt;
  Entity ent;
  ent.region = "r" + std::to_string((e >> 8) % 16);
  ent.segment = "s" + std::to_string((e >> 16) % 100);
  append_centi((e >> 24) % 10000, ent.weight);
  return ent;
}

namespace {

// Writes a file through the local stream (temporary name, then rename), in
// chunks of about 1 MiB.
template <class Row>
Status write_csv(const std::string& path, const char* header, std::uint64_t n, Row row) {
  Result<std::unique_ptr<OutputStream>> out = open_local_file(path);
  if (!out.ok()) return out.status();
  std::string buf = header;
  for (std::uint64_t id = 1; id <= n; ++id) {
    row(id, buf);
    if (buf.size() >= (1 << 20)) {
      SLUICE_RETURN_IF_ERROR((*out)->write(buf));
      buf.clear();
    }
  }
  SLUICE_RETURN_IF_ERROR((*out)->write(buf));
  return (*out)->close();
}

}  // namespace

Status write_records_csv(const std::string& path, std::uint64_t n) {
  return write_csv(path, "id\n", n, [](std::uint64_t id, std::string& out) {
    append_uint(id, out);
    out.push_back('\n');
  });
}

Status write_entities_csv(const std::string& path, std::uint64_t n) {
  return write_csv(path, "id,region,segment,weight\n", n, [](std::uint64_t id, std::string& out) {
    std::optional<Entity> e = entity_of(id);
    if (!e) return;
    append_uint(id, out);
    out += "," + e->region + "," + e->segment + "," + e->weight + "\n";
  });
}

}  // namespace sluice::mockapi
