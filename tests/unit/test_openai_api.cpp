#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>
#include <ostream>
#include <string>
#include <variant>
#include <vector>

#include "llmserve/api/api_error.h"
#include "llmserve/api/openai_api.h"
#include "llmserve/tokenizer/chat_template.h"
#include "qwen_files.h"

// Protocol tests of the OpenAI-compatible API's pure functions: request bodies of
// /v1/completions and /v1/chat/completions -> OpenAiRequest or ApiError, and the response /
// stream-chunk shapes. Expected prompts are written by hand from Qwen2's template, not taken from
// our own output.

namespace llmserve::api {
namespace {

using engine::FinishReason;
using nlohmann::json;

using testing::qwen;

using testing::kQwen2Template;

const tokenizer::ChatTemplate& chat_template() {
  static const auto instance = tokenizer::ChatTemplate::from_source(kQwen2Template);
  return instance;
}

constexpr std::int32_t kMaxModelLen = 32;
const std::string kModelNames[] = {"tiny", "alias"};

const OpenAiContext& context() {
  static const OpenAiContext instance{
      .limits = {.max_model_len = kMaxModelLen, .vocab_size = qwen().vocab_size()},
      .model_names = kModelNames,
      .chat_template = &chat_template(),
      .chat_template_problem = ""};
  return instance;
}

const OpenAiContext& no_template_context() {
  static const OpenAiContext instance{
      .limits = {.max_model_len = kMaxModelLen, .vocab_size = qwen().vocab_size()},
      .model_names = kModelNames,
      .chat_template = nullptr,
      .chat_template_problem = "no chat_template"};
  return instance;
}

std::variant<OpenAiRequest, ApiError> parse(bool chat, std::string_view body,
                                            const OpenAiContext& ctx = context()) {
  return chat ? parse_chat_request(body, qwen(), ctx) : parse_completion_request(body, qwen(), ctx);
}

OpenAiRequest parse_ok(bool chat, std::string_view body, const OpenAiContext& ctx = context()) {
  auto result = parse(chat, body, ctx);
  if (const auto* error = std::get_if<ApiError>(&result)) {
    ADD_FAILURE() << "rejected " << body << ": " << error->message;
    return {};
  }
  return std::get<OpenAiRequest>(std::move(result));
}

ApiError parse_error(bool chat, std::string_view body, const OpenAiContext& ctx = context()) {
  auto result = parse(chat, body, ctx);
  if (!std::holds_alternative<ApiError>(result)) {
    ADD_FAILURE() << "accepted " << body;
    return {};
  }
  return std::get<ApiError>(std::move(result));
}

OpenAiRequest complete(std::string_view body) { return parse_ok(false, body); }
OpenAiRequest chat(std::string_view body) { return parse_ok(true, body); }
ApiError complete_error(std::string_view body) { return parse_error(false, body); }
ApiError chat_error(std::string_view body) { return parse_error(true, body); }

// A prompt of exactly `tokens` tokens (" a" is one token in Qwen's vocabulary, as is "a").
std::string prompt_of(std::size_t tokens) {
  std::string text = "a";
  for (std::size_t i = 1; i < tokens; ++i) text += " a";
  return text;
}

bool contains(std::string_view text, std::string_view part) {
  return text.find(part) != std::string_view::npos;
}

std::int32_t single_token(std::string_view text) {
  const auto ids = qwen().encode(text);
  EXPECT_EQ(ids.size(), 1u) << text;
  return ids.empty() ? 0 : ids.front();
}

TEST(OpenAiTestHelpers, PromptOfAndTemplateAreWhatTheyClaim) {
  EXPECT_EQ(qwen().encode(prompt_of(20)).size(), 20u);
  EXPECT_EQ(chat_template().default_system_prompt(),
            std::optional<std::string>("You are a helpful assistant."));
}

// ---- /v1/completions: valid requests ---------------------------------------------------------

TEST(CompletionRequest, MinimalRequestGetsTheDefaults) {
  const auto request = complete(R"({"model": "tiny", "prompt": "Hello world"})");
  EXPECT_EQ(request.model, "tiny");
  ASSERT_EQ(request.prompts.size(), 1u);
  EXPECT_EQ(request.prompts[0], qwen().encode("Hello world"));
  EXPECT_EQ(request.params.max_tokens, 16);
  EXPECT_EQ(request.params.n, 1);
  EXPECT_EQ(request.params.temperature, 1.0f);
  EXPECT_FALSE(request.params.logprobs.has_value());
  EXPECT_FALSE(request.params.seed.has_value());
  EXPECT_FALSE(request.stream);
  EXPECT_FALSE(request.include_usage);
  EXPECT_TRUE(request.echo.empty());
  EXPECT_EQ(request.logprobs, LogprobsShape::kNone);
}

TEST(CompletionRequest, NullMaxTokensIsTheDefaultAndEveryServedNameIsAccepted) {
  const auto request = complete(R"({"model": "alias", "prompt": "Hi", "max_tokens": null})");
  EXPECT_EQ(request.model, "alias");
  EXPECT_EQ(request.params.max_tokens, 16);
}

TEST(CompletionRequest, EveryFieldLandsInTheRequest) {
  const auto request = complete(R"({
      "model": "tiny", "prompt": "The capital of France is", "max_tokens": 8,
      "temperature": 0.7, "top_p": 0.9, "top_k": 40, "min_p": 0.05, "n": 3, "seed": 42,
      "stop": ["\n", "."], "stop_token_ids": [151643, 151645], "presence_penalty": 0.5,
      "frequency_penalty": -0.25, "repetition_penalty": 1.1,
      "logit_bias": {"11": -100, "13": 2.5}, "logprobs": 2, "ignore_eos": true,
      "min_tokens": 2, "user": "user-1", "skip_special_tokens": false, "stream": true,
      "stream_options": {"include_usage": true}})");
  EXPECT_EQ(request.model, "tiny");
  ASSERT_EQ(request.prompts.size(), 1u);
  EXPECT_EQ(request.prompts[0], qwen().encode("The capital of France is"));
  const auto& params = request.params;
  EXPECT_EQ(params.max_tokens, 8);
  EXPECT_FLOAT_EQ(params.temperature, 0.7f);
  EXPECT_FLOAT_EQ(params.top_p, 0.9f);
  EXPECT_EQ(params.top_k, 40);
  EXPECT_FLOAT_EQ(params.min_p, 0.05f);
  EXPECT_EQ(params.n, 3);
  EXPECT_EQ(params.seed, std::optional<std::uint64_t>(42));
  EXPECT_EQ(params.stop, (std::vector<std::string>{"\n", "."}));
  EXPECT_EQ(params.stop_token_ids, (std::vector<std::int32_t>{151643, 151645}));
  EXPECT_FLOAT_EQ(params.presence_penalty, 0.5f);
  EXPECT_FLOAT_EQ(params.frequency_penalty, -0.25f);
  EXPECT_FLOAT_EQ(params.repetition_penalty, 1.1f);
  EXPECT_EQ(params.logit_bias,
            (std::vector<std::pair<std::int32_t, float>>{{11, -100.0f}, {13, 2.5f}}));
  EXPECT_EQ(params.logprobs, std::optional<std::int32_t>(2));
  EXPECT_EQ(request.logprobs, LogprobsShape::kCompletion);
  EXPECT_TRUE(params.ignore_eos);
  EXPECT_EQ(params.min_tokens, 2);
  EXPECT_FALSE(params.skip_special_tokens);
  EXPECT_TRUE(request.stream);
  EXPECT_TRUE(request.include_usage);
  EXPECT_TRUE(request.echo.empty());
}

TEST(CompletionRequest, PromptShapes) {
  // A list of strings: one prompt each, in order.
  auto request = complete(R"({"model": "tiny", "prompt": ["Hello", "big world", "!"]})");
  EXPECT_EQ(request.prompts,
            (std::vector<std::vector<std::int32_t>>{
                qwen().encode("Hello"), qwen().encode("big world"), qwen().encode("!")}));
  // A list of token ids: one prompt, verbatim.
  request = complete(R"({"model": "tiny", "prompt": [9707, 1879, 0, 151643]})");
  EXPECT_EQ(request.prompts, (std::vector<std::vector<std::int32_t>>{{9707, 1879, 0, 151643}}));
  // A list of token-id lists: one prompt each.
  request = complete(R"({"model": "tiny", "prompt": [[1, 2, 3], [4], [5, 6]]})");
  EXPECT_EQ(request.prompts, (std::vector<std::vector<std::int32_t>>{{1, 2, 3}, {4}, {5, 6}}));
  // A single-element list of strings is still a list.
  request = complete(R"({"model": "tiny", "prompt": ["Hello"]})");
  EXPECT_EQ(request.prompts, (std::vector<std::vector<std::int32_t>>{qwen().encode("Hello")}));
  // Exactly 64 prompts is the limit, not over it.
  request = complete(json{{"model", "tiny"}, {"prompt", std::vector<std::string>(64, "x")}}.dump());
  EXPECT_EQ(request.prompts.size(), 64u);
}

TEST(CompletionRequest, TopKMinusOneMeansNoLimitAndStopMayBeOneString) {
  const auto request = complete(R"({"model": "tiny", "prompt": "x", "top_k": -1, "stop": "END"})");
  EXPECT_EQ(request.params.top_k, 0);
  EXPECT_EQ(request.params.stop, std::vector<std::string>{"END"});
}

TEST(CompletionRequest, LogprobsZeroStillAsksForTheSampledTokensLogprob) {
  const auto request = complete(R"({"model": "tiny", "prompt": "x", "logprobs": 0})");
  EXPECT_EQ(request.params.logprobs, std::optional<std::int32_t>(0));
  EXPECT_EQ(request.logprobs, LogprobsShape::kCompletion);
}

TEST(CompletionRequest, EchoHoldsEachPromptsText) {
  auto request =
      complete(R"({"model": "tiny", "prompt": ["Hello", "caf\u00e9 world"], "echo": true})");
  EXPECT_EQ(request.echo, (std::vector<std::string>{"Hello", "caf\xc3\xa9 world"}));
  ASSERT_EQ(request.prompts.size(), 2u);
  // Token-id prompts are echoed as their text.
  const auto ids = qwen().encode("Good morning");
  request = complete(json{{"model", "tiny"}, {"prompt", ids}, {"echo", true}}.dump());
  EXPECT_EQ(request.echo, std::vector<std::string>{"Good morning"});
  // echo false (or null) echoes nothing.
  EXPECT_TRUE(complete(R"({"model": "tiny", "prompt": "x", "echo": false})").echo.empty());
  EXPECT_TRUE(complete(R"({"model": "tiny", "prompt": "x", "echo": null})").echo.empty());
  // echo false with logprobs is fine.
  EXPECT_EQ(complete(R"({"model": "tiny", "prompt": "x", "echo": false, "logprobs": 1})").logprobs,
            LogprobsShape::kCompletion);
}

TEST(CompletionRequest, StreamOptions) {
  auto request = complete(R"({"model": "tiny", "prompt": "x", "stream": true})");
  EXPECT_TRUE(request.stream);
  EXPECT_FALSE(request.include_usage);
  request = complete(
      R"({"model": "tiny", "prompt": "x", "stream": true, "stream_options": {"include_usage": true}})");
  EXPECT_TRUE(request.include_usage);
  request = complete(
      R"({"model": "tiny", "prompt": "x", "stream": true, "stream_options": {"include_usage": false}})");
  EXPECT_FALSE(request.include_usage);
  request = complete(R"({"model": "tiny", "prompt": "x", "stream": true, "stream_options": {}})");
  EXPECT_FALSE(request.include_usage);
  request = complete(
      R"({"model": "tiny", "prompt": "x", "stream": true, "stream_options": {"include_usage": null}})");
  EXPECT_FALSE(request.include_usage);
  // A null stream_options is no stream_options, so it needs no stream.
  request = complete(R"({"model": "tiny", "prompt": "x", "stream_options": null})");
  EXPECT_FALSE(request.stream);
}

TEST(CompletionRequest, NullOptionalFieldsMeanTheDefaults) {
  const auto request = complete(R"({
      "model": "tiny", "prompt": "x", "max_tokens": null, "temperature": null, "top_p": null,
      "top_k": null, "min_p": null, "n": null, "seed": null, "stop": null,
      "stop_token_ids": null, "presence_penalty": null, "frequency_penalty": null,
      "repetition_penalty": null, "logit_bias": null, "logprobs": null, "echo": null,
      "ignore_eos": null, "min_tokens": null, "user": null, "stream": null,
      "stream_options": null, "skip_special_tokens": null})");
  const engine::SamplingParams defaults;
  EXPECT_EQ(request.params.max_tokens, 16);
  EXPECT_EQ(request.params.temperature, defaults.temperature);
  EXPECT_EQ(request.params.top_p, defaults.top_p);
  EXPECT_EQ(request.params.top_k, defaults.top_k);
  EXPECT_EQ(request.params.n, 1);
  EXPECT_FALSE(request.params.seed.has_value());
  EXPECT_TRUE(request.params.stop.empty());
  EXPECT_TRUE(request.params.logit_bias.empty());
  EXPECT_FALSE(request.params.logprobs.has_value());
  EXPECT_EQ(request.logprobs, LogprobsShape::kNone);
  EXPECT_TRUE(request.echo.empty());
  EXPECT_FALSE(request.stream);
  EXPECT_TRUE(request.params.skip_special_tokens);
}

TEST(CompletionRequest, PromptPlusMaxTokensMayFillTheContextExactly) {
  const auto request =
      complete(json{{"model", "tiny"}, {"prompt", prompt_of(20)}, {"max_tokens", 12}}.dump());
  ASSERT_EQ(request.prompts.size(), 1u);
  EXPECT_EQ(request.prompts[0].size() + request.params.max_tokens, std::size_t{kMaxModelLen});
}

TEST(CompletionRequest, EveryPromptOfAListMustFitTheContext) {
  // The short prompt fits with max_tokens 12, the 20-token one too; 13 overflows the long one.
  EXPECT_EQ(
      complete(json{{"model", "tiny"}, {"prompt", {"a", prompt_of(20)}}, {"max_tokens", 12}}.dump())
          .prompts.size(),
      2u);
  const auto error = complete_error(
      json{{"model", "tiny"}, {"prompt", {"a", prompt_of(20)}}, {"max_tokens", 13}}.dump());
  EXPECT_EQ(error.param, "max_tokens");
}

// ---- /v1/chat/completions: valid requests ----------------------------------------------------

TEST(ChatRequest, PromptIsTheTemplateWithTheGenerationPrompt) {
  const auto request = chat(R"({"model": "tiny", "messages": [
      {"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"},
      {"role": "assistant", "content": "Hello"}, {"role": "user", "content": "Bye"}]})");
  const std::vector<tokenizer::ChatMessage> messages = {
      {"system", "Be brief."}, {"user", "Hi"}, {"assistant", "Hello"}, {"user", "Bye"}};
  const std::string text = chat_template().render(messages, true);
  // Written by hand from the template.
  EXPECT_EQ(text,
            "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n"
            "<|im_start|>assistant\nHello<|im_end|>\n<|im_start|>user\nBye<|im_end|>\n"
            "<|im_start|>assistant\n");
  ASSERT_EQ(request.prompts.size(), 1u);
  EXPECT_EQ(request.prompts[0], qwen().encode(text));
  EXPECT_EQ(request.prompts[0].front(), *qwen().token_to_id("<|im_start|>"));
  EXPECT_EQ(request.model, "tiny");
  EXPECT_EQ(request.logprobs, LogprobsShape::kNone);
  EXPECT_FALSE(request.params.logprobs.has_value());
  EXPECT_TRUE(request.echo.empty());
}

TEST(ChatRequest, WithoutASystemMessageTheDefaultSystemTurnComesFirst) {
  const auto request =
      chat(R"({"model": "tiny", "messages": [{"role": "user", "content": "Hi"}]})");
  ASSERT_EQ(request.prompts.size(), 1u);
  EXPECT_EQ(request.prompts[0],
            qwen().encode("<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n"
                          "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n"));
}

TEST(ChatRequest, DeveloperIsTheSystemRole) {
  const auto developer = chat(R"({"model": "tiny", "messages": [
      {"role": "developer", "content": "Be brief."}, {"role": "user", "content": "Hi"}]})");
  ASSERT_EQ(developer.prompts.size(), 1u);
  EXPECT_EQ(developer.prompts[0],
            qwen().encode("<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>"
                          "\n<|im_start|>assistant\n"));
}

TEST(ChatRequest, TextPartsAreJoinedAndNameAndNullAssistantContentAreAccepted) {
  const auto parts = chat(R"({"model": "tiny", "messages": [
      {"role": "user", "name": "ann", "content": [{"type": "text", "text": "Hel"},
                                                  {"type": "text", "text": "lo"}]},
      {"role": "assistant", "content": null}, {"role": "user", "content": "x"}]})");
  ASSERT_EQ(parts.prompts.size(), 1u);
  EXPECT_EQ(parts.prompts[0],
            qwen().encode("<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n"
                          "<|im_start|>user\nHello<|im_end|>\n<|im_start|>assistant\n<|im_end|>\n"
                          "<|im_start|>user\nx<|im_end|>\n<|im_start|>assistant\n"));
}

TEST(ChatRequest, DefaultMaxTokensIsAllTheContextLeft) {
  const auto request =
      chat(R"({"model": "tiny", "messages": [{"role": "user", "content": "Hi"}]})");
  ASSERT_EQ(request.prompts.size(), 1u);
  ASSERT_LT(request.prompts[0].size(), std::size_t{kMaxModelLen});
  EXPECT_EQ(request.params.max_tokens,
            kMaxModelLen - static_cast<std::int32_t>(request.prompts[0].size()));
  // null is the default too.
  EXPECT_EQ(chat(R"({"model": "tiny", "max_tokens": null, "max_completion_tokens": null,
                    "messages": [{"role": "user", "content": "Hi"}]})")
                .params.max_tokens,
            request.params.max_tokens);
}

TEST(ChatRequest, MaxCompletionTokensAndMaxTokensBothSetMaxTokens) {
  EXPECT_EQ(chat(R"({"model": "tiny", "max_completion_tokens": 3,
                    "messages": [{"role": "user", "content": "Hi"}]})")
                .params.max_tokens,
            3);
  EXPECT_EQ(chat(R"({"model": "tiny", "max_tokens": 4,
                    "messages": [{"role": "user", "content": "Hi"}]})")
                .params.max_tokens,
            4);
}

// BUG (disabled until fixed): with both fields, max_tokens wins because fields are read in
// key order and "max_tokens" sorts after "max_completion_tokens".
TEST(ChatRequest, MaxCompletionTokensWinsOverTheDeprecatedMaxTokens) {
  // OpenAI deprecates max_tokens in favour of max_completion_tokens; vLLM takes
  // max_completion_tokens when both are given.
  EXPECT_EQ(chat(R"({"model": "tiny", "max_completion_tokens": 3, "max_tokens": 5,
                    "messages": [{"role": "user", "content": "Hi"}]})")
                .params.max_tokens,
            3);
}

TEST(ChatRequest, LogprobsAndTopLogprobs) {
  auto request = chat(R"({"model": "tiny", "logprobs": true, "top_logprobs": 5,
                         "messages": [{"role": "user", "content": "Hi"}]})");
  EXPECT_EQ(request.params.logprobs, std::optional<std::int32_t>(5));
  EXPECT_EQ(request.logprobs, LogprobsShape::kChat);
  request = chat(R"({"model": "tiny", "logprobs": true,
                    "messages": [{"role": "user", "content": "Hi"}]})");
  EXPECT_EQ(request.params.logprobs, std::optional<std::int32_t>(0));
  EXPECT_EQ(request.logprobs, LogprobsShape::kChat);
  request = chat(R"({"model": "tiny", "logprobs": false,
                    "messages": [{"role": "user", "content": "Hi"}]})");
  EXPECT_FALSE(request.params.logprobs.has_value());
  EXPECT_EQ(request.logprobs, LogprobsShape::kNone);
  request = chat(R"({"model": "tiny", "logprobs": true, "top_logprobs": null,
                    "messages": [{"role": "user", "content": "Hi"}]})");
  EXPECT_EQ(request.params.logprobs, std::optional<std::int32_t>(0));
}

TEST(ChatRequest, SamplingFieldsStreamAndUserLandInTheRequest) {
  const auto request = chat(R"({"model": "alias", "messages": [{"role": "user", "content": "Hi"}],
      "temperature": 0, "top_p": 0.5, "top_k": -1, "min_p": 0.1, "n": 2, "seed": 7,
      "stop": "\n", "stop_token_ids": [151645], "presence_penalty": 1, "frequency_penalty": 1.5,
      "repetition_penalty": 1.2, "logit_bias": {"5": 1}, "ignore_eos": true, "min_tokens": 1,
      "user": "u", "stream": true, "stream_options": {"include_usage": true}})");
  EXPECT_EQ(request.model, "alias");
  EXPECT_EQ(request.params.temperature, 0.0f);
  EXPECT_FLOAT_EQ(request.params.top_p, 0.5f);
  EXPECT_EQ(request.params.top_k, 0);
  EXPECT_FLOAT_EQ(request.params.min_p, 0.1f);
  EXPECT_EQ(request.params.n, 2);
  EXPECT_EQ(request.params.seed, std::optional<std::uint64_t>(7));
  EXPECT_EQ(request.params.stop, std::vector<std::string>{"\n"});
  EXPECT_EQ(request.params.stop_token_ids, std::vector<std::int32_t>{151645});
  EXPECT_FLOAT_EQ(request.params.presence_penalty, 1.0f);
  EXPECT_FLOAT_EQ(request.params.frequency_penalty, 1.5f);
  EXPECT_FLOAT_EQ(request.params.repetition_penalty, 1.2f);
  EXPECT_EQ(request.params.logit_bias, (std::vector<std::pair<std::int32_t, float>>{{5, 1.0f}}));
  EXPECT_TRUE(request.params.ignore_eos);
  EXPECT_EQ(request.params.min_tokens, 1);
  EXPECT_TRUE(request.stream);
  EXPECT_TRUE(request.include_usage);
}

TEST(ChatRequest, MaxCompletionTokensMayFillTheContextExactly) {
  const auto probe = chat(R"({"model": "tiny", "messages": [{"role": "user", "content": "Hi"}]})");
  ASSERT_EQ(probe.prompts.size(), 1u);
  const auto left = kMaxModelLen - static_cast<std::int32_t>(probe.prompts[0].size());
  const auto request = chat(json{
      {"model", "tiny"},
      {"messages", {{{"role", "user"}, {"content", "Hi"}}}},
      {"max_completion_tokens",
       left}}.dump());
  EXPECT_EQ(request.params.max_tokens, left);
}

// ---- malformed requests ----------------------------------------------------------------------

struct BadBody {
  const char* name;
  bool chat;
  std::string body;
  std::optional<std::string> param;
  int status = 400;
  std::string message_has = "";  // a part of the message that is a contract
  std::optional<std::string> code = std::nullopt;
};

std::vector<BadBody> bad_bodies() {
  // Completions and chat bodies, valid but for what follows.
  const std::string c = R"({"model": "tiny", "prompt": "Hello", )";
  const std::string m = R"({"model": "tiny", "messages": [{"role": "user", "content": "Hi"}], )";
  const auto one = [](const std::string& message) {
    return R"({"model": "tiny", "messages": [)" + message + "]}";
  };
  std::string many = R"({"model": "tiny", "prompt": [)";
  for (int i = 0; i < 65; ++i) many += i ? ", \"x\"" : "\"x\"";
  many += "]}";
  const std::string vocab = std::to_string(qwen().vocab_size());
  return {
      // Completions.
      {"c_not_json", false, "nope", std::nullopt},
      {"c_array_body", false, "[1]", std::nullopt},
      {"c_unknown_field", false, c + R"("max_token": 4})", "max_token", 400,
       "unknown field 'max_token'"},
      {"c_unknown_field_null", false, c + R"("foo": null})", "foo", 400, "unknown field 'foo'"},
      {"c_chat_field_messages", false, c + R"("messages": []})", "messages"},
      {"c_chat_field_top_logprobs", false, c + R"("top_logprobs": 1})", "top_logprobs"},
      {"c_chat_field_max_completion_tokens", false, c + R"("max_completion_tokens": 1})",
       "max_completion_tokens"},
      {"c_n_string", false, c + R"("n": "2"})", "n", 400, "n must be an integer, got string"},
      {"c_echo_int", false, c + R"("echo": 1})", "echo", 400, "echo must be a boolean, got 1"},
      {"c_stream_string", false, c + R"("stream": "yes"})", "stream", 400,
       "stream must be a boolean, got string"},
      {"c_stop_numbers", false, c + R"("stop": [1]})", "stop", 400,
       "stop must be a string or an array of strings, got 1"},
      {"c_max_tokens_float", false, c + R"("max_tokens": 1.5})", "max_tokens"},
      {"c_max_tokens_zero", false, c + R"("max_tokens": 0})", "max_tokens"},
      {"c_logprobs_bool", false, c + R"("logprobs": true})", "logprobs"},
      {"c_logprobs_21", false, c + R"("logprobs": 21})", "logprobs"},
      {"c_user_number", false, c + R"("user": 5})", "user"},
      {"c_seed_negative", false, c + R"("seed": -1})", "seed"},
      {"c_missing_model", false, R"({"prompt": "Hello"})", "model", 400, "model is required"},
      {"c_null_model", false, R"({"model": null, "prompt": "Hello"})", "model", 400,
       "model is required"},
      {"c_model_number", false, R"({"model": 1, "prompt": "Hello"})", "model"},
      {"c_unknown_model", false, R"({"model": "gpt-4", "prompt": "Hello"})", "model", 404, "gpt-4",
       "model_not_found"},
      {"c_model_case_matters", false, R"({"model": "Tiny", "prompt": "Hello"})", "model", 404,
       "Tiny", "model_not_found"},
      {"c_missing_prompt", false, R"({"model": "tiny"})", "prompt", 400, "prompt is required"},
      {"c_null_prompt", false, R"({"model": "tiny", "prompt": null})", "prompt", 400,
       "prompt is required"},
      {"c_empty_prompt_string", false, R"({"model": "tiny", "prompt": ""})", "prompt"},
      {"c_empty_prompt_list", false, R"({"model": "tiny", "prompt": []})", "prompt"},
      {"c_empty_string_in_list", false, R"({"model": "tiny", "prompt": ["a", ""]})", "prompt"},
      {"c_empty_id_list_in_list", false, R"({"model": "tiny", "prompt": [[1], []]})", "prompt"},
      {"c_prompt_number", false, R"({"model": "tiny", "prompt": 5})", "prompt"},
      {"c_prompt_object", false, R"({"model": "tiny", "prompt": {"text": "a"}})", "prompt"},
      {"c_mixed_string_then_ids", false, R"({"model": "tiny", "prompt": ["a", [1, 2]]})", "prompt"},
      {"c_mixed_ids_then_string", false, R"({"model": "tiny", "prompt": [[1, 2], "a"]})", "prompt"},
      {"c_mixed_id_then_string", false, R"({"model": "tiny", "prompt": [1, "a"]})", "prompt"},
      {"c_mixed_id_then_list", false, R"({"model": "tiny", "prompt": [1, [2]]})", "prompt"},
      {"c_prompt_bools", false, R"({"model": "tiny", "prompt": [true]})", "prompt"},
      {"c_too_many_prompts", false, many, "prompt", 400, "at most 64"},
      {"c_token_id_is_vocab_size", false, R"({"model": "tiny", "prompt": [1, )" + vocab + "]}",
       "prompt"},
      {"c_token_id_beyond_vocab_in_list", false,
       R"({"model": "tiny", "prompt": [[1], [2, )" + vocab + "]]}", "prompt"},
      {"c_token_id_negative", false, R"({"model": "tiny", "prompt": [-1]})", "prompt"},
      {"c_temperature_negative", false, c + R"("temperature": -1})", "temperature"},
      {"c_n_zero", false, c + R"("n": 0})", "n"},
      {"c_n_65", false, c + R"("n": 65})", "n"},
      {"c_top_p_zero", false, c + R"("top_p": 0})", "top_p"},
      {"c_logit_bias_key", false, c + R"("logit_bias": {"x": 1}})", "logit_bias"},
      {"c_stream_options_without_stream", false,
       c + R"("stream_options": {"include_usage": true}})", "stream_options", 400, "stream: true"},
      {"c_stream_options_with_stream_false", false,
       c + R"("stream": false, "stream_options": {"include_usage": true}})", "stream_options"},
      {"c_stream_options_unknown_key", false,
       c + R"("stream": true, "stream_options": {"include_usage": true, "continuous": true}})",
       "stream_options", 400, "continuous"},
      {"c_stream_options_not_object", false, c + R"("stream": true, "stream_options": true})",
       "stream_options"},
      {"c_include_usage_string", false,
       c + R"("stream": true, "stream_options": {"include_usage": "yes"}})",
       "stream_options.include_usage"},
      {"c_echo_with_logprobs", false, c + R"("echo": true, "logprobs": 1})", "echo"},
      {"c_echo_with_logprobs_zero", false, c + R"("echo": true, "logprobs": 0})", "echo"},
      {"c_prompt_alone_fills_context", false,
       json{{"model", "tiny"}, {"prompt", prompt_of(kMaxModelLen)}, {"max_tokens", 1}}.dump(),
       "prompt"},
      {"c_context_overflow", false,
       json{{"model", "tiny"}, {"prompt", prompt_of(20)}, {"max_tokens", 13}}.dump(), "max_tokens",
       400, "maximum context length is 32"},
      {"c_context_overflow_default_max_tokens", false,
       json{{"model", "tiny"}, {"prompt", prompt_of(20)}}.dump(), "max_tokens", 400,
       "maximum context length is 32"},
      // Several valid fields and one invalid: the invalid one is reported.
      {"c_mixed_valid_and_bad_top_p", false,
       c + R"("max_tokens": 4, "temperature": 0.5, "n": 2, "top_p": 1.5, "seed": 3, "stop": "x"})",
       "top_p"},
      {"c_mixed_valid_and_bad_type", false,
       c + R"("max_tokens": 4, "temperature": 0.5, "ignore_eos": "no", "stream": true})",
       "ignore_eos"},
      {"c_mixed_valid_and_unknown", false,
       c + R"("max_tokens": 4, "logprobs": 2, "best_of": 2, "stream": true})", "best_of"},
      // Chat.
      {"m_missing_messages", true, R"({"model": "tiny"})", "messages", 400, "messages is required"},
      {"m_null_messages", true, R"({"model": "tiny", "messages": null})", "messages"},
      {"m_empty_messages", true, R"({"model": "tiny", "messages": []})", "messages"},
      {"m_messages_string", true, R"({"model": "tiny", "messages": "Hi"})", "messages"},
      {"m_message_not_object", true, one(R"("Hi")"), "messages[0]"},
      {"m_missing_role", true, one(R"({"content": "Hi"})"), "messages[0].role"},
      {"m_role_number", true,
       R"({"model": "tiny", "messages": [{"role": "user", "content": "a"}, {"role": 1}]})",
       "messages[1].role"},
      {"m_role_tool", true, one(R"({"role": "tool", "content": "42"})"), "messages[0].role", 400,
       "tool"},
      {"m_role_function", true, one(R"({"role": "function", "content": "42"})"),
       "messages[0].role"},
      {"m_image_url_part", true,
       one(R"({"role": "user", "content": [{"type": "image_url", "image_url": {"url": "x"}}]})"),
       "messages[0].content"},
      {"m_text_part_without_text", true, one(R"({"role": "user", "content": [{"type": "text"}]})"),
       "messages[0].content"},
      {"m_content_number", true, one(R"({"role": "user", "content": 5})"), "messages[0].content"},
      {"m_user_null_content", true, one(R"({"role": "user", "content": null})"),
       "messages[0].content"},
      {"m_user_missing_content", true, one(R"({"role": "user"})"), "messages[0].content"},
      {"m_name_number", true, one(R"({"role": "user", "content": "Hi", "name": 1})"),
       "messages[0].name"},
      {"m_unknown_message_key", true,
       one(R"({"role": "assistant", "content": null, "tool_calls": []})"), "messages[0].tool_calls",
       400, "tool_calls"},
      {"m_unknown_field", true, m + R"("tools": []})", "tools", 400, "unknown field 'tools'"},
      {"m_prompt_field", true, m + R"("prompt": "x"})", "prompt"},
      {"m_echo_field", true, m + R"("echo": true})", "echo"},
      {"m_missing_model", true, R"({"messages": [{"role": "user", "content": "Hi"}]})", "model",
       400, "model is required"},
      {"m_unknown_model", true,
       R"({"model": "gpt-4o", "messages": [{"role": "user", "content": "Hi"}]})", "model", 404,
       "gpt-4o", "model_not_found"},
      {"m_logprobs_int", true, m + R"("logprobs": 1})", "logprobs"},
      {"m_top_logprobs_without_logprobs", true, m + R"("top_logprobs": 2})", "top_logprobs", 400,
       "logprobs: true"},
      {"m_top_logprobs_with_logprobs_false", true, m + R"("logprobs": false, "top_logprobs": 2})",
       "top_logprobs"},
      {"m_top_logprobs_float", true, m + R"("logprobs": true, "top_logprobs": 2.5})",
       "top_logprobs"},
      {"m_temperature_negative", true, m + R"("temperature": -1})", "temperature"},
      {"m_n_zero", true, m + R"("n": 0})", "n"},
      {"m_stream_options_without_stream", true, m + R"("stream_options": {}})", "stream_options"},
      {"m_stream_options_unknown_key", true,
       m + R"("stream": true, "stream_options": {"chunk_size": 1}})", "stream_options", 400,
       "chunk_size"},
      {"m_max_tokens_overflow", true, m + R"("max_tokens": 32})", "max_tokens", 400,
       "maximum context length is 32"},
      {"m_max_completion_tokens_overflow", true, m + R"("max_completion_tokens": 32})",
       "max_completion_tokens", 400, "maximum context length is 32"},
      {"m_mixed_valid_and_bad_stop", true,
       m + R"("temperature": 0.2, "max_tokens": 3, "stop": ["a", 2], "n": 2})", "stop"},
  };
}

void PrintTo(const BadBody& bad, std::ostream* out) { *out << bad.name << ": " << bad.body; }

class OpenAiBadBodyTest : public ::testing::TestWithParam<BadBody> {};

TEST_P(OpenAiBadBodyTest, IsRejectedNamingTheField) {
  const auto& bad = GetParam();
  const ApiError error = parse_error(bad.chat, bad.body);
  EXPECT_EQ(error.status, bad.status) << error.message;
  EXPECT_EQ(error.param, bad.param) << error.message;
  EXPECT_EQ(error.type, bad.status == 404 ? "not_found_error" : "invalid_request_error");
  EXPECT_EQ(error.code, bad.code) << error.message;
  EXPECT_FALSE(error.message.empty());
  if (!bad.message_has.empty()) {
    EXPECT_TRUE(contains(error.message, bad.message_has)) << error.message;
  }
  EXPECT_NO_THROW((void)to_json(error).dump());
}

INSTANTIATE_TEST_SUITE_P(Malformed, OpenAiBadBodyTest, ::testing::ValuesIn(bad_bodies()),
                         [](const auto& test) { return std::string(test.param.name); });

TEST(OpenAiErrors, UnknownModelIsA404NamingTheServedModels) {
  const auto error = complete_error(R"({"model": "gpt-4", "prompt": "Hello"})");
  EXPECT_EQ(to_json(error)["error"]["code"], "model_not_found");
  EXPECT_EQ(to_json(error)["error"]["param"], "model");
  EXPECT_TRUE(contains(error.message, "tiny")) << error.message;
  EXPECT_TRUE(contains(error.message, "alias")) << error.message;
}

TEST(OpenAiErrors, UnknownFieldMessageListsTheEndpointsFields) {
  const auto completion = complete_error(R"({"model": "tiny", "prompt": "x", "max_token": 4})");
  EXPECT_TRUE(contains(completion.message, "echo")) << completion.message;
  EXPECT_TRUE(contains(completion.message, "temperature")) << completion.message;
  EXPECT_FALSE(contains(completion.message, "max_completion_tokens")) << completion.message;
  const auto chat = chat_error(
      R"({"model": "tiny", "messages": [{"role": "user", "content": "x"}], "max_token": 4})");
  EXPECT_TRUE(contains(chat.message, "max_completion_tokens")) << chat.message;
  EXPECT_TRUE(contains(chat.message, "top_logprobs")) << chat.message;
  EXPECT_FALSE(contains(chat.message, "echo")) << chat.message;
}

TEST(OpenAiErrors, ContextOverflowMessagesGiveTheNumbers) {
  EXPECT_EQ(
      complete_error(json{{"model", "tiny"}, {"prompt", prompt_of(20)}, {"max_tokens", 13}}.dump())
          .message,
      "This model's maximum context length is 32 tokens: prompt (20 tokens) + max_tokens "
      "(13) = 33 exceeds it; max_tokens can be at most 12 for this prompt");
  const auto probe = chat(R"({"model": "tiny", "messages": [{"role": "user", "content": "Hi"}]})");
  ASSERT_EQ(probe.prompts.size(), 1u);
  const auto prompt_tokens = static_cast<std::int32_t>(probe.prompts[0].size());
  const auto error = chat_error(json{
      {"model", "tiny"},
      {"messages", {{{"role", "user"}, {"content", "Hi"}}}},
      {"max_completion_tokens",
       33 - prompt_tokens}}.dump());
  EXPECT_EQ(error.param, "max_completion_tokens");
  const std::string p = std::to_string(prompt_tokens);
  EXPECT_EQ(error.message, "This model's maximum context length is 32 tokens: prompt (" + p +
                               " tokens) + max_completion_tokens (" +
                               std::to_string(33 - prompt_tokens) +
                               ") = 33 exceeds it; max_completion_tokens can be at most " +
                               std::to_string(32 - prompt_tokens) + " for this prompt");
}

TEST(OpenAiErrors, ChatWithoutATemplateIsRefusedSayingWhy) {
  const auto error =
      parse_error(true, R"({"model": "tiny", "messages": [{"role": "user", "content": "Hi"}]})",
                  no_template_context());
  EXPECT_EQ(error.status, 400);
  EXPECT_EQ(error.param, "messages");
  EXPECT_TRUE(contains(error.message, "no chat_template")) << error.message;
  // Completions still work without a template.
  EXPECT_EQ(
      parse_ok(false, R"({"model": "tiny", "prompt": "Hi"})", no_template_context()).prompts.size(),
      1u);
}

// BUG (disabled until fixed): chat's range errors come from engine::validate, which names the
// SamplingParams field (logprobs, max_tokens), not the field the chat client sent.
TEST(OpenAiErrors, ChatRangeErrorsNameTheFieldTheClientSent) {
  const std::string m = R"({"model": "tiny", "messages": [{"role": "user", "content": "Hi"}], )";
  const auto top = chat_error(m + R"("logprobs": true, "top_logprobs": 21})");
  EXPECT_EQ(top.param, "top_logprobs");
  EXPECT_TRUE(contains(top.message, "top_logprobs")) << top.message;
  EXPECT_EQ(chat_error(m + R"("logprobs": true, "top_logprobs": -1})").param, "top_logprobs");
  const auto zero = chat_error(m + R"("max_completion_tokens": 0})");
  EXPECT_EQ(zero.param, "max_completion_tokens");
  EXPECT_TRUE(contains(zero.message, "max_completion_tokens")) << zero.message;
}

// BUG (disabled until fixed): a conversation whose rendered prompt fills the context is
// reported with param "prompt", a field chat requests do not have.
TEST(OpenAiErrors, ChatPromptTooLongNamesMessages) {
  const auto error = chat_error(
      json{{"model", "tiny"}, {"messages", {{{"role", "user"}, {"content", prompt_of(40)}}}}}
          .dump());
  EXPECT_EQ(error.status, 400);
  EXPECT_EQ(error.param, "messages");
}

// BUG (disabled until fixed): echo decodes the prompt with skip_special_tokens, so special
// tokens written in a prompt string are missing from the echoed text.
TEST(CompletionRequest, EchoKeepsSpecialTokensOfThePrompt) {
  const auto request =
      complete(R"({"model": "tiny", "prompt": "<|im_start|>user hi", "echo": true})");
  EXPECT_EQ(request.echo, std::vector<std::string>{"<|im_start|>user hi"});
}

// ---- formatting --------------------------------------------------------------------------------

const ResponseHeader kHeader{"cmpl-1", 1700000000, "tiny"};
const ResponseHeader kChatHeader{"chatcmpl-1", 1700000000, "tiny"};

TEST(ModelsList, Shape) {
  EXPECT_EQ(models_list(kModelNames, 1700000000, 32).dump(),
            R"({"data":[{"created":1700000000,"id":"tiny","max_model_len":32,"object":"model",)"
            R"("owned_by":"llmserve"},{"created":1700000000,"id":"alias","max_model_len":32,)"
            R"("object":"model","owned_by":"llmserve"}],"object":"list"})");
  EXPECT_EQ(models_list({}, 1, 32).dump(), R"({"data":[],"object":"list"})");
}

TEST(OpenAiUsage, TotalIsPromptPlusCompletion) {
  EXPECT_EQ(openai_usage({5, 7, 3}).dump(),
            R"({"completion_tokens":7,"prompt_tokens":5,"total_tokens":12})");
}

TEST(CompletionResponse, ChoicesAreNumberedAcrossPrompts) {
  const auto request = complete(R"({"model": "tiny", "prompt": ["a", "b"], "n": 2})");
  const OpenAiFormatter formatter(request, kHeader, qwen(), false, 4);
  const std::vector<CompletedChoice> choices = {
      {"a0", {}, {}, FinishReason::kStop},
      {"a1", {}, {}, FinishReason::kLength},
      {"b0", {}, {}, FinishReason::kAbort},
      {"b1", {}, {}, FinishReason::kTimeout},
  };
  EXPECT_EQ(formatter.response(choices, {2, 9, 0}).dump(),
            R"({"choices":[)"
            R"({"finish_reason":"stop","index":0,"logprobs":null,"text":"a0"},)"
            R"({"finish_reason":"length","index":1,"logprobs":null,"text":"a1"},)"
            R"({"finish_reason":"abort","index":2,"logprobs":null,"text":"b0"},)"
            R"({"finish_reason":"timeout","index":3,"logprobs":null,"text":"b1"}],)"
            R"("created":1700000000,"id":"cmpl-1","model":"tiny","object":"text_completion",)"
            R"("usage":{"completion_tokens":9,"prompt_tokens":2,"total_tokens":11}})");
}

TEST(CompletionResponse, EchoPrependsEachChoicesPrompt) {
  const auto request =
      complete(R"({"model": "tiny", "prompt": ["Hello", "Bye"], "n": 2, "echo": true})");
  OpenAiFormatter formatter(request, kHeader, qwen(), false, 4);
  const std::vector<CompletedChoice> choices = {{" there", {}, {}, FinishReason::kStop},
                                                {"!", {}, {}, FinishReason::kStop},
                                                {" now", {}, {}, FinishReason::kLength},
                                                {"", {}, {}, FinishReason::kStop}};
  const auto response = formatter.response(choices, {2, 4, 0});
  ASSERT_EQ(response["choices"].size(), 4u);
  EXPECT_EQ(response["choices"][0]["text"], "Hello there");
  EXPECT_EQ(response["choices"][1]["text"], "Hello!");
  EXPECT_EQ(response["choices"][2]["text"], "Bye now");
  EXPECT_EQ(response["choices"][3]["text"], "Bye");
  // Streaming: the prompt opens each choice.
  const auto opening = formatter.opening_chunks();
  ASSERT_EQ(opening.size(), 4u);
  const char* prompts[] = {"Hello", "Hello", "Bye", "Bye"};
  for (int i = 0; i < 4; ++i) {
    EXPECT_EQ(opening[i]["choices"].size(), 1u);
    EXPECT_EQ(opening[i]["choices"][0]["index"], i);
    EXPECT_EQ(opening[i]["choices"][0]["text"], prompts[i]);
    EXPECT_EQ(opening[i]["choices"][0]["finish_reason"], nullptr);
    EXPECT_EQ(opening[i]["object"], "text_completion");
  }
}

TEST(CompletionStream, DeltasWithoutEchoOpenWithNothing) {
  const auto request = complete(R"({"model": "tiny", "prompt": "a", "stream": true})");
  OpenAiFormatter formatter(request, kHeader, qwen(), false, 1);
  EXPECT_TRUE(formatter.opening_chunks().empty());
  engine::ChoiceDelta delta;
  delta.text = "Hi";
  EXPECT_EQ(formatter.delta_chunk(delta, 0).dump(),
            R"({"choices":[{"finish_reason":null,"index":0,"logprobs":null,"text":"Hi"}],)"
            R"("created":1700000000,"id":"cmpl-1","model":"tiny","object":"text_completion"})");
  EXPECT_EQ(formatter.delta_chunk(engine::ChoiceDelta{}, 0), nullptr);
  delta = {};
  delta.finish_reason = FinishReason::kLength;
  const auto last = formatter.delta_chunk(delta, 0);
  EXPECT_EQ(last["choices"][0]["text"], "");
  EXPECT_EQ(last["choices"][0]["finish_reason"], "length");
  EXPECT_FALSE(last.contains("usage"));
  EXPECT_EQ(formatter.usage_chunk({1, 2, 0}), std::nullopt);
}

TEST(ChatResponse, MessageIsTheAssistants) {
  const auto request =
      chat(R"({"model": "tiny", "n": 2, "messages": [{"role": "user", "content": "Hi"}]})");
  const OpenAiFormatter formatter(request, kChatHeader, qwen(), true, 2);
  const std::vector<CompletedChoice> choices = {{"Hello!", {}, {}, FinishReason::kStop},
                                                {"Hey", {}, {}, FinishReason::kLength}};
  EXPECT_EQ(formatter.response(choices, {20, 3, 0}).dump(),
            R"({"choices":[)"
            R"({"finish_reason":"stop","index":0,"logprobs":null,)"
            R"("message":{"content":"Hello!","role":"assistant"}},)"
            R"({"finish_reason":"length","index":1,"logprobs":null,)"
            R"("message":{"content":"Hey","role":"assistant"}}],)"
            R"("created":1700000000,"id":"chatcmpl-1","model":"tiny","object":"chat.completion",)"
            R"("usage":{"completion_tokens":3,"prompt_tokens":20,"total_tokens":23}})");
}

TEST(ChatStream, RoleChunksThenContentThenFinishThenUsage) {
  const auto request = chat(R"({"model": "tiny", "n": 2, "stream": true,
      "stream_options": {"include_usage": true}, "messages": [{"role": "user", "content": "Hi"}]})");
  OpenAiFormatter formatter(request, kChatHeader, qwen(), true, 2);
  const auto opening = formatter.opening_chunks();
  ASSERT_EQ(opening.size(), 2u);
  for (int i = 0; i < 2; ++i) {
    EXPECT_EQ(
        opening[i].dump(),
        R"({"choices":[{"delta":{"content":"","role":"assistant"},"finish_reason":null,"index":)" +
            std::to_string(i) +
            R"(,"logprobs":null}],"created":1700000000,"id":"chatcmpl-1","model":"tiny",)"
            R"("object":"chat.completion.chunk","usage":null})");
  }
  engine::ChoiceDelta delta;
  delta.text = "Hel";
  EXPECT_EQ(formatter.delta_chunk(delta, 1).dump(),
            R"({"choices":[{"delta":{"content":"Hel"},"finish_reason":null,"index":1,)"
            R"("logprobs":null}],"created":1700000000,"id":"chatcmpl-1","model":"tiny",)"
            R"("object":"chat.completion.chunk","usage":null})");
  // Held-back text: nothing to send.
  EXPECT_EQ(formatter.delta_chunk(engine::ChoiceDelta{}, 0), nullptr);
  // Finish only: an empty delta with the reason.
  delta = {};
  delta.finish_reason = FinishReason::kStop;
  EXPECT_EQ(formatter.delta_chunk(delta, 0).dump(),
            R"({"choices":[{"delta":{},"finish_reason":"stop","index":0,"logprobs":null}],)"
            R"("created":1700000000,"id":"chatcmpl-1","model":"tiny",)"
            R"("object":"chat.completion.chunk","usage":null})");
  // Text and finish together.
  delta.text = "lo";
  delta.finish_reason = FinishReason::kLength;
  const auto last = formatter.delta_chunk(delta, 1);
  EXPECT_EQ(last["choices"][0]["delta"], (json{{"content", "lo"}}));
  EXPECT_EQ(last["choices"][0]["finish_reason"], "length");
  const auto usage = formatter.usage_chunk({20, 5, 0});
  ASSERT_TRUE(usage.has_value());
  EXPECT_EQ(usage->dump(),
            R"({"choices":[],"created":1700000000,"id":"chatcmpl-1","model":"tiny",)"
            R"("object":"chat.completion.chunk",)"
            R"("usage":{"completion_tokens":5,"prompt_tokens":20,"total_tokens":25}})");
}

TEST(ChatStream, WithoutIncludeUsageChunksHaveNoUsageKeyAndNoUsageChunk) {
  const auto request =
      chat(R"({"model": "tiny", "stream": true, "messages": [{"role": "user", "content": "Hi"}]})");
  OpenAiFormatter formatter(request, kChatHeader, qwen(), true, 1);
  const auto opening = formatter.opening_chunks();
  ASSERT_EQ(opening.size(), 1u);
  EXPECT_FALSE(opening[0].contains("usage"));
  engine::ChoiceDelta delta;
  delta.text = "x";
  EXPECT_FALSE(formatter.delta_chunk(delta, 0).contains("usage"));
  EXPECT_EQ(formatter.usage_chunk({1, 1, 0}), std::nullopt);
}

engine::TokenLogprobs token_logprobs(std::int32_t id, float logprob,
                                     std::vector<engine::TokenLogprob> top) {
  return {id, logprob, std::move(top)};
}

TEST(CompletionLogprobs, OffsetsCountCharactersAndRunOnAcrossDeltas) {
  const auto request = complete(R"({"model": "tiny", "prompt": "a", "n": 2, "logprobs": 1})");
  OpenAiFormatter formatter(request, kHeader, qwen(), false, 2);
  const std::int32_t e_acute = single_token("\xc3\xa9");  // é: 1 character, 2 bytes
  const std::int32_t world = single_token(" world");
  const std::int32_t bang = single_token("!");
  ASSERT_EQ(qwen().decode(std::vector<std::int32_t>{e_acute}), "\xc3\xa9");

  engine::ChoiceDelta first;
  first.text = "\xc3\xa9 world";
  first.token_ids = {e_acute, world};
  first.logprobs = {token_logprobs(e_acute, -0.5f, {{e_acute, -0.5f}}),
                    token_logprobs(world, -1.25f, {{bang, -0.25f}})};
  const auto chunk1 = formatter.delta_chunk(first, 0);
  EXPECT_EQ(chunk1["choices"][0]["logprobs"].dump(),
            R"({"text_offset":[0,1],"token_logprobs":[-0.5,-1.25],)"
            "\"tokens\":[\"\xc3\xa9\",\" world\"],"
            "\"top_logprobs\":[{\"\xc3\xa9\":-0.5},{\"!\":-0.25}]}");
  // The other choice counts from 0 on its own.
  engine::ChoiceDelta other;
  other.text = "!";
  other.token_ids = {bang};
  other.logprobs = {token_logprobs(bang, -2.0f, {{bang, -2.0f}})};
  EXPECT_EQ(formatter.delta_chunk(other, 1)["choices"][0]["logprobs"]["text_offset"],
            (json::array({0})));
  // Choice 0's next delta continues after "é world": 7 characters (8 bytes).
  engine::ChoiceDelta second;
  second.text = "!";
  second.token_ids = {bang};
  second.logprobs = {token_logprobs(bang, -2.0f, {{bang, -2.0f}})};
  second.finish_reason = FinishReason::kLength;
  const auto chunk2 = formatter.delta_chunk(second, 0);
  EXPECT_EQ(chunk2["choices"][0]["logprobs"]["text_offset"], (json::array({7})));
  EXPECT_EQ(chunk2["choices"][0]["logprobs"]["tokens"], (json::array({"!"})));
  EXPECT_EQ(chunk2["choices"][0]["finish_reason"], "length");
}

TEST(CompletionLogprobs, WholeResponseOffsetsStartAtZeroPerChoice) {
  const auto request = complete(R"({"model": "tiny", "prompt": "a", "n": 2, "logprobs": 0})");
  const OpenAiFormatter formatter(request, kHeader, qwen(), false, 2);
  const std::int32_t e_acute = single_token("\xc3\xa9");
  const std::int32_t bang = single_token("!");
  const std::vector<CompletedChoice> choices = {
      {"\xc3\xa9!",
       {e_acute, bang},
       {token_logprobs(e_acute, -0.5f, {}), token_logprobs(bang, -1.0f, {})},
       FinishReason::kStop},
      {"!", {bang}, {token_logprobs(bang, -0.25f, {})}, FinishReason::kLength}};
  const auto response = formatter.response(choices, {1, 3, 0});
  EXPECT_EQ(response["choices"][0]["logprobs"]["text_offset"], (json::array({0, 1})));
  EXPECT_EQ(response["choices"][0]["logprobs"]["top_logprobs"],
            (json::array({json::object(), json::object()})));
  EXPECT_EQ(response["choices"][1]["logprobs"]["text_offset"], (json::array({0})));
  EXPECT_EQ(response["choices"][1]["logprobs"]["token_logprobs"], (json::array({-0.25})));
}

TEST(ChatLogprobs, ContentEntriesCarryUnsignedBytes) {
  const auto request = chat(R"({"model": "tiny", "logprobs": true, "top_logprobs": 2,
      "stream": true, "messages": [{"role": "user", "content": "Hi"}]})");
  OpenAiFormatter formatter(request, kChatHeader, qwen(), true, 1);
  const std::int32_t e_acute = single_token("\xc3\xa9");
  const std::int32_t bang = single_token("!");
  engine::ChoiceDelta delta;
  delta.text = "\xc3\xa9";
  delta.token_ids = {e_acute};
  delta.logprobs = {token_logprobs(e_acute, -0.5f, {{e_acute, -0.5f}, {bang, -1.5f}})};
  const auto chunk = formatter.delta_chunk(delta, 0);
  EXPECT_EQ(chunk["choices"][0]["logprobs"].dump(),
            "{\"content\":[{\"bytes\":[195,169],\"logprob\":-0.5,\"token\":\"\xc3\xa9\","
            "\"top_logprobs\":[{\"bytes\":[195,169],\"logprob\":-0.5,\"token\":\"\xc3\xa9\"},"
            R"({"bytes":[33],"logprob":-1.5,"token":"!"}]}]})");
  // Whole response: the same entries under message's sibling "logprobs".
  const std::vector<CompletedChoice> choices = {
      {"!", {bang}, {token_logprobs(bang, -0.25f, {})}, FinishReason::kStop}};
  EXPECT_EQ(formatter.response(choices, {1, 1, 0})["choices"][0]["logprobs"].dump(),
            R"({"content":[{"bytes":[33],"logprob":-0.25,"token":"!","top_logprobs":[]}]})");
}

}  // namespace
}  // namespace llmserve::api
