// The pipeline file: what `sluice run FILE` reads. Parsed from YAML into
// these plain structures; every problem is reported with its file, line
// and column, all at once (see load_config). The meaning of each field is
// documented in docs/pipeline.md.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "pipeline/data/value.h"
#include "pipeline/file/secrets.h"
#include "pipeline/file/where.h"
#include "sluice/http/options.h"
#include "sluice/parquet/schema.h"
#include "sluice/status.h"

namespace sluice::pipeline {

// Where something was written: "pipeline.yaml:12:5".
struct ColumnDecl {
  std::string name;
  Type type = Type::kString;
  Where where;
};

enum class Format : std::uint8_t { kCsv, kJsonl, kParquet };

// What becomes of an input record whose key an earlier record had.
enum class Duplicates : std::uint8_t {
  kDeadLetter,  // dead-lettered, saying so (costs 8 to 16 bytes of memory a record)
  kKeep,        // processed like any other (no memory)
};

struct TableConfig {                                // the input, and each dataset
  std::string path;                                 // a file, a glob (input only) or "-" (standard input, input only)
  Format format = Format::kCsv;                     // kParquet: datasets only (files sluice can read: flat columns)
  std::vector<ColumnDecl> columns;                  // read and typed; other columns are ignored
  std::vector<std::string> key;                     // the input: identifies a record in messages; a dataset: join key
  Duplicates duplicates = Duplicates::kDeadLetter;  // the input only (a dataset's duplicate key is an error)
  // A CSV record or JSON line longer than this is malformed (not held whole).
  std::size_t max_record_bytes = std::size_t{1} << 20;
  Where where;
};

// The `http:` section fills the client's own options (base_url, headers with
// ${ENV} substituted, max_in_flight, adaptive.enabled and .min, the
// timeouts, retry, outage): their defaults are the file's.
struct HttpConfig {
  http::ClientOptions client;
  Secrets secrets;  // what the headers carry of credentials: never shown (secrets.h)
  Where where;
};

// `client` with what follows from it: a connection per request in flight,
// the adaptive limit's range.
http::ClientOptions client_options(const HttpConfig& c);

struct FieldConfig {
  std::string name;
  std::string path;           // dotted; default: the name
  Type type = Type::kString;  // with `list`, the elements' type
  bool list = false;          // `list<int64>`: an array of scalars
  bool optional = false;
  Where where;
};

struct ArrayConfig {
  std::string name;
  std::string path;
  std::vector<FieldConfig> fields;
  Where where;
};

struct StepConfig {
  std::string name;
  std::string method = "GET";
  std::string url;  // template: "/v1/items/{id}/events?page={page}"
  Where url_where;
  std::string body;  // template, optional
  // Query parameters besides the URL's own, in order: name, value template.
  std::vector<std::pair<std::string, std::string>> query;
  Where query_where;
  // A form body (application/x-www-form-urlencoded) instead of `body`: name,
  // value template.
  std::vector<std::pair<std::string, std::string>> form;
  Where form_where;
  std::string for_each_var;
  std::string for_each;  // "range(0, item.pages)"
  Where for_each_where;
  std::vector<FieldConfig> fields;
  std::vector<ArrayConfig> arrays;
  std::string keep_if;
  Where keep_if_where;
  Where where;
};

struct JoinConfig {
  std::string dataset;
  std::vector<std::pair<std::string, std::string>> on;  // record name -> dataset key column
  bool left = false;
  Where where;
};

struct OutputColumnConfig {
  std::string name;
  Type type = Type::kString;
  std::string expr;  // default: the column's name
  bool nullable = true;
  Where where;
};

// What a run does with an output that already holds a run of the same name
// (without --resume, which carries that run on).
enum class OutputMode : std::uint8_t {
  kError,      // refuse, naming the earlier run
  kOverwrite,  // remove exactly the earlier runs' files (those their manifest names), then write
  kAppend,     // keep them and add this run's files, named <name>-r<N>-...
};

struct OutputConfig {
  std::string path;           // "./out/" or "s3://bucket/prefix/"
  std::string name = "part";  // files: <name>-00000.parquet, ...
  OutputMode mode = OutputMode::kError;
  parquet::Compression compression = parquet::Compression::kZstd;
  std::size_t row_group_rows = std::size_t{64} * 1024;  // half the writer's default: memory stays low while rows stream
  std::size_t file_rows = 10'000'000;
  std::vector<OutputColumnConfig> columns;
  // Hive-style partitions: files under <col>=<value>/ for these output
  // columns, which are then not stored in the files themselves.
  std::vector<std::string> partition_by;
  Where partition_where;
  Where where;
};

enum class Mode : std::uint8_t { kThroughput, kLatency };

// max_dead_letters: a count (`100`), or a share of the records done so far
// (`1%`, judged once 100 records are done).
struct DeadLetterLimit {
  std::optional<std::uint64_t> count;
  std::optional<double> fraction;
  std::string text;  // as written, for messages
  bool set() const { return count.has_value() || fraction.has_value(); }
  bool exceeded(std::uint64_t dead, std::uint64_t done) const {
    if (count) return dead > *count;
    if (fraction) return done >= 100 && static_cast<double>(dead) > *fraction * static_cast<double>(done);
    return false;
  }
};

struct PipelineConfig {
  std::string file;  // the pipeline file's path
  Mode mode = Mode::kThroughput;
  TableConfig input;
  std::vector<std::pair<std::string, TableConfig>> datasets;
  HttpConfig http;
  std::vector<StepConfig> steps;
  std::vector<JoinConfig> joins;
  // Settings whose defaults come from the mode (set when loaded).
  std::size_t records_in_flight = 0;  // default: 1.25 x http.max_in_flight
  // While the answers held by records in flight pass this, no new record
  // starts (those under way go on, so one record bigger than it still ends).
  std::uint64_t max_bytes_in_flight = 256ULL << 20;
  std::size_t batch_size = 0;
  std::chrono::milliseconds batch_timeout{0};
  std::size_t queue_capacity = 0;
  DeadLetterLimit max_dead_letters;  // unset: no limit
  OutputConfig output;
  // `sluice serve`: how long a request's records may take when the request
  // does not say (serve.deadline_ms).
  std::chrono::milliseconds serve_deadline{1000};
};

// Reads and checks the file's structure: known keys, types, required fields,
// ${NAME} references to the environment. `overrides` are `--set a.b=v`
// (applied to the YAML before it is read). Names (fields, steps, datasets)
// are checked later, by the plan. On failure, every problem found, one a
// line, each starting with its file:line:column.
Result<PipelineConfig> load_config(const std::string& path, const std::vector<std::string>& overrides = {});
Result<PipelineConfig> parse_config(const std::string& text, const std::string& file,
                                    const std::vector<std::string>& overrides = {});

}  // namespace sluice::pipeline
