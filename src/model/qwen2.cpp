// Qwen2 (modeling_qwen2.py) and Llama (modeling_llama.py): RMSNorm without bias, separate
// q/k/v/o projections (Qwen2: q/k/v with bias; Llama attention_bias: all four), rotary positions,
// SiLU-gated MLP, head tied or not.
#include <fmt/format.h>

#include "architectures.h"

namespace llmserve::model {

ModelWeights load_qwen2_weights(const WeightReader& reader, const ModelSpec& spec) {
  const std::int64_t hidden = spec.hidden_size;
  const std::int64_t q = spec.q_size();
  const std::int64_t kv = spec.kv_size();
  const std::int64_t inner = spec.intermediate_size;
  ModelWeights weights;
  weights.token_embedding = reader.upload("model.embed_tokens.weight", {spec.vocab_size, hidden});
  for (std::int32_t i = 0; i < spec.num_layers; ++i) {
    const auto name = [i](std::string_view suffix) {
      return fmt::format("model.layers.{}.{}", i, suffix);
    };
    LayerWeights layer;
    layer.attn_norm_weight = reader.upload(name("input_layernorm.weight"), {hidden});
    layer.qkv_weight =
        reader.upload_concat({name("self_attn.q_proj.weight"), name("self_attn.k_proj.weight"),
                              name("self_attn.v_proj.weight")},
                             {{q, hidden}, {kv, hidden}, {kv, hidden}});
    if (spec.qkv_bias) {
      layer.qkv_bias =
          reader.upload_concat({name("self_attn.q_proj.bias"), name("self_attn.k_proj.bias"),
                                name("self_attn.v_proj.bias")},
                               {{q}, {kv}, {kv}});
    }
    layer.o_weight = reader.upload(name("self_attn.o_proj.weight"), {hidden, q});
    if (spec.o_bias) layer.o_bias = reader.upload(name("self_attn.o_proj.bias"), {hidden});
    layer.mlp_norm_weight = reader.upload(name("post_attention_layernorm.weight"), {hidden});
    layer.up_weight =
        reader.upload_concat({name("mlp.gate_proj.weight"), name("mlp.up_proj.weight")},
                             {{inner, hidden}, {inner, hidden}});
    layer.down_weight = reader.upload(name("mlp.down_proj.weight"), {hidden, inner});
    weights.layers.push_back(std::move(layer));
  }
  weights.final_norm_weight = reader.upload("model.norm.weight", {hidden});
  return weights;
}

// The tensors above, term by term; change both together.
std::int64_t qwen2_parameter_count(const ModelSpec& spec) {
  const std::int64_t hidden = spec.hidden_size;
  const std::int64_t qkv = spec.q_size() + 2 * std::int64_t{spec.kv_size()};
  const std::int64_t inner = spec.intermediate_size;
  const std::int64_t per_layer = hidden                        // input_layernorm
                                 + qkv * hidden                // q/k/v_proj
                                 + (spec.qkv_bias ? qkv : 0)   // their biases
                                 + hidden * spec.q_size()      // o_proj
                                 + (spec.o_bias ? hidden : 0)  // its bias
                                 + hidden                      // post_attention_layernorm
                                 + 3 * inner * hidden;         // gate/up/down_proj
  return std::int64_t{spec.vocab_size} * hidden                // embed_tokens
         + spec.num_layers * per_layer + hidden;               // norm
}

}  // namespace llmserve::model
