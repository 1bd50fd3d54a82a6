// CSV files: any bytes read as a CSV file, record by record, to the end or
// the error that stops the reader. A well-formed record is as wide as the
// header; a malformed one names the file and its line; records come in the
// order of their lines, so reading past a malformed one always moves on.
#include <string_view>

#include "fuzz_util.h"
#include "sluice/sources.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  sluice::fuzz::MemFile file(data, size);
  auto reader = sluice::CsvReader::open(file.path(), {.max_record_bytes = 4096});
  if (!reader.ok()) return 0;
  sluice::CsvRecord rec;
  std::uint64_t last_line = 1;  // the header's
  for (int i = 0; i < 100000; ++i) {
    auto more = (*reader)->next(rec);
    if (!more.ok() || !*more) break;
    if (rec.line <= last_line) __builtin_trap();  // a record after the one before
    last_line = rec.line;
    if (rec.malformed.ok() && rec.fields.size() != (*reader)->header()->size()) __builtin_trap();
    if (!rec.malformed.ok() && !std::string_view(rec.malformed.message()).starts_with(file.path() + ":")) {
      __builtin_trap();
    }
  }
  return 0;
}
