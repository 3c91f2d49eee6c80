#include <fmt/format.h>

#include <array>
#include <string_view>

#include "routes.h"

namespace llmserve::server {

namespace asio = boost::asio;

namespace {

struct Route {
  http::verb method;
  std::string_view path;
  asio::awaitable<bool> (*handler)(Exchange&, ServerContext&);
  bool needs_key;
};

constexpr std::array kRoutes{
    Route{http::verb::post, "/generate", handle_generate, true},
    Route{http::verb::get, "/health", handle_health, false},
    Route{http::verb::get, "/models", handle_models, true},
    Route{http::verb::get, "/metrics", handle_metrics, true},
    Route{http::verb::post, "/tokenize", handle_tokenize, true},
    Route{http::verb::post, "/detokenize", handle_detokenize, true},
    Route{http::verb::get, "/v1/models", handle_v1_models, true},
    Route{http::verb::post, "/v1/completions", handle_completions, true},
    Route{http::verb::post, "/v1/chat/completions", handle_chat_completions, true},
};

bool authorized(const Exchange& ex, const ServerContext& ctx) {
  if (!ctx.config.api_key) return true;
  const auto header = ex.request[http::field::authorization];
  constexpr std::string_view kBearer = "Bearer ";
  return header.size() > kBearer.size() && header.substr(0, kBearer.size()) == kBearer &&
         header.substr(kBearer.size()) == *ctx.config.api_key;
}

}  // namespace

asio::awaitable<bool> route(Exchange& ex, ServerContext& ctx) {
  const std::string_view target = ex.request.target();
  const std::string_view path = target.substr(0, target.find('?'));
  const Route* allowed = nullptr;
  for (const Route& r : kRoutes) {
    if (r.path != path) continue;
    if (r.method != ex.request.method()) {
      allowed = &r;
      continue;
    }
    if (r.needs_key && !authorized(ex, ctx)) {
      ctx.metrics.rejected("unauthorized");
      // Locals, not braced lists inside co_await: GCC 12 miscompiles those in coroutines.
      const Headers challenge{{http::field::www_authenticate, "Bearer"}};
      co_await write_error(ex, api::unauthorized("invalid or missing API key"), challenge);
      co_return ex.request.keep_alive();
    }
    co_return co_await r.handler(ex, ctx);
  }
  if (allowed != nullptr) {
    const Headers allow{{http::field::allow, std::string(http::to_string(allowed->method))}};
    co_await write_error(ex,
                         api::method_not_allowed(fmt::format("{} is not allowed on {}",
                                                             ex.request.method_string(), path)),
                         allow);
  } else {
    co_await write_error(ex, api::not_found(fmt::format("no route {}", path)));
  }
  co_return ex.request.keep_alive();
}

}  // namespace llmserve::server
