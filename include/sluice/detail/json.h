// JSON text as sluice writes it (logs, dead letters, stream and serve
// lines, manifests, summaries): strings quoted and escaped as RFC 8259
// says, and always UTF-8. One writer for all of them.
#pragma once

#include <string>
#include <string_view>

namespace sluice::detail {

// True if `s` is well-formed UTF-8 (RFC 3629: no overlong forms,
// surrogates or code points past U+10FFFF). SIMD, a few GB/s.
bool valid_utf8(std::string_view s);

// `s` as a JSON string literal, quoted and escaped, appended to `out`. A
// byte that is not part of well-formed UTF-8 is written as U+FFFD, so that
// a line about a value with a bad byte is still JSON every reader takes.
void append_json_string(std::string_view s, std::string& out);
std::string json_quote(std::string_view s);

}  // namespace sluice::detail
