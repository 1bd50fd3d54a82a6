#include "sluice/detail/listen.h"

namespace sluice::detail {

Status listen_on(boost::asio::ip::tcp::acceptor& acceptor, const std::string& address, std::uint16_t port) {
  namespace asio = boost::asio;
  using asio::ip::tcp;
  boost::system::error_code ec;
  const auto ip = asio::ip::make_address(address, ec);
  if (ec) return Status::InvalidArgument("'" + address + "' is not an IP address: " + ec.message());
  const tcp::endpoint ep(ip, port);
  acceptor.open(ep.protocol(), ec);
  if (!ec) acceptor.set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec) acceptor.bind(ep, ec);
  if (!ec) acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) return Status::Unavailable("cannot listen on " + address + ":" + std::to_string(port) + ": " + ec.message());
  return Status();
}

}  // namespace sluice::detail
