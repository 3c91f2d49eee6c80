#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "llmserve/api/api_error.h"
#include "llmserve/api/generate_api.h"
#include "llmserve/api/sse.h"
#include "llmserve/api/tokenize_api.h"
#include "qwen_files.h"

namespace llmserve::api {
namespace {

using engine::FinishReason;
using nlohmann::json;

using testing::qwen;

constexpr std::int32_t kMaxModelLen = 32;
constexpr std::size_t kMaxPromptBytes = 1024;

ApiLimits limits() { return {kMaxModelLen, qwen().vocab_size(), kMaxPromptBytes}; }

std::variant<GenerateRequest, ApiError> parse(std::string_view body) {
  return parse_generate_request(body, qwen(), limits());
}

GenerateRequest parse_ok(std::string_view body) {
  auto result = parse(body);
  if (const auto* error = std::get_if<ApiError>(&result)) {
    ADD_FAILURE() << "rejected " << body << ": " << error->message;
    return {};
  }
  return std::get<GenerateRequest>(std::move(result));
}

ApiError parse_error(std::string_view body) {
  auto result = parse(body);
  if (!std::holds_alternative<ApiError>(result)) {
    ADD_FAILURE() << "accepted " << body;
    return {};
  }
  return std::get<ApiError>(std::move(result));
}

// A prompt of exactly `tokens` tokens (" a" is one token in Qwen's vocabulary, as is "a").
std::string prompt_of(std::size_t tokens) {
  std::string text = "a";
  for (std::size_t i = 1; i < tokens; ++i) text += " a";
  return text;
}

TEST(ApiTest, PromptOfHelperHasTheTokenCountItClaims) {
  EXPECT_EQ(qwen().encode(prompt_of(1)).size(), 1u);
  EXPECT_EQ(qwen().encode(prompt_of(20)).size(), 20u);
}

// ---- malformed requests: every one a 400 (or 413) naming the field ---------------------------

struct BadBody {
  const char* name;
  std::string body;
  std::optional<std::string> param;  // nullopt: the body as a whole is wrong
  int status = 400;
};

std::vector<BadBody> bad_bodies() {
  const std::string p = R"("prompt": "Hello", )";
  std::string seventeen_stops = "[";
  for (int i = 0; i < 17; ++i) seventeen_stops += (i ? ",\"s" : "\"s") + std::to_string(i) + "\"";
  seventeen_stops += "]";
  return {
      {"not_json", "hello", std::nullopt},
      {"empty_body", "", std::nullopt},
      {"truncated", R"({"prompt": "x")", std::nullopt},
      {"trailing_garbage", R"({"prompt": "x"} x)", std::nullopt},
      {"json_array", R"(["prompt", "x"])", std::nullopt},
      {"json_string", R"("prompt")", std::nullopt},
      {"json_null", "null", std::nullopt},
      {"invalid_utf8_value", "{\"prompt\": \"caf\xc3\"}", std::nullopt},
      {"invalid_utf8_lone_ff", "{\"prompt\": \"\xff\xfe\"}", std::nullopt},
      {"invalid_utf8_key", "{\"pr\xffompt\": \"x\"}", std::nullopt},
      {"number_beyond_double", R"({"prompt": "x", "max_tokens": 1e400})", std::nullopt},
      {"missing_prompt", R"({"max_tokens": 4})", "prompt"},
      {"null_prompt", R"({"prompt": null})", "prompt"},
      {"empty_prompt", R"({"prompt": ""})", "prompt"},
      {"empty_prompt_ids", R"({"prompt": []})", "prompt"},
      {"prompt_number", R"({"prompt": 5})", "prompt"},
      {"prompt_object", R"({"prompt": {"text": "x"}})", "prompt"},
      {"prompt_ids_with_string", R"({"prompt": [1, "2"]})", "prompt"},
      {"prompt_ids_with_float", R"({"prompt": [1, 2.0]})", "prompt"},
      {"prompt_id_negative", R"({"prompt": [-1]})", "prompt"},
      {"prompt_id_beyond_vocab", R"({"prompt": [1, 999999]})", "prompt"},
      {"prompt_id_beyond_int32", R"({"prompt": [4294967296]})", "prompt"},
      {"unknown_field", "{" + p + R"("max_token": 4})", "max_token"},
      {"unknown_field_openai", "{" + p + R"("model": "gpt2"})", "model"},
      {"max_tokens_float", "{" + p + R"("max_tokens": 1.5})", "max_tokens"},
      {"max_tokens_integral_float", "{" + p + R"("max_tokens": 16.0})", "max_tokens"},
      {"max_tokens_exponent", "{" + p + R"("max_tokens": 1e3})", "max_tokens"},
      {"max_tokens_1e30", "{" + p + R"("max_tokens": 1e30})", "max_tokens"},
      {"max_tokens_beyond_int32", "{" + p + R"("max_tokens": 99999999999})", "max_tokens"},
      {"max_tokens_string", "{" + p + R"("max_tokens": "16"})", "max_tokens"},
      {"max_tokens_bool", "{" + p + R"("max_tokens": true})", "max_tokens"},
      {"max_tokens_zero", "{" + p + R"("max_tokens": 0})", "max_tokens"},
      {"max_tokens_negative", "{" + p + R"("max_tokens": -1})", "max_tokens"},
      {"min_tokens_over_max", "{" + p + R"("max_tokens": 4, "min_tokens": 5})", "min_tokens"},
      {"temperature_string", "{" + p + R"("temperature": "hot"})", "temperature"},
      {"temperature_bool", "{" + p + R"("temperature": true})", "temperature"},
      {"temperature_negative", "{" + p + R"("temperature": -0.5})", "temperature"},
      {"temperature_beyond_float", "{" + p + R"("temperature": 1e39})", "temperature"},
      {"top_p_zero", "{" + p + R"("top_p": 0})", "top_p"},
      {"top_p_above_one", "{" + p + R"("top_p": 1.5})", "top_p"},
      {"top_k_minus_two", "{" + p + R"("top_k": -2})", "top_k"},
      {"top_k_float", "{" + p + R"("top_k": 2.5})", "top_k"},
      {"min_p_above_one", "{" + p + R"("min_p": 2})", "min_p"},
      {"presence_penalty_range", "{" + p + R"("presence_penalty": 3})", "presence_penalty"},
      {"frequency_penalty_string", "{" + p + R"("frequency_penalty": "x"})", "frequency_penalty"},
      {"repetition_penalty_zero", "{" + p + R"("repetition_penalty": 0})", "repetition_penalty"},
      {"seed_negative", "{" + p + R"("seed": -1})", "seed"},
      {"seed_float", "{" + p + R"("seed": 1.5})", "seed"},
      {"seed_string", "{" + p + R"("seed": "42"})", "seed"},
      {"seed_beyond_uint64", "{" + p + R"("seed": 18446744073709551616})", "seed"},
      {"ignore_eos_int", "{" + p + R"("ignore_eos": 1})", "ignore_eos"},
      {"ignore_eos_string", "{" + p + R"("ignore_eos": "true"})", "ignore_eos"},
      {"stream_string", "{" + p + R"("stream": "yes"})", "stream"},
      {"skip_special_tokens_int", "{" + p + R"("skip_special_tokens": 0})", "skip_special_tokens"},
      {"stop_number", "{" + p + R"("stop": 5})", "stop"},
      {"stop_object", "{" + p + R"("stop": {"a": 1}})", "stop"},
      {"stop_array_of_numbers", "{" + p + R"("stop": [1, 2]})", "stop"},
      {"stop_nested_array", "{" + p + R"("stop": [["a"]]})", "stop"},
      {"stop_empty_string", "{" + p + R"("stop": [""]})", "stop"},
      {"stop_too_many", "{" + p + R"("stop": )" + seventeen_stops + "}", "stop"},
      {"stop_token_ids_string", "{" + p + R"("stop_token_ids": "1"})", "stop_token_ids"},
      {"stop_token_ids_float", "{" + p + R"("stop_token_ids": [1.5]})", "stop_token_ids"},
      {"stop_token_ids_negative", "{" + p + R"("stop_token_ids": [-1]})", "stop_token_ids"},
      {"logprobs_too_many", "{" + p + R"("logprobs": 21})", "logprobs"},
      {"logprobs_bool", "{" + p + R"("logprobs": true})", "logprobs"},
      {"n_zero", "{" + p + R"("n": 0})", "n"},
      {"n_too_many", "{" + p + R"("n": 65})", "n"},
      {"logit_bias_array", "{" + p + R"("logit_bias": [1]})", "logit_bias"},
      {"logit_bias_key_not_id", "{" + p + R"("logit_bias": {"abc": 1}})", "logit_bias"},
      {"logit_bias_key_trailing", "{" + p + R"("logit_bias": {"12x": 1}})", "logit_bias"},
      {"logit_bias_value_string", "{" + p + R"("logit_bias": {"1": "x"}})", "logit_bias"},
      {"logit_bias_value_range", "{" + p + R"("logit_bias": {"1": 101}})", "logit_bias"},
      {"logit_bias_id_beyond_vocab", "{" + p + R"("logit_bias": {"999999": 1}})", "logit_bias"},
      {"prompt_alone_too_long",
       R"({"prompt": ")" + prompt_of(kMaxModelLen) + R"(", "max_tokens": 1})", "prompt"},
      {"prompt_ids_alone_too_long",
       json{{"prompt", std::vector<int>(kMaxModelLen, 64)}, {"max_tokens", 1}}.dump(), "prompt"},
      {"prompt_plus_max_tokens_too_long",
       R"({"prompt": ")" + prompt_of(20) + R"(", "max_tokens": 13})", "max_tokens"},
      {"prompt_plus_default_max_tokens_too_long", R"({"prompt": ")" + prompt_of(20) + R"("})",
       "max_tokens"},
      {"prompt_too_many_bytes", json{{"prompt", std::string(kMaxPromptBytes + 1, 'a')}}.dump(),
       "prompt", 413},
  };
}

class BadBodyTest : public ::testing::TestWithParam<BadBody> {};

TEST_P(BadBodyTest, IsRejectedNamingTheField) {
  const auto& bad = GetParam();
  const ApiError error = parse_error(bad.body);
  EXPECT_EQ(error.status, bad.status) << error.message;
  EXPECT_EQ(error.param, bad.param) << error.message;
  EXPECT_EQ(error.type, "invalid_request_error");
  EXPECT_FALSE(error.message.empty());
  if (bad.param) {
    EXPECT_NE(error.message.find(*bad.param), std::string::npos) << error.message;
  }
  // Strict dump: the message is valid UTF-8 even when the body was not.
  EXPECT_NO_THROW((void)to_json(error).dump());
}

INSTANTIATE_TEST_SUITE_P(Malformed, BadBodyTest, ::testing::ValuesIn(bad_bodies()),
                         [](const auto& test) { return std::string(test.param.name); });

TEST(ParseGenerateRequest, WrongTypeMessageSaysWhatWasExpectedAndWhatCame) {
  EXPECT_EQ(parse_error(R"({"prompt": "x", "max_tokens": 1.5})").message,
            "max_tokens must be an integer, got 1.5");
  EXPECT_EQ(parse_error(R"({"prompt": "x", "max_tokens": 99999999999})").message,
            "max_tokens must be a 32-bit integer, got 99999999999");
  EXPECT_EQ(parse_error(R"({"prompt": "x", "ignore_eos": 1})").message,
            "ignore_eos must be a boolean, got 1");
  EXPECT_EQ(parse_error(R"({"prompt": "x", "stop": [1]})").message,
            "stop must be a string or an array of strings, got 1");
  EXPECT_EQ(parse_error("[1]").message, "request body must be a JSON object, got array");
}

TEST(ParseGenerateRequest, UnknownFieldMessageListsTheAcceptedOnes) {
  const auto error = parse_error(R"({"prompt": "x", "max_token": 4})");
  EXPECT_NE(error.message.find("unknown field 'max_token'"), std::string::npos) << error.message;
  EXPECT_NE(error.message.find("max_tokens"), std::string::npos) << error.message;
}

TEST(ParseGenerateRequest, LongUnknownFieldNameIsCutAtACharacterBoundary) {
  // 63 ASCII bytes then a 2-byte character straddling the 64-byte cut.
  const std::string name = std::string(63, 'k') + "\xc3\xa9" + std::string(100, 'k');
  const auto error = parse_error(json{{"prompt", "x"}, {name, 1}}.dump());
  ASSERT_TRUE(error.param.has_value());
  EXPECT_EQ(*error.param, std::string(63, 'k') + "...");
  EXPECT_NO_THROW((void)to_json(error).dump());
}

TEST(ParseGenerateRequest, ContextLengthMessagesGiveTheNumbers) {
  EXPECT_EQ(parse_error(R"({"prompt": ")" + prompt_of(20) + R"(", "max_tokens": 13})").message,
            "This model's maximum context length is 32 tokens: prompt (20 tokens) + max_tokens "
            "(13) = 33 exceeds it; max_tokens can be at most 12 for this prompt");
  EXPECT_EQ(parse_error(R"({"prompt": ")" + prompt_of(20) + R"("})").message,
            "This model's maximum context length is 32 tokens: prompt (20 tokens) + max_tokens "
            "(16, the default) = 36 exceeds it; max_tokens can be at most 12 for this prompt");
  EXPECT_EQ(parse_error(R"({"prompt": ")" + prompt_of(40) + R"("})").message,
            "prompt is 40 tokens; max_model_len is 32, so it must be at most 31 tokens to leave "
            "room for output");
}

// ---- valid requests ---------------------------------------------------------------------------

TEST(ParseGenerateRequest, MinimalRequestGetsTheDefaults) {
  const auto request = parse_ok(R"({"prompt": "Hello world"})");
  EXPECT_EQ(request.prompt_ids, qwen().encode("Hello world"));
  EXPECT_FALSE(request.stream);
  const engine::SamplingParams defaults;
  EXPECT_EQ(request.params.max_tokens, 16);
  EXPECT_EQ(request.params.n, defaults.n);
  EXPECT_EQ(request.params.temperature, 1.0f);
  EXPECT_EQ(request.params.top_p, defaults.top_p);
  EXPECT_EQ(request.params.top_k, defaults.top_k);
  EXPECT_FALSE(request.params.seed.has_value());
  EXPECT_FALSE(request.params.logprobs.has_value());
  EXPECT_TRUE(request.params.stop.empty());
  EXPECT_FALSE(request.params.ignore_eos);
}

TEST(ParseGenerateRequest, EveryFieldMapsExactlyIntoSamplingParams) {
  const auto request = parse_ok(R"({
      "prompt": "The capital of France is", "max_tokens": 8, "min_tokens": 2, "n": 3,
      "temperature": 0.7, "top_p": 0.9, "top_k": 40, "min_p": 0.05,
      "presence_penalty": 0.5, "frequency_penalty": -0.25, "repetition_penalty": 1.1,
      "seed": 18446744073709551615, "logprobs": 5, "stop": ["\n", "."],
      "stop_token_ids": [151643, 151645], "logit_bias": {"11": -100, "13": 2.5},
      "ignore_eos": true, "skip_special_tokens": false, "stream": true})");
  EXPECT_EQ(request.prompt_ids, qwen().encode("The capital of France is"));
  EXPECT_TRUE(request.stream);
  const auto& params = request.params;
  EXPECT_EQ(params.max_tokens, 8);
  EXPECT_EQ(params.min_tokens, 2);
  EXPECT_EQ(params.n, 3);
  EXPECT_FLOAT_EQ(params.temperature, 0.7f);
  EXPECT_FLOAT_EQ(params.top_p, 0.9f);
  EXPECT_EQ(params.top_k, 40);
  EXPECT_FLOAT_EQ(params.min_p, 0.05f);
  EXPECT_FLOAT_EQ(params.presence_penalty, 0.5f);
  EXPECT_FLOAT_EQ(params.frequency_penalty, -0.25f);
  EXPECT_FLOAT_EQ(params.repetition_penalty, 1.1f);
  EXPECT_EQ(params.seed, std::optional<std::uint64_t>(18446744073709551615ull));
  EXPECT_EQ(params.logprobs, std::optional<std::int32_t>(5));
  EXPECT_EQ(params.stop, (std::vector<std::string>{"\n", "."}));
  EXPECT_EQ(params.stop_token_ids, (std::vector<std::int32_t>{151643, 151645}));
  EXPECT_EQ(params.logit_bias,
            (std::vector<std::pair<std::int32_t, float>>{{11, -100.0f}, {13, 2.5f}}));
  EXPECT_TRUE(params.ignore_eos);
  EXPECT_FALSE(params.skip_special_tokens);
}

TEST(ParseGenerateRequest, TopKMinusOneMeansNoLimit) {
  EXPECT_EQ(parse_ok(R"({"prompt": "x", "top_k": -1})").params.top_k, 0);
  EXPECT_EQ(parse_ok(R"({"prompt": "x", "top_k": 0})").params.top_k, 0);
}

TEST(ParseGenerateRequest, StopAsOneStringAndIntegerValuedFloats) {
  const auto request = parse_ok(R"({"prompt": "x", "stop": "END", "temperature": 0, "top_p": 1})");
  EXPECT_EQ(request.params.stop, std::vector<std::string>{"END"});
  EXPECT_EQ(request.params.temperature, 0.0f);
  EXPECT_EQ(request.params.top_p, 1.0f);
}

TEST(ParseGenerateRequest, NullMeansTheDefault) {
  const auto request = parse_ok(
      R"({"prompt": "x", "temperature": null, "seed": null, "stop": null, "stream": null})");
  EXPECT_EQ(request.params.temperature, 1.0f);
  EXPECT_FALSE(request.params.seed.has_value());
  EXPECT_TRUE(request.params.stop.empty());
  EXPECT_FALSE(request.stream);
}

TEST(ParseGenerateRequest, PromptAsTokenIdsIsTakenVerbatim) {
  const auto request = parse_ok(R"({"prompt": [9707, 1879, 0, 151643], "max_tokens": 4})");
  EXPECT_EQ(request.prompt_ids, (std::vector<std::int32_t>{9707, 1879, 0, 151643}));
}

TEST(ParseGenerateRequest, SpecialTokensInTheTextAreParsed) {
  const auto request = parse_ok(R"({"prompt": "<|im_start|>user", "max_tokens": 4})");
  ASSERT_FALSE(request.prompt_ids.empty());
  EXPECT_EQ(request.prompt_ids.front(), *qwen().token_to_id("<|im_start|>"));
}

TEST(ParseGenerateRequest, PromptPlusMaxTokensMayFillTheContextExactly) {
  const auto request = parse_ok(R"({"prompt": ")" + prompt_of(20) + R"(", "max_tokens": 12})");
  EXPECT_EQ(request.prompt_ids.size() + request.params.max_tokens, std::size_t{kMaxModelLen});
  EXPECT_EQ(
      parse_ok(json{{"prompt", std::vector<int>(kMaxModelLen - 1, 64)}, {"max_tokens", 1}}.dump())
          .prompt_ids.size(),
      std::size_t{kMaxModelLen - 1});
}

TEST(ParseGenerateRequest, UnicodePromptRoundTripsThroughTheTokenizer) {
  const std::string text = "h\xc3\xa9llo \xe4\xb8\x96\xe7\x95\x8c \xf0\x9f\x99\x82";
  const auto request = parse_ok(json{{"prompt", text}, {"max_tokens", 1}}.dump());
  EXPECT_EQ(qwen().decode(request.prompt_ids), text);
}

// ---- responses and SSE ------------------------------------------------------------------------

TEST(GenerateResponse, FormatsTheNativeShape) {
  const engine::Usage usage{5, 2, 0};
  EXPECT_EQ(
      generate_response("Paris.", FinishReason::kStop, usage).dump(),
      R"({"finish_reason":"stop","text":"Paris.","usage":{"completion_tokens":2,"prompt_tokens":5}})");
  EXPECT_EQ(
      generate_response("", FinishReason::kTimeout, {3, 0, 0}).dump(),
      R"({"finish_reason":"timeout","text":"","usage":{"completion_tokens":0,"prompt_tokens":3}})");
}

TEST(GenerateResponse, SeveralChoicesAddAChoicesListAndKeepChoiceZeroOnTop) {
  const std::vector<GeneratedChoice> choices = {{"a", FinishReason::kLength},
                                                {"b", FinishReason::kStop}};
  EXPECT_EQ(generate_response(choices, {1, 4, 0}).dump(),
            R"({"choices":[{"finish_reason":"length","index":0,"text":"a"},)"
            R"({"finish_reason":"stop","index":1,"text":"b"}],"finish_reason":"length",)"
            R"("text":"a","usage":{"completion_tokens":4,"prompt_tokens":1}})");
  // One choice: exactly the n = 1 shape.
  EXPECT_EQ(generate_response(std::span(choices).first(1), {1, 2, 0}),
            generate_response("a", FinishReason::kLength, {1, 2, 0}));
}

TEST(GenerateStreamEvent, DeltaThenFinalEventAsSse) {
  EXPECT_EQ(sse_event(generate_stream_event("Hel", std::nullopt, nullptr)),
            "data: {\"finish_reason\":null,\"text\":\"Hel\"}\n\n");
  const engine::Usage usage{5, 3, 0};
  EXPECT_EQ(sse_event(generate_stream_event("lo", FinishReason::kLength, &usage)),
            "data: {\"finish_reason\":\"length\",\"text\":\"lo\",\"usage\":"
            "{\"completion_tokens\":3,\"prompt_tokens\":5}}\n\n");
  EXPECT_EQ(sse_event(generate_stream_event("", FinishReason::kTimeout, nullptr, 1)),
            "data: {\"finish_reason\":\"timeout\",\"index\":1,\"text\":\"\"}\n\n");
  EXPECT_EQ(kSseDone, "data: [DONE]\n\n");
}

TEST(SseEvent, StaysOneLineKeepsUnicodeAndReplacesInvalidUtf8) {
  EXPECT_EQ(sse_event(json{{"text", "a\nb\r\n"}}), "data: {\"text\":\"a\\nb\\r\\n\"}\n\n");
  EXPECT_EQ(sse_event(json{{"text", "caf\xc3\xa9"}}), "data: {\"text\":\"caf\xc3\xa9\"}\n\n");
  // A token cut mid-character: U+FFFD instead of an exception that would kill the stream.
  EXPECT_EQ(sse_event(json{{"text", "caf\xc3"}}), "data: {\"text\":\"caf\xef\xbf\xbd\"}\n\n");
}

// ---- error objects ----------------------------------------------------------------------------

TEST(ApiErrorTest, ToJsonHasAllFourFieldsWithNullsWhenAbsent) {
  EXPECT_EQ(to_json(bad_request("max_tokens must be >= 1, got 0", "max_tokens")).dump(),
            R"({"error":{"code":null,"message":"max_tokens must be >= 1, got 0",)"
            R"("param":"max_tokens","type":"invalid_request_error"}})");
  EXPECT_EQ(to_json(too_many_requests("too many requests in flight")).dump(),
            R"({"error":{"code":"rate_limit_exceeded","message":"too many requests in flight",)"
            R"("param":null,"type":"rate_limit_error"}})");
}

TEST(ApiErrorTest, HelpersFollowTheStatusTable) {
  struct Row {
    ApiError error;
    int status;
    const char* type;
    std::optional<std::string> code;
  };
  const Row rows[] = {
      {bad_request("m"), 400, "invalid_request_error", std::nullopt},
      {unauthorized("m"), 401, "authentication_error", "invalid_api_key"},
      {not_found("m"), 404, "not_found_error", std::nullopt},
      {method_not_allowed("m"), 405, "invalid_request_error", "method_not_allowed"},
      {payload_too_large("m"), 413, "invalid_request_error", "request_too_large"},
      {too_many_requests("m"), 429, "rate_limit_error", "rate_limit_exceeded"},
      {internal_error("m"), 500, "server_error", std::nullopt},
      {service_unavailable("m"), 503, "service_unavailable_error", std::nullopt},
      {gateway_timeout("m"), 504, "timeout_error", "request_timeout"},
      {make_error(418, "m"), 418, "invalid_request_error", std::nullopt},
      {make_error(502, "m"), 502, "server_error", std::nullopt},
  };
  for (const auto& row : rows) {
    EXPECT_EQ(row.error.status, row.status);
    EXPECT_EQ(row.error.type, row.type) << row.status;
    EXPECT_EQ(row.error.code, row.code) << row.status;
    EXPECT_EQ(row.error.message, "m");
    EXPECT_FALSE(row.error.param.has_value());
  }
}

// ---- /tokenize and /detokenize ----------------------------------------------------------------

TokenizeRequest tokenize_ok(std::string_view body) {
  auto result = parse_tokenize_request(body, qwen(), limits());
  if (const auto* error = std::get_if<ApiError>(&result)) {
    ADD_FAILURE() << "rejected " << body << ": " << error->message;
    return {};
  }
  return std::get<TokenizeRequest>(std::move(result));
}

TEST(TokenizeApi, RoundTripsThroughDetokenize) {
  for (const std::string text :
       {"Hello world", "h\xc3\xa9llo \xe4\xb8\x96\xe7\x95\x8c \xf0\x9f\x99\x82",
        "<|im_start|>user\nhi<|im_end|>", "  spaces\tand\nnewlines  "}) {
    const auto tokenized = tokenize_ok(json{{"prompt", text}}.dump());
    EXPECT_EQ(tokenized.prompt_ids, qwen().encode(text));
    const auto response = tokenize_response(tokenized.prompt_ids, kMaxModelLen);
    EXPECT_EQ(response["count"], tokenized.prompt_ids.size());
    const auto detokenize =
        parse_detokenize_request(json{{"tokens", response["tokens"]}}.dump(), qwen().vocab_size());
    ASSERT_TRUE(std::holds_alternative<DetokenizeRequest>(detokenize));
    const auto& ids = std::get<DetokenizeRequest>(detokenize).tokens;
    EXPECT_EQ(ids, tokenized.prompt_ids);
    EXPECT_EQ(detokenize_response(qwen().decode(ids))["prompt"], text);
  }
}

TEST(TokenizeApi, ResponseShapes) {
  const std::vector<std::int32_t> ids = {9707, 1879};
  EXPECT_EQ(tokenize_response(ids, 2048).dump(),
            R"({"count":2,"max_model_len":2048,"tokens":[9707,1879]})");
  EXPECT_EQ(tokenize_response({}, 2048).dump(), R"({"count":0,"max_model_len":2048,"tokens":[]})");
  EXPECT_EQ(detokenize_response("Hello world").dump(), R"({"prompt":"Hello world"})");
}

TEST(TokenizeApi, EmptyPromptAndAddSpecialTokensAreAccepted) {
  EXPECT_TRUE(tokenize_ok(R"({"prompt": ""})").prompt_ids.empty());
  EXPECT_EQ(tokenize_ok(R"({"prompt": "Hi", "add_special_tokens": true})").prompt_ids,
            qwen().encode("Hi"));
  EXPECT_EQ(tokenize_ok(R"({"prompt": "Hi", "add_special_tokens": false})").prompt_ids,
            qwen().encode("Hi"));
}

TEST(TokenizeApi, MalformedBodiesAreRejectedNamingTheField) {
  const std::pair<std::string, std::optional<std::string>> cases[] = {
      {"nope", std::nullopt},
      {R"([1])", std::nullopt},
      {"{\"prompt\": \"\xff\"}", std::nullopt},
      {R"({})", "prompt"},
      {R"({"prompt": null})", "prompt"},
      {R"({"prompt": 1})", "prompt"},
      {R"({"prompt": [1, 2]})", "prompt"},
      {R"({"prompt": "x", "add_special_tokens": "yes"})", "add_special_tokens"},
      {R"({"prompt": "x", "text": "y"})", "text"},
  };
  for (const auto& [body, param] : cases) {
    auto result = parse_tokenize_request(body, qwen(), limits());
    ASSERT_TRUE(std::holds_alternative<ApiError>(result)) << body;
    EXPECT_EQ(std::get<ApiError>(result).status, 400) << body;
    EXPECT_EQ(std::get<ApiError>(result).param, param) << body;
  }
  auto too_long = parse_tokenize_request(
      json{{"prompt", std::string(kMaxPromptBytes + 1, 'a')}}.dump(), qwen(), limits());
  ASSERT_TRUE(std::holds_alternative<ApiError>(too_long));
  EXPECT_EQ(std::get<ApiError>(too_long).status, 413);
}

TEST(DetokenizeApi, MalformedBodiesAreRejectedNamingTheField) {
  const std::pair<std::string, std::optional<std::string>> cases[] = {
      {"", std::nullopt},
      {R"("tokens")", std::nullopt},
      {R"({})", "tokens"},
      {R"({"tokens": "1 2"})", "tokens"},
      {R"({"tokens": [1.5]})", "tokens"},
      {R"({"tokens": [true]})", "tokens"},
      {R"({"tokens": [-1]})", "tokens"},
      {R"({"tokens": [151669000]})", "tokens"},
      {R"({"tokens": [1], "skip_special_tokens": true})", "skip_special_tokens"},
  };
  for (const auto& [body, param] : cases) {
    auto result = parse_detokenize_request(body, qwen().vocab_size());
    ASSERT_TRUE(std::holds_alternative<ApiError>(result)) << body;
    EXPECT_EQ(std::get<ApiError>(result).status, 400) << body;
    EXPECT_EQ(std::get<ApiError>(result).param, param) << body;
  }
  auto empty = parse_detokenize_request(R"({"tokens": []})", qwen().vocab_size());
  ASSERT_TRUE(std::holds_alternative<DetokenizeRequest>(empty));
  EXPECT_TRUE(std::get<DetokenizeRequest>(empty).tokens.empty());
}

}  // namespace
}  // namespace llmserve::api
