// POST /generate: admission, validation, then the request's outputs relayed as one JSON body or
// as server-sent events, until it finishes, times out or the client goes away.
#include "llmserve/api/generate_api.h"
#include "relay.h"
#include "routes.h"

namespace llmserve::server {

namespace asio = boost::asio;
using Clock = std::chrono::steady_clock;

namespace {

// The native shapes of generate_api.h.
class NativeFormat final : public ResponseFormat {
 public:
  explicit NativeFormat(std::int32_t n) : n_(n) {}

  nlohmann::json delta_event(const engine::ChoiceDelta& delta, std::int32_t index,
                             const engine::Usage* usage_if_last) override {
    return api::generate_stream_event(delta.text, delta.finish_reason, usage_if_last,
                                      n_ > 1 ? std::optional<std::int32_t>(index) : std::nullopt);
  }
  nlohmann::json response(std::span<const api::CompletedChoice> choices,
                          const engine::Usage& usage) override {
    std::vector<api::GeneratedChoice> generated;
    for (const auto& c : choices) generated.push_back({c.text, c.finish_reason});
    return api::generate_response(generated, usage);
  }

 private:
  std::int32_t n_;
};

}  // namespace

asio::awaitable<bool> handle_generate(Exchange& ex, ServerContext& ctx) {
  const auto arrival = Clock::now();
  auto admitted = co_await admit(ex, ctx);
  if (!admitted.ticket) co_return admitted.keep_alive;
  auto parsed = api::parse_generate_request(ex.request.body(), ctx.tokenizer,
                                            {ctx.model.max_model_len, ctx.model.vocab_size});
  if (auto* error = std::get_if<api::ApiError>(&parsed))
    co_return co_await refuse_invalid(ex, ctx, *error);
  auto& request = std::get<api::GenerateRequest>(parsed);
  NativeFormat format(request.params.n);
  std::vector<engine::EngineRequest> requests;
  requests.push_back({std::move(request.prompt_ids), request.params});
  co_return co_await relay(ex, ctx, std::move(requests), request.stream, format, arrival);
}

}  // namespace llmserve::server
