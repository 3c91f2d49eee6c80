#pragma once
// The routes. Each answers one exchange; the bool says whether the connection may be reused.
#include <boost/asio/awaitable.hpp>

#include "http_io.h"
#include "server_context.h"

namespace llmserve::server {

// Method and path dispatch, API key check, 404 / 405.
boost::asio::awaitable<bool> route(Exchange& ex, ServerContext& ctx);

boost::asio::awaitable<bool> handle_generate(Exchange& ex, ServerContext& ctx);
boost::asio::awaitable<bool> handle_health(Exchange& ex, ServerContext& ctx);
boost::asio::awaitable<bool> handle_models(Exchange& ex, ServerContext& ctx);
boost::asio::awaitable<bool> handle_metrics(Exchange& ex, ServerContext& ctx);
boost::asio::awaitable<bool> handle_tokenize(Exchange& ex, ServerContext& ctx);
boost::asio::awaitable<bool> handle_detokenize(Exchange& ex, ServerContext& ctx);
boost::asio::awaitable<bool> handle_v1_models(Exchange& ex, ServerContext& ctx);
boost::asio::awaitable<bool> handle_completions(Exchange& ex, ServerContext& ctx);
boost::asio::awaitable<bool> handle_chat_completions(Exchange& ex, ServerContext& ctx);

}  // namespace llmserve::server
