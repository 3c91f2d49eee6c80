#pragma once
// The forward pass, written once against backend::Backend for every architecture (GPT-2, Qwen2,
// Llama differ only by ModelSpec flags and which weights are present). execute() runs one step
// over a flattened Batch of prefill chunks and decode tokens, writing their K/V into the paged
// cache and returning logits for the batch's logits_rows. Engine thread only.
#include <filesystem>
#include <memory>

#include "llmserve/backend/backend.h"
#include "llmserve/model/model_spec.h"
#include "llmserve/model/model_weights.h"

namespace llmserve::model {

class ModelRunner {
 public:
  ModelRunner(ModelSpec spec, ModelWeights weights, backend::Backend& backend);

  // Loads config.json and the checkpoint of DIR onto `backend`.
  static ModelRunner load(const std::filesystem::path& dir, backend::Backend& backend);

  // Allocates the paged KV cache for this model: num_blocks blocks of block_size tokens.
  void allocate_kv_cache(std::int32_t num_blocks, std::int32_t block_size);

  // Allocates the activations of a step of `num_tokens` tokens and `num_logits_rows` logits rows
  // now, so that a device's free memory, measured next, already excludes them. execute() grows
  // them on demand otherwise.
  void reserve_workspace(std::int64_t num_tokens, std::int64_t num_logits_rows);

  // Logits [batch.logits_rows.size(), vocab_size] (fp32) in backend memory, valid until the next
  // call.
  backend::Tensor execute(const backend::Batch& batch);

  const ModelSpec& spec() const { return spec_; }
  backend::Backend& backend() const { return *backend_; }

 private:
  // Activation buffers for up to capacity_tokens_ tokens; regrown only when a step is larger.
  struct Workspace {
    std::int64_t capacity_tokens = 0;
    std::int64_t capacity_logits_rows = 0;
    backend::Tensor residual, normed, qkv, attn, proj, up, act, down, rows, logits;
  };

  ModelSpec spec_;
  ModelWeights weights_;
  backend::Backend* backend_;
  Workspace workspace_;
};

}  // namespace llmserve::model
