// The secret values of a pipeline file, and text with them taken out.
//
// Secrets are what the file sends for credentials: every value a header
// takes from the environment (`Bearer ${TOKEN}`: the token), and the value
// of a header whose name says it holds one (Authorization, X-Api-Key,
// Cookie, ...). Whatever sluice keeps of an answer (an error's body in a
// dead letter, a stream or serve line, a log line, a summary) goes through
// redact() first, so that an API that echoes the request back (a 400 that
// quotes its headers) cannot put a credential there.
//
// Thread safety: const after it is built; redact() from any thread.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace sluice::pipeline {

class Secrets {
 public:
  // Shorter values are not looked for: they would take out ordinary text.
  static constexpr std::size_t kMinLength = 4;
  static constexpr std::string_view kRedacted = "[redacted]";

  // A header of the file: `from_env` are the parts of its value that came
  // from the environment (each a secret); all of it is one when the name
  // says it holds a credential.
  void add_header(std::string_view name, std::string_view value, const std::vector<std::string>& from_env);
  // One secret value, as it is and as it may be echoed (percent-encoded,
  // JSON-escaped).
  void add(std::string_view value);

  bool empty() const { return forms_.empty(); }
  // `text` with every form of every secret replaced by kRedacted.
  std::string redact(std::string text) const;

 private:
  std::vector<std::string> forms_;  // longest first, so that a secret inside another goes with it
};

// A header whose name says it carries a credential.
bool is_credential_header(std::string_view name);

}  // namespace sluice::pipeline
