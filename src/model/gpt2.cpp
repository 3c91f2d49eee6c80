// GPT-2 (modeling_gpt2.py): learned positions, LayerNorm with bias, Conv1D weights stored
// [in, out], fused c_attn, gelu_new MLP.
#include <fmt/format.h>

#include "architectures.h"

namespace llmserve::model {

ModelWeights load_gpt2_weights(const WeightReader& reader, const ModelSpec& spec) {
  const std::int64_t hidden = spec.hidden_size;
  const std::int64_t inner = spec.intermediate_size;
  ModelWeights weights;
  weights.token_embedding = reader.upload("wte.weight", {spec.vocab_size, hidden});
  weights.position_embedding = reader.upload("wpe.weight", {spec.max_position_embeddings, hidden});
  for (std::int32_t i = 0; i < spec.num_layers; ++i) {
    const auto name = [i](std::string_view suffix) { return fmt::format("h.{}.{}", i, suffix); };
    LayerWeights layer;
    layer.attn_norm_weight = reader.upload(name("ln_1.weight"), {hidden});
    layer.attn_norm_bias = reader.upload(name("ln_1.bias"), {hidden});
    layer.qkv_weight = reader.upload_transposed(name("attn.c_attn.weight"), hidden, 3 * hidden);
    layer.qkv_bias = reader.upload(name("attn.c_attn.bias"), {3 * hidden});
    layer.o_weight = reader.upload_transposed(name("attn.c_proj.weight"), hidden, hidden);
    layer.o_bias = reader.upload(name("attn.c_proj.bias"), {hidden});
    layer.mlp_norm_weight = reader.upload(name("ln_2.weight"), {hidden});
    layer.mlp_norm_bias = reader.upload(name("ln_2.bias"), {hidden});
    layer.up_weight = reader.upload_transposed(name("mlp.c_fc.weight"), hidden, inner);
    layer.up_bias = reader.upload(name("mlp.c_fc.bias"), {inner});
    layer.down_weight = reader.upload_transposed(name("mlp.c_proj.weight"), inner, hidden);
    layer.down_bias = reader.upload(name("mlp.c_proj.bias"), {hidden});
    weights.layers.push_back(std::move(layer));
  }
  weights.final_norm_weight = reader.upload("ln_f.weight", {hidden});
  weights.final_norm_bias = reader.upload("ln_f.bias", {hidden});
  return weights;
}

// The tensors above, term by term; change both together.
std::int64_t gpt2_parameter_count(const ModelSpec& spec) {
  const std::int64_t hidden = spec.hidden_size;
  const std::int64_t inner = spec.intermediate_size;
  const std::int64_t per_layer = 2 * hidden                                       // ln_1
                                 + (hidden + 1) * 3 * hidden                      // attn.c_attn
                                 + (hidden + 1) * hidden                          // attn.c_proj
                                 + 2 * hidden                                     // ln_2
                                 + (hidden + 1) * inner                           // mlp.c_fc
                                 + (inner + 1) * hidden;                          // mlp.c_proj
  return (std::int64_t{spec.vocab_size} + spec.max_position_embeddings) * hidden  // wte, wpe
         + spec.num_layers * per_layer + 2 * hidden;                              // ln_f
}

}  // namespace llmserve::model
