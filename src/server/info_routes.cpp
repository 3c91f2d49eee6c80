// GET /health, /models, /metrics; POST /tokenize, /detokenize: everything but generation.
#include "llmserve/api/tokenize_api.h"
#include "routes.h"

namespace llmserve::server {

namespace asio = boost::asio;

asio::awaitable<bool> handle_health(Exchange& ex, ServerContext& ctx) {
  if (ctx.draining || !ctx.engine.alive()) {
    const nlohmann::json body{{"status", ctx.draining ? "draining" : "engine stopped"}};
    co_await write_json(ex, http::status::service_unavailable, body);
  } else {
    const nlohmann::json body{{"status", "ok"}};
    co_await write_json(ex, http::status::ok, body);
  }
  co_return ex.request.keep_alive();
}

asio::awaitable<bool> handle_models(Exchange& ex, ServerContext& ctx) {
  const ModelInfo& m = ctx.model;
  auto data = nlohmann::json::array();
  for (const auto& name : m.names) {
    data.push_back({{"id", name},
                    {"max_model_len", m.max_model_len},
                    {"dtype", m.dtype},
                    {"backend", m.backend},
                    {"kv_cache",
                     {{"blocks", m.kv_blocks},
                      {"block_size", m.block_size},
                      {"tokens", std::int64_t{m.kv_blocks} * m.block_size}}}});
  }
  const nlohmann::json body{{"object", "list"}, {"data", data}};
  co_await write_json(ex, http::status::ok, body);
  co_return ex.request.keep_alive();
}

asio::awaitable<bool> handle_metrics(Exchange& ex, ServerContext& ctx) {
  const auto stats = ctx.engine.stats();
  if (ex.request.target().ends_with("?format=json")) {
    const nlohmann::json body = ctx.metrics.summary(stats);
    co_await write_json(ex, http::status::ok, body);
    co_return ex.request.keep_alive();
  }
  co_await write_body(ex, http::status::ok, "text/plain; version=0.0.4; charset=utf-8",
                      ctx.metrics.prometheus(stats));
  co_return ex.request.keep_alive();
}

asio::awaitable<bool> handle_tokenize(Exchange& ex, ServerContext& ctx) {
  const auto parsed = api::parse_tokenize_request(ex.request.body(), ctx.tokenizer,
                                                  {ctx.model.max_model_len, ctx.model.vocab_size});
  if (const auto* error = std::get_if<api::ApiError>(&parsed)) {
    co_await write_error(ex, *error);
  } else {
    const nlohmann::json body = api::tokenize_response(
        std::get<api::TokenizeRequest>(parsed).prompt_ids, ctx.model.max_model_len);
    co_await write_json(ex, http::status::ok, body);
  }
  co_return ex.request.keep_alive();
}

asio::awaitable<bool> handle_detokenize(Exchange& ex, ServerContext& ctx) {
  const auto parsed = api::parse_detokenize_request(ex.request.body(), ctx.model.vocab_size);
  if (const auto* error = std::get_if<api::ApiError>(&parsed)) {
    co_await write_error(ex, *error);
  } else {
    const nlohmann::json body = api::detokenize_response(ctx.tokenizer.decode(
        std::get<api::DetokenizeRequest>(parsed).tokens, /*skip_special=*/false));
    co_await write_json(ex, http::status::ok, body);
  }
  co_return ex.request.keep_alive();
}

}  // namespace llmserve::server
