#pragma once
// Strict readers for the fields of a JSON request body, shared by the api/ parsers. Each reader
// checks one value's JSON type and range and throws Rejected (a 400 naming the field and what it
// expects) otherwise; the public parse_* functions catch it at their entry and return the
// ApiError, so a check deep in a reader needs no error plumbing. Private to src/api/.
#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "llmserve/api/api_error.h"
#include "llmserve/api/generate_api.h"
#include "llmserve/engine/sampling_params.h"
#include "llmserve/tokenizer/tokenizer.h"

namespace llmserve::api::detail {

using nlohmann::json;

struct Rejected {
  ApiError error;
};

[[noreturn]] void reject(ApiError error);

// The body as a JSON object. Not JSON, not UTF-8 or not an object -> 400.
json parse_object(std::string_view body);

// A field name fit to quote in a message and to return as `param`: at most 64 bytes, cut at a
// character boundary (names come from the client and may be long).
std::string field_name(std::string_view name);

// 400 for a field not in `accepted`; the message lists them so a typo is easy to spot.
[[noreturn]] void reject_unknown_field(std::string_view name,
                                       std::span<const std::string_view> accepted);

// 400 "`name` must be `expected`, got <the JSON type or, for a number, the value>".
[[noreturn]] void reject_type(std::string_view name, std::string_view expected, const json& value);

// Integers: JSON numbers written without fraction or exponent, in range. 1.0 and 1e3 are
// rejected rather than truncated, so that a client bug is not silently reinterpreted.
std::int32_t read_int32(const json& value, std::string_view name);
std::uint64_t read_uint64(const json& value, std::string_view name);
std::vector<std::int32_t> read_int32_array(const json& value, std::string_view name);

// Any JSON number representable as a float (integers included); ranges are engine::validate's.
float read_float(const json& value, std::string_view name);
bool read_bool(const json& value, std::string_view name);

// A prompt string: 413 when longer than `max_bytes`, 400 when empty.
const std::string& read_prompt_text(const json& value, std::string_view name,
                                    std::size_t max_bytes);

// Token ids as a prompt or for /detokenize: each in [0, vocab_size).
void require_token_ids(const std::vector<std::int32_t>& ids, std::string_view name,
                       std::int32_t vocab_size);

bool is_known_field(std::string_view name, std::span<const std::string_view> accepted);

// engine::validate, its InvalidParameter turned into a 400 naming the field. `renames` maps the
// engine's field names to the ones this API's client sent (chat's top_logprobs for logprobs).
struct FieldRename {
  std::string_view engine;
  std::string_view client;
};
void validate_params(const engine::SamplingParams& params, std::int32_t vocab_size,
                     std::span<const FieldRename> renames = {});

// A prompt given as a string (tokenized, special tokens parsed) or as token ids; checked to be
// non-empty, within the byte limit and the vocabulary.
std::vector<std::int32_t> prompt_ids(const json& prompt, std::string_view name,
                                     const tokenizer::Tokenizer& tokenizer,
                                     const ApiLimits& limits);

// prompt + max_tokens must fit in max_model_len, with room for one output token at least. The
// message gives the numbers; `max_tokens_field` is the field the client set (empty when it took
// the default) and `prompt_field` the one the prompt came from, named as the error's param.
void check_context_fits(std::size_t prompt_tokens, std::int32_t max_tokens,
                        std::string_view max_tokens_field, const ApiLimits& limits,
                        std::string_view prompt_field = "prompt");

}  // namespace llmserve::api::detail
