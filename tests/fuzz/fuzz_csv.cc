// CSV files: any bytes read as a CSV file, record by record, to the end or
// the first error (which names the file and line).
#include "fuzz_util.h"
#include "sluice/sources.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  sluice::fuzz::MemFile file(data, size);
  auto reader = sluice::CsvReader::open(file.path());
  if (!reader.ok()) return 0;
  sluice::CsvRecord rec;
  for (int i = 0; i < 100000; ++i) {
    auto more = (*reader)->next(rec);
    if (!more.ok() || !*more) break;
    if (rec.fields.size() != (*reader)->header()->size()) __builtin_trap();  // a record as wide as the header
  }
  return 0;
}
