#pragma once
// The sampling fields that the native and the OpenAI schemas share, with their strict readers.
// Private to src/api/.
#include <nlohmann/json.hpp>
#include <span>
#include <string_view>

#include "llmserve/engine/sampling_params.h"

namespace llmserve::api::detail {

// min_tokens, n, temperature, top_p, top_k (-1 = no limit), min_p, the three penalties, seed,
// stop, stop_token_ids, logit_bias, ignore_eos, skip_special_tokens. (max_tokens and logprobs
// differ between the APIs and are read by each.)
std::span<const std::string_view> sampling_field_names();

// Reads `value` (not null) into `params` when `name` is one of them; false when it is not.
// Throws Rejected (request_fields.h) for a wrong type.
bool read_sampling_field(std::string_view name, const nlohmann::json& value,
                         engine::SamplingParams& params);

}  // namespace llmserve::api::detail
