// Boost.Beast's implementation, compiled once for the whole project
// (BOOST_BEAST_SEPARATE_COMPILATION), as Asio's is in core/asio_impl.cc.
#include <boost/beast/src.hpp>
