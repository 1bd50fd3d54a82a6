// Boost.Asio's implementation, compiled once for the whole project
// (BOOST_ASIO_SEPARATE_COMPILATION): every other file includes only its
// declarations, which keeps each of them quick to compile.
#include <boost/asio/impl/src.hpp>
#include <boost/asio/ssl/impl/src.hpp>
