// A TCP acceptor opened, bound and listening on an address and port: what
// sluice's servers (serve, the mock API) do alike before accepting.
#pragma once

#include <boost/asio/ip/tcp.hpp>
#include <cstdint>
#include <string>

#include "sluice/status.h"

namespace sluice::detail {

// `address`: an IPv4 or IPv6 literal; `port` 0: any free one (the
// acceptor's local_endpoint() says which). SO_REUSEADDR is set, so that a
// server restarted at once can bind its port again. Fails with
// kInvalidArgument when `address` is not an IP address, kUnavailable
// naming the address and port when it cannot listen there.
Status listen_on(boost::asio::ip::tcp::acceptor& acceptor, const std::string& address, std::uint16_t port);

}  // namespace sluice::detail
