#pragma once
// Per-architecture weight mappings: which checkpoint tensors fill which ModelWeights slots (all
// but lm_head, which load_model_weights resolves the same way for every architecture), and how
// many values they hold.
#include "llmserve/model/model_spec.h"
#include "llmserve/model/model_weights.h"
#include "weight_reader.h"

namespace llmserve::model {

ModelWeights load_gpt2_weights(const WeightReader& reader, const ModelSpec& spec);
// Qwen2 and Llama: the same tensor names; Qwen2 adds q/k/v biases.
ModelWeights load_qwen2_weights(const WeightReader& reader, const ModelSpec& spec);

// Values the mappings above read (lm_head excluded, as there).
std::int64_t gpt2_parameter_count(const ModelSpec& spec);
std::int64_t qwen2_parameter_count(const ModelSpec& spec);

}  // namespace llmserve::model
