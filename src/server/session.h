#pragma once
// One connection: read a request (header and body limits, idle timeout), route it, answer, and
// again while the client keeps the connection alive and the server is not draining.
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>

#include "server_context.h"

namespace llmserve::server {

boost::asio::awaitable<void> run_session(boost::asio::ip::tcp::socket socket, ServerContext& ctx);

}  // namespace llmserve::server
