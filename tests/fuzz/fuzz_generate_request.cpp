// Any bytes as a POST /generate body. Parsing must never crash or throw, and every outcome is
// one of two: a GenerateRequest the engine can run as is (engine::validate passes, the prompt is
// non-empty, its ids are in the vocabulary and prompt + max_tokens fits max_model_len), or an
// ApiError with status 400 or 413 whose JSON dumps strictly (its message is valid UTF-8).
// Uses Qwen's real tokenizer.json from LLMSERVE_FUZZ_TOKENIZER_DIR, or the npm copy the tests
// fetch.
#include <cstdint>
#include <cstdlib>
#include <string_view>
#include <variant>

#include "fuzz_tokenizer.h"
#include "llmserve/api/generate_api.h"
#include "llmserve/engine/sampling_params.h"

namespace {

// Small enough that the fuzzer reaches the context-length checks with short inputs.
constexpr std::int32_t kMaxModelLen = 64;

void check_request(const llmserve::api::GenerateRequest& request, std::int32_t vocab_size) {
  try {
    llmserve::engine::validate(request.params, vocab_size);
  } catch (const llmserve::engine::InvalidParameter&) {
    std::abort();
  }
  if (request.prompt_ids.empty()) std::abort();
  for (auto id : request.prompt_ids) {
    if (id < 0 || id >= vocab_size) std::abort();
  }
  const auto total =
      static_cast<std::int64_t>(request.prompt_ids.size()) + request.params.max_tokens;
  if (total > kMaxModelLen) std::abort();
}

void check_error(const llmserve::api::ApiError& error) {
  if (error.status != 400 && error.status != 413) std::abort();
  if (error.message.empty() || error.type.empty()) std::abort();
  (void)llmserve::api::to_json(error).dump();  // throws (and so fails) on invalid UTF-8
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view body(reinterpret_cast<const char*>(data), size);
  const auto& t = llmserve::fuzz::fuzz_tokenizer();
  const llmserve::api::ApiLimits limits{kMaxModelLen, t.vocab_size(), /*max_prompt_bytes=*/4096};
  const auto result = llmserve::api::parse_generate_request(body, t, limits);
  if (const auto* request = std::get_if<llmserve::api::GenerateRequest>(&result)) {
    check_request(*request, limits.vocab_size);
  } else {
    check_error(std::get<llmserve::api::ApiError>(result));
  }
  return 0;
}
