// The OpenAI-compatible routes: GET /v1/models, POST /v1/completions, POST /v1/chat/completions.
// Parsing and JSON shapes are api/openai_api.h's; running and relaying is relay.h's.
#include <fmt/format.h>

#include <chrono>

#include "llmserve/api/openai_api.h"
#include "relay.h"
#include "routes.h"

namespace llmserve::server {

namespace asio = boost::asio;
using Clock = std::chrono::steady_clock;

namespace {

class OpenAiFormat final : public ResponseFormat {
 public:
  explicit OpenAiFormat(api::OpenAiFormatter formatter) : formatter_(std::move(formatter)) {}

  std::vector<nlohmann::json> opening_events(std::int32_t) override {
    return formatter_.opening_chunks();
  }
  nlohmann::json delta_event(const engine::ChoiceDelta& delta, std::int32_t index,
                             const engine::Usage*) override {
    return formatter_.delta_chunk(delta, index);
  }
  std::optional<nlohmann::json> closing_event(const engine::Usage& usage) override {
    return formatter_.usage_chunk(usage);
  }
  nlohmann::json response(std::span<const api::CompletedChoice> choices,
                          const engine::Usage& usage) override {
    return formatter_.response(choices, usage);
  }

 private:
  api::OpenAiFormatter formatter_;
};

api::OpenAiContext openai_context(const ServerContext& ctx) {
  const auto& model = ctx.model;
  return {{model.max_model_len, model.vocab_size},
          model.names,
          model.chat_template ? &*model.chat_template : nullptr,
          model.chat_template_problem};
}

asio::awaitable<bool> handle_openai(Exchange& ex, ServerContext& ctx, bool chat) {
  const auto arrival = Clock::now();
  auto admitted = co_await admit(ex, ctx);
  if (!admitted.ticket) co_return admitted.keep_alive;
  const auto context = openai_context(ctx);
  auto parsed = chat ? api::parse_chat_request(ex.request.body(), ctx.tokenizer, context)
                     : api::parse_completion_request(ex.request.body(), ctx.tokenizer, context);
  if (auto* error = std::get_if<api::ApiError>(&parsed)) {
    co_return co_await refuse_invalid(ex, ctx, *error);
  }
  auto& request = std::get<api::OpenAiRequest>(parsed);
  const auto created = std::chrono::duration_cast<std::chrono::seconds>(
                           std::chrono::system_clock::now().time_since_epoch())
                           .count();
  api::ResponseHeader header{fmt::format("{}-{}", chat ? "chatcmpl" : "cmpl", ex.request_id),
                             created, request.model};
  const auto num_choices = static_cast<std::int32_t>(request.prompts.size()) * request.params.n;
  OpenAiFormat format(
      api::OpenAiFormatter(request, std::move(header), ctx.tokenizer, chat, num_choices));
  std::vector<engine::EngineRequest> requests;
  for (auto& prompt : request.prompts) requests.push_back({std::move(prompt), request.params});
  co_return co_await relay(ex, ctx, std::move(requests), request.stream, format, arrival);
}

}  // namespace

asio::awaitable<bool> handle_v1_models(Exchange& ex, ServerContext& ctx) {
  const auto body = api::models_list(ctx.model.names, ctx.model.created, ctx.model.max_model_len);
  co_await write_json(ex, http::status::ok, body);
  co_return ex.request.keep_alive();
}

asio::awaitable<bool> handle_completions(Exchange& ex, ServerContext& ctx) {
  co_return co_await handle_openai(ex, ctx, /*chat=*/false);
}

asio::awaitable<bool> handle_chat_completions(Exchange& ex, ServerContext& ctx) {
  co_return co_await handle_openai(ex, ctx, /*chat=*/true);
}

}  // namespace llmserve::server
