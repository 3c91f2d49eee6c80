#include "sampling_fields.h"

#include <fmt/format.h>

#include <array>
#include <charconv>
#include <iterator>

#include "request_fields.h"

namespace llmserve::api::detail {
namespace {

using engine::SamplingParams;

void read_top_k(const json& value, std::string_view name, SamplingParams& params) {
  const auto top_k = read_int32(value, name);
  // vLLM spells "no limit" -1; SamplingParams spells it 0. Other negatives fail validation.
  params.top_k = top_k == -1 ? 0 : top_k;
}

void read_stop(const json& value, std::string_view name, SamplingParams& params) {
  params.stop.clear();
  if (value.is_string()) {
    params.stop.push_back(value.get<std::string>());
    return;
  }
  if (!value.is_array()) reject_type(name, "a string or an array of strings", value);
  for (const auto& element : value) {
    if (!element.is_string()) reject_type(name, "a string or an array of strings", element);
    params.stop.push_back(element.get<std::string>());
  }
}

// OpenAI's shape: {"50256": -100}. Keys are decimal token ids; ranges are checked by validate.
void read_logit_bias(const json& value, std::string_view name, SamplingParams& params) {
  if (!value.is_object()) reject_type(name, "an object of token id -> bias", value);
  params.logit_bias.clear();
  for (const auto& [key, bias] : value.items()) {
    std::int32_t id = 0;
    const auto [end, ec] = std::from_chars(key.data(), key.data() + key.size(), id);
    if (ec != std::errc() || end != key.data() + key.size()) {
      reject(bad_request(fmt::format("{} keys must be token ids, got '{}'", name, field_name(key)),
                         std::string(name)));
    }
    params.logit_bias.emplace_back(id, read_float(bias, name));
  }
}

using FieldReader = void (*)(const json& value, std::string_view name, SamplingParams& params);

struct Field {
  std::string_view name;
  FieldReader read;
};

constexpr Field kFields[] = {
    {"min_tokens", [](const json& v, std::string_view name,
                      SamplingParams& p) { p.min_tokens = read_int32(v, name); }},
    {"n",
     [](const json& v, std::string_view name, SamplingParams& p) { p.n = read_int32(v, name); }},
    {"temperature", [](const json& v, std::string_view name,
                       SamplingParams& p) { p.temperature = read_float(v, name); }},
    {"top_p", [](const json& v, std::string_view name,
                 SamplingParams& p) { p.top_p = read_float(v, name); }},
    {"top_k", read_top_k},
    {"min_p", [](const json& v, std::string_view name,
                 SamplingParams& p) { p.min_p = read_float(v, name); }},
    {"presence_penalty", [](const json& v, std::string_view name,
                            SamplingParams& p) { p.presence_penalty = read_float(v, name); }},
    {"frequency_penalty", [](const json& v, std::string_view name,
                             SamplingParams& p) { p.frequency_penalty = read_float(v, name); }},
    {"repetition_penalty", [](const json& v, std::string_view name,
                              SamplingParams& p) { p.repetition_penalty = read_float(v, name); }},
    {"seed", [](const json& v, std::string_view name,
                SamplingParams& p) { p.seed = read_uint64(v, name); }},
    {"stop", read_stop},
    {"stop_token_ids", [](const json& v, std::string_view name,
                          SamplingParams& p) { p.stop_token_ids = read_int32_array(v, name); }},
    {"logit_bias", read_logit_bias},
    {"ignore_eos", [](const json& v, std::string_view name,
                      SamplingParams& p) { p.ignore_eos = read_bool(v, name); }},
    {"skip_special_tokens", [](const json& v, std::string_view name,
                               SamplingParams& p) { p.skip_special_tokens = read_bool(v, name); }},
};

constexpr auto kFieldNames = [] {
  std::array<std::string_view, std::size(kFields)> names{};
  for (std::size_t i = 0; i < names.size(); ++i) names[i] = kFields[i].name;
  return names;
}();

}  // namespace

std::span<const std::string_view> sampling_field_names() { return kFieldNames; }

bool read_sampling_field(std::string_view name, const json& value, SamplingParams& params) {
  for (const auto& field : kFields) {
    if (field.name == name) {
      field.read(value, field.name, params);
      return true;
    }
  }
  return false;
}

}  // namespace llmserve::api::detail
