#include "request_fields.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <limits>
#include <utility>

#include "llmserve/common/error.h"

namespace llmserve::api::detail {
namespace {

constexpr std::size_t kMaxQuotedNameBytes = 64;

// nlohmann's parse errors read "[json.exception.parse_error.101] parse error at line 1, column
// 2: <reason>; last read: '<bytes>'". The bytes may be the invalid UTF-8 that caused the error,
// and a message must stay valid UTF-8, so only the fixed-text part between the two is kept.
// (A number too large for a double, 1e400, is an out_of_range error of the same shape.)
std::string parse_error_reason(const nlohmann::json::exception& e) {
  std::string_view what = e.what();
  if (const auto start = what.find("] "); start != std::string_view::npos) {
    what.remove_prefix(start + 2);
  }
  if (const auto end = what.find("; last read"); end != std::string_view::npos) {
    what = what.substr(0, end);
  }
  return std::string(what);
}

std::string describe(const json& value) {
  // Numbers are short and show what was wrong (1.5, 1e+30, -3); other values by type only.
  if (value.is_number()) return value.dump();
  return value.type_name();
}

}  // namespace

void reject(ApiError error) { throw Rejected{std::move(error)}; }

json parse_object(std::string_view body) {
  json parsed;
  try {
    parsed = json::parse(body);
  } catch (const json::exception& e) {
    reject(bad_request(
        fmt::format("request body is not valid UTF-8 JSON: {}", parse_error_reason(e))));
  }
  if (!parsed.is_object()) {
    reject(
        bad_request(fmt::format("request body must be a JSON object, got {}", parsed.type_name())));
  }
  return parsed;
}

std::string field_name(std::string_view name) {
  if (name.size() <= kMaxQuotedNameBytes) return std::string(name);
  std::size_t end = kMaxQuotedNameBytes;
  // Back up over UTF-8 continuation bytes (10xxxxxx) so no character is cut in half.
  while (end > 0 && (static_cast<unsigned char>(name[end]) & 0xC0) == 0x80) --end;
  return std::string(name.substr(0, end)) + "...";
}

void reject_unknown_field(std::string_view name, std::span<const std::string_view> accepted) {
  const std::string quoted = field_name(name);
  reject(bad_request(
      fmt::format("unknown field '{}'; accepted fields: {}", quoted, fmt::join(accepted, ", ")),
      quoted));
}

void reject_type(std::string_view name, std::string_view expected, const json& value) {
  reject(bad_request(fmt::format("{} must be {}, got {}", name, expected, describe(value)),
                     std::string(name)));
}

std::int32_t read_int32(const json& value, std::string_view name) {
  constexpr std::int64_t kMin = std::numeric_limits<std::int32_t>::min();
  constexpr std::int64_t kMax = std::numeric_limits<std::int32_t>::max();
  if (value.is_number_unsigned()) {
    if (value.get<std::uint64_t>() > static_cast<std::uint64_t>(kMax)) {
      reject_type(name, "a 32-bit integer", value);
    }
    return static_cast<std::int32_t>(value.get<std::uint64_t>());
  }
  if (value.is_number_integer()) {
    const auto v = value.get<std::int64_t>();
    if (v < kMin || v > kMax) reject_type(name, "a 32-bit integer", value);
    return static_cast<std::int32_t>(v);
  }
  reject_type(name, "an integer", value);
}

std::uint64_t read_uint64(const json& value, std::string_view name) {
  // nlohmann stores every non-negative integer literal as unsigned, negative ones as signed.
  if (!value.is_number_unsigned()) reject_type(name, "a non-negative integer below 2^64", value);
  return value.get<std::uint64_t>();
}

std::vector<std::int32_t> read_int32_array(const json& value, std::string_view name) {
  if (!value.is_array()) reject_type(name, "an array of integers", value);
  std::vector<std::int32_t> ids;
  ids.reserve(value.size());
  for (const auto& element : value) {
    if (!element.is_number_integer()) reject_type(name, "an array of integers", element);
    ids.push_back(read_int32(element, name));
  }
  return ids;
}

float read_float(const json& value, std::string_view name) {
  if (!value.is_number()) reject_type(name, "a number", value);
  const auto v = value.get<double>();
  // Converting a double beyond float's range is undefined behaviour, so it is refused here.
  if (std::fabs(v) > FLT_MAX) reject_type(name, "a number in float range", value);
  return static_cast<float>(v);
}

bool read_bool(const json& value, std::string_view name) {
  if (!value.is_boolean()) reject_type(name, "a boolean", value);
  return value.get<bool>();
}

const std::string& read_prompt_text(const json& value, std::string_view name,
                                    std::size_t max_bytes) {
  if (!value.is_string()) reject_type(name, "a string", value);
  const auto& text = value.get_ref<const std::string&>();
  if (text.size() > max_bytes) {
    reject(payload_too_large(
        fmt::format("{} is {} bytes, over the limit of {}", name, text.size(), max_bytes),
        std::string(name)));
  }
  if (text.empty())
    reject(bad_request(fmt::format("{} must not be empty", name), std::string(name)));
  return text;
}

void require_token_ids(const std::vector<std::int32_t>& ids, std::string_view name,
                       std::int32_t vocab_size) {
  for (std::size_t i = 0; i < ids.size(); ++i) {
    if (ids[i] < 0 || ids[i] >= vocab_size) {
      reject(bad_request(fmt::format("{}[{}] = {} is not a token id: ids are in [0, {})", name, i,
                                     ids[i], vocab_size),
                         std::string(name)));
    }
  }
}

bool is_known_field(std::string_view name, std::span<const std::string_view> accepted) {
  return std::find(accepted.begin(), accepted.end(), name) != accepted.end();
}

void validate_params(const engine::SamplingParams& params, std::int32_t vocab_size,
                     std::span<const FieldRename> renames) {
  try {
    engine::validate(params, vocab_size);
  } catch (const engine::InvalidParameter& e) {
    for (const auto& rename : renames) {
      if (e.param() != rename.engine) continue;
      // The message starts with the engine's name for the field: say the client's instead.
      std::string message = e.what();
      if (message.starts_with(rename.engine))
        message.replace(0, rename.engine.size(), rename.client);
      reject(bad_request(std::move(message), std::string(rename.client)));
    }
    reject(bad_request(e.what(), e.param()));
  }
}

std::vector<std::int32_t> prompt_ids(const json& prompt, std::string_view name,
                                     const tokenizer::Tokenizer& tokenizer,
                                     const ApiLimits& limits) {
  std::vector<std::int32_t> ids;
  if (prompt.is_array()) {
    ids = read_int32_array(prompt, name);
    if (ids.empty())
      reject(bad_request(fmt::format("{} must not be empty", name), std::string(name)));
  } else {
    if (!prompt.is_string()) reject_type(name, "a string or an array of token ids", prompt);
    const auto& text = read_prompt_text(prompt, name, limits.max_prompt_bytes);
    try {
      ids = tokenizer.encode(text);
    } catch (const Error& e) {
      reject(bad_request(fmt::format("{} cannot be tokenized: {}", name, e.what()),
                         std::string(name)));
    }
  }
  require_token_ids(ids, name, limits.vocab_size);
  return ids;
}

void check_context_fits(std::size_t prompt_size, std::int32_t max_tokens,
                        std::string_view max_tokens_field, const ApiLimits& limits,
                        std::string_view prompt_field) {
  const auto prompt_tokens = static_cast<std::int64_t>(prompt_size);
  // At least one output token must fit, so a prompt of max_model_len tokens is already too long.
  if (prompt_tokens >= limits.max_model_len) {
    reject(bad_request(
        fmt::format("{} is {} tokens; max_model_len is {}, so it must be at most {} "
                    "tokens to leave room for output",
                    prompt_field, prompt_tokens, limits.max_model_len, limits.max_model_len - 1),
        std::string(prompt_field)));
  }
  if (prompt_tokens + max_tokens > limits.max_model_len) {
    const bool given = !max_tokens_field.empty();
    const std::string field = given ? std::string(max_tokens_field) : "max_tokens";
    reject(bad_request(
        fmt::format("This model's maximum context length is {} tokens: prompt ({} tokens) + "
                    "{} ({}{}) = {} exceeds it; {} can be at most {} for this prompt",
                    limits.max_model_len, prompt_tokens, field, max_tokens,
                    given ? "" : ", the default", prompt_tokens + max_tokens, field,
                    limits.max_model_len - prompt_tokens),
        field));
  }
}

}  // namespace llmserve::api::detail
