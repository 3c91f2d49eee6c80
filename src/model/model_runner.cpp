#include "llmserve/model/model_runner.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>

#include "llmserve/common/error.h"

namespace llmserve::model {
namespace {

backend::NormType norm_type(NormKind kind) {
  return kind == NormKind::kLayerNorm ? backend::NormType::kLayerNorm : backend::NormType::kRmsNorm;
}

const backend::Tensor* optional(const backend::Tensor& t) { return t.defined() ? &t : nullptr; }

}  // namespace

ModelRunner::ModelRunner(ModelSpec spec, ModelWeights weights, backend::Backend& backend)
    : spec_(std::move(spec)), weights_(std::move(weights)), backend_(&backend) {}

ModelRunner ModelRunner::load(const std::filesystem::path& dir, backend::Backend& backend) {
  ModelSpec spec = load_model_spec(dir);
  ModelWeights weights = load_model_weights(dir, spec, backend);
  return ModelRunner(std::move(spec), std::move(weights), backend);
}

void ModelRunner::allocate_kv_cache(std::int32_t num_blocks, std::int32_t block_size) {
  backend::KvCacheLayout layout;
  layout.num_layers = spec_.num_layers;
  layout.num_blocks = num_blocks;
  layout.block_size = block_size;
  layout.num_heads = spec_.num_heads;
  layout.num_kv_heads = spec_.num_kv_heads;
  layout.head_dim = spec_.head_dim;
  backend_->allocate_kv_cache(layout);
}

void ModelRunner::reserve_workspace(std::int64_t num_tokens, std::int64_t num_logits_rows) {
  backend::Backend& be = *backend_;
  if (num_tokens > workspace_.capacity_tokens) {
    // Grow geometrically so a slowly rising batch size does not reallocate every step.
    const std::int64_t n = std::max<std::int64_t>(num_tokens, 2 * workspace_.capacity_tokens);
    const std::int64_t hidden = spec_.hidden_size;
    const std::int64_t up_cols = spec_.activation == Activation::kSiluGated
                                     ? 2 * std::int64_t{spec_.intermediate_size}
                                     : spec_.intermediate_size;
    workspace_.residual = be.empty({n, hidden});
    workspace_.normed = be.empty({n, hidden});
    workspace_.qkv = be.empty({n, spec_.q_size() + 2 * spec_.kv_size()});
    workspace_.attn = be.empty({n, spec_.q_size()});
    workspace_.proj = be.empty({n, hidden});
    workspace_.up = be.empty({n, up_cols});
    workspace_.act = be.empty({n, spec_.intermediate_size});
    workspace_.down = be.empty({n, hidden});
    workspace_.capacity_tokens = n;
    ++workspace_generation_;
  }
  if (num_logits_rows > workspace_.capacity_logits_rows) {
    const std::int64_t n =
        std::max<std::int64_t>(num_logits_rows, 2 * workspace_.capacity_logits_rows);
    workspace_.rows = be.empty({n, spec_.hidden_size});
    workspace_.logits = be.empty({n, spec_.vocab_size}, DType::kF32);
    workspace_.capacity_logits_rows = n;
    ++workspace_generation_;
  }
}

backend::Tensor ModelRunner::execute(const backend::Batch& batch) {
  const std::int64_t t = batch.num_tokens();
  const auto r = static_cast<std::int64_t>(batch.logits_rows.size());
  if (t == 0) throw Error("ModelRunner::execute: empty batch");
  if (!recordings_.empty()) {
    if (auto logits = replay_decode(batch)) return *logits;
  }
  reserve_workspace(t, std::max<std::int64_t>(r, 1));
  backend_->begin_step(batch);
  forward(t, r);
  return workspace_.logits.view_rows(r);
}

void ModelRunner::forward(std::int64_t t, std::int64_t r) {
  backend::Backend& be = *backend_;
  backend::Tensor residual = workspace_.residual.view_rows(t);
  backend::Tensor normed = workspace_.normed.view_rows(t);
  backend::Tensor qkv = workspace_.qkv.view_rows(t);
  backend::Tensor attn = workspace_.attn.view_rows(t);
  backend::Tensor proj = workspace_.proj.view_rows(t);
  backend::Tensor up = workspace_.up.view_rows(t);
  backend::Tensor act = workspace_.act.view_rows(t);
  backend::Tensor down = workspace_.down.view_rows(t);

  const auto norm = norm_type(spec_.norm);
  const float eps = spec_.norm_eps;
  const float scale = 1.0f / std::sqrt(static_cast<float>(spec_.head_dim));

  be.embed(weights_.token_embedding, optional(weights_.position_embedding), residual);
  for (std::int32_t l = 0; l < spec_.num_layers; ++l) {
    const LayerWeights& w = weights_.layers[static_cast<std::size_t>(l)];
    // The previous layer's MLP output joins the residual stream inside the fused add + norm.
    if (l == 0) {
      be.norm(norm, residual, w.attn_norm_weight, optional(w.attn_norm_bias), eps, normed);
    } else {
      be.add_norm(norm, residual, down, w.attn_norm_weight, optional(w.attn_norm_bias), eps,
                  normed);
    }
    be.linear(normed, w.qkv_weight, optional(w.qkv_bias), qkv);
    if (spec_.positions == PositionKind::kRotary) be.rotary(qkv, spec_.rope_theta);
    be.write_kv(l, qkv);
    be.paged_attention(l, qkv, scale, attn);
    be.linear(attn, w.o_weight, optional(w.o_bias), proj);
    be.add_norm(norm, residual, proj, w.mlp_norm_weight, optional(w.mlp_norm_bias), eps, normed);
    if (spec_.activation == Activation::kGeluNew) {
      be.linear(normed, w.up_weight, optional(w.up_bias), act);
      be.gelu_new(act);
    } else {
      be.linear(normed, w.up_weight, optional(w.up_bias), up);
      be.silu_mul(up, act);
    }
    be.linear(act, w.down_weight, optional(w.down_bias), down);
  }
  be.add_norm(norm, residual, down, weights_.final_norm_weight, optional(weights_.final_norm_bias),
              eps, normed);

  if (r == 0) return;  // a prefill chunk that samples nothing
  backend::Tensor logits = workspace_.logits.view_rows(r);
  backend::Tensor rows = workspace_.rows.view_rows(r);
  be.gather_rows(normed, rows);
  be.linear(rows, weights_.lm_head, nullptr, logits);
}

namespace {

// A decode step: one new token per sequence, each sampled, rows in order.
bool is_decode_step(const backend::Batch& batch) {
  if (batch.num_tokens() != batch.num_seqs() ||
      batch.logits_rows.size() != static_cast<std::size_t>(batch.num_seqs())) {
    return false;
  }
  for (std::size_t i = 0; i < batch.logits_rows.size(); ++i) {
    if (batch.logits_rows[i] != static_cast<std::int32_t>(i)) return false;
  }
  return true;
}

// `batch` grown to `size` sequences by padding ones: a token at position 0 of a one-token
// context in block 0 (read, never written), whose logits nobody reads.
void pad_decode_step(const backend::Batch& batch, std::int32_t size, backend::Batch& padded) {
  padded = batch;
  const auto stride = static_cast<std::size_t>(std::max(batch.max_blocks_per_seq, 1));
  padded.max_blocks_per_seq = static_cast<std::int32_t>(stride);
  padded.block_tables.resize(static_cast<std::size_t>(batch.num_seqs()) * stride, 0);
  for (std::int32_t s = batch.num_seqs(); s < size; ++s) {
    padded.input_ids.push_back(0);
    padded.positions.push_back(0);
    padded.slot_mapping.push_back(backend::kPaddingSlot);
    padded.query_start.push_back(padded.query_start.back() + 1);
    padded.context_lens.push_back(1);
    padded.block_tables.insert(padded.block_tables.end(), stride, 0);
    padded.logits_rows.push_back(s);
  }
}

}  // namespace

void ModelRunner::record_decode_steps(std::int32_t max_tokens, std::int32_t max_seqs,
                                      std::int32_t max_context) {
  backend::Backend& be = *backend_;
  recordings_.clear();
  if (!be.can_record()) return;
  std::vector<std::int32_t> sizes;
  for (std::int32_t size = 1; size <= kMaxRecordedBatch; size *= 2) {
    sizes.push_back(size);
    if (size >= max_seqs) break;
  }
  // Everything a recording points into is sized before the first one, so none moves after.
  const std::int32_t largest = sizes.back();
  reserve_workspace(std::max(max_tokens, largest), largest);
  be.reserve_steps(std::max(max_tokens, largest), std::max(max_seqs, largest), max_context);
  backend::Batch empty;
  empty.query_start.push_back(0);
  empty.max_blocks_per_seq = 1;
  for (const std::int32_t size : sizes) {
    pad_decode_step(empty, size, padded_);
    be.begin_step(padded_);
    be.begin_recording();
    try {
      forward(size, size);
    } catch (...) {
      // Takes the stream out of capture; the half recording and any error of its own go away.
      try {
        be.end_recording();
      } catch (const std::exception&) {
      }
      throw;
    }
    recordings_.push_back({size, workspace_generation_, be.end_recording()});
  }
}

std::optional<backend::Tensor> ModelRunner::replay_decode(const backend::Batch& batch) {
  if (!is_decode_step(batch)) return std::nullopt;
  const auto it = std::find_if(recordings_.begin(), recordings_.end(), [&](const auto& r) {
    return r.batch_size >= batch.num_seqs();
  });
  if (it == recordings_.end()) return std::nullopt;
  pad_decode_step(batch, it->batch_size, padded_);
  backend_->begin_step(padded_);
  if (it->workspace_generation != workspace_generation_ || !backend_->replay(*it->recording)) {
    // Buffers moved (a step beyond what was reserved): run eagerly from now on.
    spdlog::warn("the recorded decode steps are stale (their buffers moved); running eagerly");
    recordings_.clear();
    forward(it->batch_size, it->batch_size);
  } else {
    ++num_replayed_steps_;
  }
  return workspace_.logits.view_rows(batch.num_seqs());
}

}  // namespace llmserve::model
