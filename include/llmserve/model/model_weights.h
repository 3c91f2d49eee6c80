#pragma once
// A model's weights in backend memory, in one layout for every architecture: linear weights are
// [out, in] (GPT-2's Conv1D [in, out] is transposed at load), q/k/v are one fused [q + 2 kv, H]
// projection, and a SiLU-gated MLP's gate and up are one [2 I, H] projection (gate rows first), so
// ModelRunner issues the same GEMMs whatever the checkpoint. Optional tensors are undefined
// Tensors (no bias in RMSNorm models, no position table with rotary embeddings).
#include <cstdint>
#include <filesystem>
#include <vector>

#include "llmserve/backend/backend.h"
#include "llmserve/model/model_spec.h"

namespace llmserve::model {

struct LayerWeights {
  backend::Tensor attn_norm_weight, attn_norm_bias;  // [H]
  backend::Tensor qkv_weight, qkv_bias;              // [q + 2 kv, H], [q + 2 kv]
  backend::Tensor o_weight, o_bias;                  // [H, q], [H]
  backend::Tensor mlp_norm_weight, mlp_norm_bias;    // [H]
  backend::Tensor up_weight, up_bias;                // [I, H] or gate+up [2 I, H]
  backend::Tensor down_weight, down_bias;            // [H, I], [H]
};

struct ModelWeights {
  backend::Tensor token_embedding;     // [V, H]
  backend::Tensor position_embedding;  // [P, H], learned positions only
  std::vector<LayerWeights> layers;
  backend::Tensor final_norm_weight, final_norm_bias;  // [H]
  backend::Tensor lm_head;  // [V, H]; shares token_embedding's storage when tied
};

// Reads every tensor the spec needs from DIR's safetensors checkpoint (names accepted with and
// without the "transformer." / "model." prefixes), checks its shape, converts it to fp32 and
// uploads it. A missing tensor or a wrong shape throws llmserve::Error naming tensor and file.
ModelWeights load_model_weights(const std::filesystem::path& dir, const ModelSpec& spec,
                                backend::Backend& backend);

// Number of values load_model_weights reads for `spec`, a tied head counted once: the size of the
// weights without a checkpoint (kv-plan). Each architecture states its count beside its tensor
// names, and a test checks it against every fixture checkpoint.
std::int64_t parameter_count(const ModelSpec& spec);

}  // namespace llmserve::model
