#include "cpu_backend.h"

#include <cblas.h>

#include <cmath>
#include <cstdlib>
#include <cstring>

#include "llmserve/common/error.h"

namespace llmserve::backend {
namespace {

std::int64_t rows_of(const Tensor& t) { return t.dim(0); }
std::int64_t cols_of(const Tensor& t) { return t.shape().size() > 1 ? t.dim(1) : 1; }

// Normalises one row of `n` values into `out` (LayerNorm: centred, with bias; RMSNorm: not).
void norm_row(NormType type, const float* x, const float* weight, const float* bias, float eps,
              std::int64_t n, float* out) {
  double mean = 0.0;
  if (type == NormType::kLayerNorm) {
    for (std::int64_t i = 0; i < n; ++i) mean += x[i];
    mean /= static_cast<double>(n);
  }
  double sum_sq = 0.0;
  for (std::int64_t i = 0; i < n; ++i) {
    const double d = x[i] - mean;
    sum_sq += d * d;
  }
  const auto inv = static_cast<float>(1.0 / std::sqrt(sum_sq / static_cast<double>(n) + eps));
  const auto m = static_cast<float>(mean);
  for (std::int64_t i = 0; i < n; ++i) {
    out[i] = (x[i] - m) * inv * weight[i] + (bias != nullptr ? bias[i] : 0.0f);
  }
}

}  // namespace

std::unique_ptr<Backend> make_cpu_backend() { return std::make_unique<CpuBackend>(); }

Tensor CpuBackend::empty(std::vector<std::int64_t> shape, DType dtype) {
  if (dtype != DType::kF32) {
    throw Error("cpu backend: tensors are float32, not {}", dtype_name(dtype));
  }
  std::int64_t n = 1;
  for (auto d : shape) n *= d;
  // 64-byte alignment for the GEMM and vector loops; aligned_alloc needs a multiple of it.
  const std::size_t bytes =
      (static_cast<std::size_t>(std::max<std::int64_t>(n, 1)) * 4 + 63) & ~std::size_t{63};
  void* p = std::aligned_alloc(64, bytes);
  if (p == nullptr) throw Error("cpu backend: out of memory allocating {} bytes", bytes);
  return Tensor(std::shared_ptr<void>(p, std::free), DType::kF32, std::move(shape));
}

Tensor CpuBackend::upload(std::span<const float> host, std::vector<std::int64_t> shape) {
  Tensor t = empty(std::move(shape));
  if (static_cast<std::int64_t>(host.size()) != t.num_elements()) {
    throw Error("cpu backend: upload of {} values into a tensor of {}", host.size(),
                t.num_elements());
  }
  if (!host.empty()) std::memcpy(t.data(), host.data(), host.size_bytes());
  return t;
}

void CpuBackend::download(const Tensor& tensor, std::span<float> host) {
  if (static_cast<std::int64_t>(host.size()) != tensor.num_elements()) {
    throw Error("cpu backend: download of a tensor of {} into {} values", tensor.num_elements(),
                host.size());
  }
  if (host.empty()) return;  // a step with no logits rows: nothing to copy, maybe no storage
  std::memcpy(host.data(), tensor.data(), host.size_bytes());
}

void CpuBackend::allocate_kv_cache(const KvCacheLayout& layout) {
  check_kv_cache_layout(layout);
  kv_layout_ = layout;
  const std::int64_t slots = std::int64_t{layout.num_blocks} * layout.block_size;
  const std::int64_t width = std::int64_t{layout.num_kv_heads} * layout.head_dim;
  k_cache_.clear();
  v_cache_.clear();
  for (std::int32_t l = 0; l < layout.num_layers; ++l) {
    k_cache_.push_back(empty({slots, width}));
    v_cache_.push_back(empty({slots, width}));
  }
}

void CpuBackend::copy_blocks(std::span<const Batch::BlockCopy> copies) {
  const std::int64_t block_floats =
      std::int64_t{kv_layout_.block_size} * kv_layout_.num_kv_heads * kv_layout_.head_dim;
  for (const auto& copy : copies) {
    for (auto* cache : {&k_cache_, &v_cache_}) {
      for (Tensor& layer : *cache) {
        float* data = layer.data_as<float>();
        std::memcpy(data + copy.dst * block_floats, data + copy.src * block_floats,
                    static_cast<std::size_t>(block_floats) * sizeof(float));
      }
    }
  }
}

void CpuBackend::begin_step(const Batch& batch) {
  if (k_cache_.empty()) throw Error("cpu backend: begin_step before allocate_kv_cache");
  check_batch(batch, kv_layout_.num_blocks, kv_layout_.block_size);
  copy_blocks(batch.block_copies);
  batch_ = &batch;
  rotary_theta_.reset();  // the rotary table belongs to the previous step's positions
}

void CpuBackend::embed(const Tensor& table, const Tensor* positions_table, Tensor& out) {
  const std::int64_t hidden = cols_of(table);
  check_embedding_inputs(*batch_, rows_of(table),
                         positions_table != nullptr
                             ? std::optional<std::int64_t>(rows_of(*positions_table))
                             : std::nullopt);
  const auto& ids = batch_->input_ids;
  const float* tok = table.data_as<float>();
  float* dst = out.data_as<float>();
#pragma omp parallel for
  for (std::size_t t = 0; t < ids.size(); ++t) {
    const float* row = tok + ids[t] * hidden;
    float* o = dst + static_cast<std::int64_t>(t) * hidden;
    if (positions_table != nullptr) {
      const float* pos = positions_table->data_as<float>() + batch_->positions[t] * hidden;
      for (std::int64_t i = 0; i < hidden; ++i) o[i] = row[i] + pos[i];
    } else {
      std::memcpy(o, row, static_cast<std::size_t>(hidden) * sizeof(float));
    }
  }
}

void CpuBackend::norm(NormType type, const Tensor& x, const Tensor& weight, const Tensor* bias,
                      float eps, Tensor& out) {
  const std::int64_t n = cols_of(x);
  const float* b = bias != nullptr ? bias->data_as<float>() : nullptr;
#pragma omp parallel for
  for (std::int64_t r = 0; r < rows_of(x); ++r) {
    norm_row(type, x.data_as<float>() + r * n, weight.data_as<float>(), b, eps, n,
             out.data_as<float>() + r * n);
  }
}

void CpuBackend::add_norm(NormType type, Tensor& residual, const Tensor& x, const Tensor& weight,
                          const Tensor* bias, float eps, Tensor& out) {
  add(residual, x);
  norm(type, residual, weight, bias, eps, out);
}

void CpuBackend::add(Tensor& x, const Tensor& y) {
  float* a = x.data_as<float>();
  const float* b = y.data_as<float>();
  const std::int64_t n = x.num_elements();
#pragma omp parallel for simd
  for (std::int64_t i = 0; i < n; ++i) a[i] += b[i];
}

void CpuBackend::linear(const Tensor& x, const Tensor& weight, const Tensor* bias, Tensor& out) {
  const auto m = static_cast<blasint>(rows_of(x));
  const auto k = static_cast<blasint>(cols_of(x));
  const auto n = static_cast<blasint>(rows_of(weight));
  if (cols_of(weight) != k || rows_of(out) != m || cols_of(out) != n) {
    throw Error("cpu linear: x [{}, {}] . w[{}, {}]^T into [{}, {}]", m, k, rows_of(weight),
                cols_of(weight), rows_of(out), cols_of(out));
  }
  float* o = out.data_as<float>();
  if (bias != nullptr) {
    // Start from the bias rows so the GEMM accumulates onto them (beta = 1).
    for (blasint r = 0; r < m; ++r) {
      std::memcpy(o + std::int64_t{r} * n, bias->data(), static_cast<std::size_t>(n) * 4);
    }
  }
  // One row (a batch-1 decode step, or one logits row): OpenBLAS's sgemm packs the whole weight
  // matrix before it starts, which doubled such steps; sgemv streams it once (docs/benchmarks.md).
  if (m == 1) {
    cblas_sgemv(CblasRowMajor, CblasNoTrans, n, k, 1.0f, weight.data_as<float>(), k,
                x.data_as<float>(), 1, bias != nullptr ? 1.0f : 0.0f, o, 1);
    return;
  }
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, m, n, k, 1.0f, x.data_as<float>(), k,
              weight.data_as<float>(), k, bias != nullptr ? 1.0f : 0.0f, o, n);
}

void CpuBackend::rotary(Tensor& qkv, float theta) {
  const std::int32_t hd = kv_layout_.head_dim;
  const std::int32_t half = hd / 2;
  const std::int32_t rotated_heads = kv_layout_.num_heads + kv_layout_.num_kv_heads;
  const std::int64_t width = cols_of(qkv);
  const std::int64_t tokens = rows_of(qkv);
  // cos/sin depend only on the positions, so every layer of a step shares one table [T, hd/2].
  if (rotary_theta_ != theta) {  // also true when no table was built this step
    rotary_cos_.resize(static_cast<std::size_t>(tokens * half));
    rotary_sin_.resize(rotary_cos_.size());
#pragma omp parallel for
    for (std::int64_t t = 0; t < tokens; ++t) {
      const double pos = batch_->positions[static_cast<std::size_t>(t)];
      for (std::int32_t i = 0; i < half; ++i) {
        // HF: inv_freq = theta^(-2i/hd); x_i and x_{i+half} rotate by pos * inv_freq.
        const double angle = pos * std::pow(static_cast<double>(theta), -2.0 * i / hd);
        rotary_cos_[static_cast<std::size_t>(t * half + i)] = static_cast<float>(std::cos(angle));
        rotary_sin_[static_cast<std::size_t>(t * half + i)] = static_cast<float>(std::sin(angle));
      }
    }
    rotary_theta_ = theta;
  }
  float* data = qkv.data_as<float>();
#pragma omp parallel for
  for (std::int64_t t = 0; t < tokens; ++t) {
    const float* c = rotary_cos_.data() + t * half;
    const float* s = rotary_sin_.data() + t * half;
    for (std::int32_t h = 0; h < rotated_heads; ++h) {
      float* head = data + t * width + std::int64_t{h} * hd;
      for (std::int32_t i = 0; i < half; ++i) {
        const float x1 = head[i];
        const float x2 = head[i + half];
        head[i] = x1 * c[i] - x2 * s[i];
        head[i + half] = x2 * c[i] + x1 * s[i];
      }
    }
  }
}

void CpuBackend::write_kv(std::int32_t layer, const Tensor& qkv) {
  const std::int64_t kv_width = std::int64_t{kv_layout_.num_kv_heads} * kv_layout_.head_dim;
  const std::int64_t q_width = std::int64_t{kv_layout_.num_heads} * kv_layout_.head_dim;
  const std::int64_t width = cols_of(qkv);
  float* k = k_cache_.at(static_cast<std::size_t>(layer)).data_as<float>();
  float* v = v_cache_.at(static_cast<std::size_t>(layer)).data_as<float>();
  for (std::int64_t t = 0; t < rows_of(qkv); ++t) {
    const float* row = qkv.data_as<float>() + t * width;
    const std::int64_t slot = batch_->slot_mapping[static_cast<std::size_t>(t)];
    if (slot == kPaddingSlot) continue;
    std::memcpy(k + slot * kv_width, row + q_width, static_cast<std::size_t>(kv_width) * 4);
    std::memcpy(v + slot * kv_width, row + q_width + kv_width,
                static_cast<std::size_t>(kv_width) * 4);
  }
}

void CpuBackend::paged_attention(std::int32_t layer, const Tensor& qkv, float scale, Tensor& out) {
  cpu_paged_attention(*batch_, kv_layout_, qkv.data_as<float>(),
                      k_cache_.at(static_cast<std::size_t>(layer)).data_as<float>(),
                      v_cache_.at(static_cast<std::size_t>(layer)).data_as<float>(), scale,
                      out.data_as<float>());
}

void CpuBackend::gelu_new(Tensor& x) {
  float* a = x.data_as<float>();
  const std::int64_t n = x.num_elements();
  const float k = std::sqrt(2.0f / static_cast<float>(M_PI));
#pragma omp parallel for simd
  for (std::int64_t i = 0; i < n; ++i) {
    const float v = a[i];
    a[i] = 0.5f * v * (1.0f + std::tanh(k * (v + 0.044715f * v * v * v)));
  }
}

void CpuBackend::silu_mul(const Tensor& gate_up, Tensor& out) {
  const std::int64_t inner = cols_of(out);
#pragma omp parallel for
  for (std::int64_t r = 0; r < rows_of(out); ++r) {
    const float* gate = gate_up.data_as<float>() + r * 2 * inner;
    const float* up = gate + inner;
    float* o = out.data_as<float>() + r * inner;
    for (std::int64_t i = 0; i < inner; ++i) o[i] = gate[i] / (1.0f + std::exp(-gate[i])) * up[i];
  }
}

void CpuBackend::gather_rows(const Tensor& x, Tensor& out) {
  const std::int64_t n = cols_of(x);
  for (std::size_t r = 0; r < batch_->logits_rows.size(); ++r) {
    std::memcpy(out.data_as<float>() + static_cast<std::int64_t>(r) * n,
                x.data_as<float>() + std::int64_t{batch_->logits_rows[r]} * n,
                static_cast<std::size_t>(n) * 4);
  }
}

}  // namespace llmserve::backend
