#include "pipeline/run/input.h"

#include <filesystem>

#include "pipeline/table/reader.h"

namespace sluice::pipeline {

Result<std::unique_ptr<Input>> Input::open(const Plan& plan, Options options) {
  std::unique_ptr<Input> in(new Input(plan, std::move(options)));
  SLUICE_ASSIGN_OR_RETURN(in->names_, input_files(plan.config.input));
  bool sizes_known = true;
  for (const auto& f : in->names_) {
    std::error_code ec;
    const std::uint64_t size = f == "-" ? 0 : std::filesystem::file_size(f, ec);
    sizes_known &= f != "-" && !ec;
    in->files_.emplace_back(f, ec ? 0 : size);
    in->total_bytes_ += ec ? 0 : size;
  }
  if (!sizes_known) in->total_bytes_ = 0;  // no estimate of the total
  return in;
}

Input::Stage Input::source(const PositionSet& done, const std::atomic<bool>& stopping,
                           std::function<void(const Status&)> stop_run) {
  return Stage([this, &done, &stopping, stop_run = std::move(stop_run)](detail::FlowState& flow) -> Stream<Record> {
    auto& c = flow.add_stage("input", "source");
    auto out = detail::make_output<Record>(flow, c, plan_.config.queue_capacity, 1);
    flow.spawn_thread(c, [this, out, &c, &done, &stopping, stop_run]() -> Status {
      detail::SenderGuard guard(*out);
      if (Status s = read_files(*out, c, done, stopping); !s.ok()) stop_run(s);
      return Status();
    });
    return out;
  });
}

Status Input::read_files(Channel<Record>& out, detail::StageCounters& stage, const PositionSet& done,
                         const std::atomic<bool>& stopping) {
  std::uint64_t before = 0;    // bytes of the files already read
  std::uint64_t position = 0;  // of the row in the whole input
  PositionCursor earlier(done);
  for (std::uint32_t file_index = 0; file_index < names_.size(); ++file_index) {
    const std::string& file = names_[file_index];
    TableConfig t = plan_.config.input;
    t.path = file;
    auto reader = TableReader::open(t);
    if (!reader.ok()) return reader.status();
    (*reader)->stop_when(&stopping);
    std::vector<Value> row;
    std::uint64_t line = 0;
    Status row_error;
    for (;;) {
      if (stopping.load(std::memory_order_relaxed)) return Status();
      if (options_.limit && read_.load(std::memory_order_relaxed) >= options_.limit) return Status();
      Result<bool> more = (*reader)->next(row, line, row_error);
      if (!more.ok()) return more.status();
      if (!*more && stopping.load(std::memory_order_relaxed)) return Status();  // stopped waiting: not the end
      if (!*more) break;
      const std::uint64_t at = position++;
      if (options_.shard_count > 1 && at % options_.shard_count != options_.shard_index) continue;
      // A key read before (in this run or one it resumes) is a duplicate.
      const bool seen_before = row_error.ok() && !keys_are_new(row, t.path, line, row_error);
      if (earlier.contains(at / options_.shard_count)) {
        skipped_.fetch_add(1, std::memory_order_relaxed);
        continue;
      }
      Record r;
      r.position = at;
      r.line = line;
      r.input = file_index;
      r.slots.resize(plan_.slot_names.size());
      std::move(row.begin(), row.end(), r.slots.begin());
      if (!row_error.ok()) {
        r.outcome = Record::Outcome::kDead;
        r.dead_step = "input";
        r.dead_error = row_error.message();
        if (seen_before) duplicates_.fetch_add(1, std::memory_order_relaxed);
      }
      if (options_.on_read) options_.on_read(r);
      read_.fetch_add(1, std::memory_order_relaxed);
      if ((line & 63) == 0) bytes_read_.store(before + (*reader)->position(), std::memory_order_relaxed);
      stage.count_in();
      if (!out.send_blocking(std::move(r))) return Status();
      stage.count_out();
    }
    before += (*reader)->position();
    bytes_read_.store(before, std::memory_order_relaxed);
  }
  positions_.store(position, std::memory_order_relaxed);
  read_all_ = true;
  return Status();
}

// Checks the key of an input row: not null, and (unless duplicates are
// kept) not one read before. False with `error` set if it is neither.
bool Input::keys_are_new(const std::vector<Value>& row, const std::string& file, std::uint64_t line, Status& error) {
  std::vector<const Value*> key;
  for (int k : plan_.key_slots) {
    const Value& v = row[static_cast<std::size_t>(k)];
    if (v.is_null()) {
      error = Status::InvalidArgument(file + ":" + std::to_string(line) + ": the key column '" +
                                      plan_.slot_names[static_cast<std::size_t>(k)] +
                                      "' is empty: the record cannot be named");
      return true;
    }
    key.push_back(&v);
  }
  if (plan_.config.input.duplicates == Duplicates::kKeep) return true;
  const bool fresh = key.size() == 1 && key[0]->type() == Type::kInt64 ? seen_keys_.insert_int(key[0]->as_int())
                                                                       : seen_keys_.insert(KeySet::fingerprint(key));
  if (fresh) return true;
  std::string shown;
  for (std::size_t i = 0; i < key.size(); ++i) {
    shown += (i ? ", " : "") + plan_.slot_names[static_cast<std::size_t>(plan_.key_slots[i])] + "=" + key[i]->to_json();
  }
  error = Status::InvalidArgument(file + ":" + std::to_string(line) + ": duplicate key " + shown +
                                  ": an earlier record of the input has it (input.duplicates: keep to process both)");
  return false;
}

}  // namespace sluice::pipeline
