// HTTP answers: any bytes parsed as the client parses an answer (status,
// headers, Content-Length or chunked bodies, gzip and deflate, Retry-After).
#include <string_view>

#include "../../src/http/response_parser.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace sluice::http;
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  auto r = detail::parse_response(bytes, 1 << 20);
  if (r.ok()) {
    if (r->body.size() > (1u << 20)) __builtin_trap();  // max_body_bytes holds, decoded too
    (void)detail::parse_retry_after(r->header("retry-after"));
    (void)r->header("content-type");
  }
  return 0;
}
