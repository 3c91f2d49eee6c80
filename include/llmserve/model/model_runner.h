#pragma once
// The forward pass, written once against backend::Backend for every architecture (GPT-2, Qwen2,
// Llama differ only by ModelSpec flags and which weights are present). execute() runs one step
// over a flattened Batch of prefill chunks and decode tokens, writing their K/V into the paged
// cache and returning logits for the batch's logits_rows. Engine thread only.
#include <filesystem>
#include <memory>
#include <optional>
#include <vector>

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

  // Records one decode step per batch-size bucket (1, 2, 4, ... up to max_seqs rounded up to a
  // power of two, at most kMaxRecordedBatch) when the backend can record (CUDA graphs); later
  // decode steps are padded to their bucket and replayed. Steps may then reach max_tokens tokens
  // and max_context context: the buffers the recordings point into are reserved for that first.
  void record_decode_steps(std::int32_t max_tokens, std::int32_t max_seqs,
                           std::int32_t max_context);
  static constexpr std::int32_t kMaxRecordedBatch = 256;
  std::size_t num_recordings() const { return recordings_.size(); }
  std::int64_t num_replayed_steps() const { return num_replayed_steps_; }

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

  struct RecordedStep {
    std::int32_t batch_size;
    std::uint64_t workspace_generation;
    std::unique_ptr<backend::Backend::Recording> recording;
  };

  // The layer ops of a step of t tokens and r logits rows, after begin_step().
  void forward(std::int64_t t, std::int64_t r);
  // A decode step through its bucket's recording; nullopt when it has none or it went stale.
  std::optional<backend::Tensor> replay_decode(const backend::Batch& batch);

  ModelSpec spec_;
  ModelWeights weights_;
  backend::Backend* backend_;
  Workspace workspace_;
  std::uint64_t workspace_generation_ = 0;  // bumped whenever the workspace moves
  std::vector<RecordedStep> recordings_;    // by batch size, ascending
  backend::Batch padded_;                   // a decode step padded to its bucket
  std::int64_t num_replayed_steps_ = 0;
};

}  // namespace llmserve::model
