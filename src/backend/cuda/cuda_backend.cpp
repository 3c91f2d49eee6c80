#include "cuda_backend.h"

#include <fmt/ranges.h>
#include <spdlog/spdlog.h>

#include <algorithm>

#include "cuda_check.h"
#include "launchers.h"
#include "llmserve/backend/cuda_device.h"
#include "llmserve/common/error.h"

namespace llmserve::backend {

std::unique_ptr<Backend> make_cuda_backend(int device, DType dtype) {
  return std::make_unique<cuda::CudaBackend>(device, dtype);
}

namespace cuda {
namespace {

std::int64_t rows_of(const Tensor& t) { return t.dim(0); }
std::int64_t cols_of(const Tensor& t) { return t.shape().size() > 1 ? t.dim(1) : 1; }

}  // namespace

CudaBackend::CudaBackend(int device, DType dtype) : device_(device), dtype_(dtype) {
  if (dtype != DType::kBF16 && dtype != DType::kF16) {
    throw Error("cuda backend: compute dtype must be BF16 or F16, not {}", dtype_name(dtype));
  }
  check(cudaSetDevice(device), fmt::format("cudaSetDevice({})", device));
  cudaDeviceProp props{};
  check(cudaGetDeviceProperties(&props, device), "cudaGetDeviceProperties");
  if (props.major != 9) {
    // The kernels are built for sm_90 only (cmake/cuda.cmake): another GPU has no image to run.
    throw Error(
        "cuda backend: {} has compute capability {}.{}; this build runs on 9.x (H100/H200) only: "
        "rebuild with -DCMAKE_CUDA_ARCHITECTURES=<yours>",
        props.name, props.major, props.minor);
  }
  num_sms_ = props.multiProcessorCount;
  check(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking), "cudaStreamCreate");
  try {
    gemm_.emplace(stream_);
    step_upload_.emplace(prefill_query_tile());
  } catch (...) {
    cudaStreamDestroy(stream_);
    throw;
  }
  spdlog::info("cuda backend: {} (device {}, compute capability {}.{}, {:.1f} GiB), {}", props.name,
               device, props.major, props.minor,
               static_cast<double>(props.totalGlobalMem) / (1 << 30), dtype_name(dtype));
}

CudaBackend::~CudaBackend() {
  // A step that threw midway may have work queued that uses what is freed below.
  cudaStreamSynchronize(stream_);
  k_cache_.clear();
  v_cache_.clear();
  step_upload_.reset();
  gemm_.reset();
  cudaStreamDestroy(stream_);
}

Tensor CudaBackend::empty(std::vector<std::int64_t> shape, DType dtype) {
  if (dtype != dtype_ && dtype != DType::kF32) {
    throw Error("cuda backend: tensors are {} or F32, not {}", dtype_name(dtype_),
                dtype_name(dtype));
  }
  std::int64_t n = 1;
  for (auto d : shape) n *= d;
  auto storage =
      allocate_device(static_cast<std::size_t>(n) * dtype_size_bytes(dtype),
                      fmt::format("a [{}] {} tensor", fmt::join(shape, ", "), dtype_name(dtype)));
  return Tensor(std::move(storage), dtype, std::move(shape));
}

Tensor CudaBackend::upload(std::span<const float> host, std::vector<std::int64_t> shape) {
  Tensor t = empty(std::move(shape));
  if (static_cast<std::int64_t>(host.size()) != t.num_elements()) {
    throw Error("cuda backend: upload of {} values into a tensor of {}", host.size(),
                t.num_elements());
  }
  if (host.empty()) return t;
  // fp32 to the device, converted there: the weights load at copy speed.
  auto staging = allocate_device(host.size_bytes(), "upload staging");
  check(cudaMemcpyAsync(staging.get(), host.data(), host.size_bytes(), cudaMemcpyHostToDevice,
                        stream_),
        "cudaMemcpyAsync (upload)");
  check(launch_convert(DType::kF32, staging.get(), dtype_, t.data(), t.num_elements(), stream_),
        "convert kernel (upload)");
  check(cudaStreamSynchronize(stream_), "cudaStreamSynchronize (upload)");
  return t;
}

void CudaBackend::download(const Tensor& tensor, std::span<float> host) {
  if (static_cast<std::int64_t>(host.size()) != tensor.num_elements()) {
    throw Error("cuda backend: download of a tensor of {} into {} values", tensor.num_elements(),
                host.size());
  }
  if (host.empty()) {
    check(cudaStreamSynchronize(stream_), "cudaStreamSynchronize (download)");
    return;
  }
  std::shared_ptr<void> staging;
  const void* source = tensor.data();
  if (tensor.dtype() != DType::kF32) {
    staging = allocate_device(host.size_bytes(), "download staging");
    check(launch_convert(tensor.dtype(), tensor.data(), DType::kF32, staging.get(),
                         tensor.num_elements(), stream_),
          "convert kernel (download)");
    source = staging.get();
  }
  check(cudaMemcpyAsync(host.data(), source, host.size_bytes(), cudaMemcpyDeviceToHost, stream_),
        "cudaMemcpyAsync (download)");
  // Errors of any kernel queued before surface here.
  check(cudaStreamSynchronize(stream_), "the step's kernels");
}

std::optional<DeviceMemory> CudaBackend::device_memory() const {
  std::size_t free = 0, total = 0;
  check(cudaMemGetInfo(&free, &total), "cudaMemGetInfo");
  return DeviceMemory{static_cast<std::int64_t>(free), static_cast<std::int64_t>(total)};
}

void CudaBackend::allocate_kv_cache(const KvCacheLayout& layout) {
  check_kv_cache_layout(layout);
  if (layout.head_dim > kMaxAttentionHeadDim || layout.head_dim % 2 != 0) {
    throw Error("cuda backend: head_dim {} is not supported (even, at most {})", layout.head_dim,
                kMaxAttentionHeadDim);
  }
  k_cache_.clear();
  v_cache_.clear();
  const std::int64_t slots = std::int64_t{layout.num_blocks} * layout.block_size;
  const std::int64_t width = std::int64_t{layout.num_kv_heads} * layout.head_dim;
  for (std::int32_t l = 0; l < layout.num_layers; ++l) {
    k_cache_.push_back(empty({slots, width}));
    v_cache_.push_back(empty({slots, width}));
  }
  kv_layout_ = layout;
}

void CudaBackend::copy_blocks(std::span<const Batch::BlockCopy> copies) {
  const std::size_t block_bytes = std::size_t(kv_layout_.block_size) * kv_layout_.num_kv_heads *
                                  kv_layout_.head_dim * dtype_size_bytes(dtype_);
  for (const auto& copy : copies) {
    for (auto* cache : {&k_cache_, &v_cache_}) {
      for (Tensor& layer : *cache) {
        auto* base = static_cast<std::byte*>(layer.data());
        check(cudaMemcpyAsync(base + copy.dst * block_bytes, base + copy.src * block_bytes,
                              block_bytes, cudaMemcpyDeviceToDevice, stream_),
              "cudaMemcpyAsync (block copy)");
      }
    }
  }
}

void CudaBackend::begin_step(const Batch& batch) {
  if (k_cache_.empty()) throw Error("cuda backend: begin_step before allocate_kv_cache");
  check_batch(batch, kv_layout_.num_blocks, kv_layout_.block_size);
  check(cudaSetDevice(device_), "cudaSetDevice");  // the engine thread is not the loading one
  step_ = &step_upload_->upload(batch, stream_);
  copy_blocks(batch.block_copies);
  batch_ = &batch;
}

void CudaBackend::require_compute(const Tensor& t, const char* op) const {
  if (t.dtype() != dtype_) {
    throw Error("cuda {}: a {} tensor where {} is computed", op, dtype_name(t.dtype()),
                dtype_name(dtype_));
  }
}

void CudaBackend::embed(const Tensor& table, const Tensor* positions_table, Tensor& out) {
  require_compute(table, "embed");
  require_compute(out, "embed");
  vocab_size_ = rows_of(table);
  num_positions_ = positions_table != nullptr
                       ? std::optional<std::int64_t>(rows_of(*positions_table))
                       : std::nullopt;
  check_embedding_inputs(*batch_, vocab_size_, num_positions_);
  check(launch_embedding(dtype_, table.data(),
                         positions_table != nullptr ? positions_table->data() : nullptr,
                         step_->input_ids, step_->positions, batch_->num_tokens(), cols_of(table),
                         out.data(), stream_),
        "embedding kernel");
}

void CudaBackend::norm(NormType type, const Tensor& x, const Tensor& weight, const Tensor* bias,
                       float eps, Tensor& out) {
  require_compute(x, "norm");
  check(launch_add_norm(dtype_, type == NormType::kLayerNorm, x.data(), nullptr, nullptr,
                        weight.data(), bias != nullptr ? bias->data() : nullptr, eps, rows_of(x),
                        cols_of(x), out.data(), stream_),
        "norm kernel");
}

void CudaBackend::add_norm(NormType type, Tensor& residual, const Tensor& x, const Tensor& weight,
                           const Tensor* bias, float eps, Tensor& out) {
  require_compute(residual, "add_norm");
  require_compute(x, "add_norm");
  check(launch_add_norm(dtype_, type == NormType::kLayerNorm, residual.data(), x.data(),
                        residual.data(), weight.data(), bias != nullptr ? bias->data() : nullptr,
                        eps, rows_of(residual), cols_of(residual), out.data(), stream_),
        "add_norm kernel");
}

void CudaBackend::add(Tensor& x, const Tensor& y) {
  require_compute(x, "add");
  require_compute(y, "add");
  check(launch_add(dtype_, x.data(), y.data(), x.num_elements(), stream_), "add kernel");
}

void CudaBackend::linear(const Tensor& x, const Tensor& weight, const Tensor* bias, Tensor& out) {
  require_compute(x, "linear");
  require_compute(weight, "linear");
  const std::int64_t m = rows_of(x), k = cols_of(x), n = rows_of(weight);
  if (cols_of(weight) != k || rows_of(out) != m || cols_of(out) != n) {
    throw Error("cuda linear: x [{}, {}] . w[{}, {}]^T into [{}, {}]", m, k, rows_of(weight),
                cols_of(weight), rows_of(out), cols_of(out));
  }
  if (m == 0) return;
  if (bias != nullptr) {
    require_compute(*bias, "linear bias");
    check(launch_broadcast_rows(dtype_, bias->data(), out.dtype(), m, n, out.data(), stream_),
          "bias kernel");
  }
  gemm_->linear(dtype_, x.data(), weight.data(), m, n, k, out.dtype(), out.data(), bias != nullptr);
}

void CudaBackend::rotary(Tensor& qkv, float theta) {
  require_compute(qkv, "rotary");
  check(launch_rotary(dtype_, qkv.data(), step_->positions, batch_->num_tokens(), cols_of(qkv),
                      kv_layout_.num_heads + kv_layout_.num_kv_heads, kv_layout_.head_dim, theta,
                      stream_),
        "rotary kernel");
}

void CudaBackend::write_kv(std::int32_t layer, const Tensor& qkv) {
  require_compute(qkv, "write_kv");
  const std::int64_t kv_width = std::int64_t{kv_layout_.num_kv_heads} * kv_layout_.head_dim;
  const std::int64_t q_width = std::int64_t{kv_layout_.num_heads} * kv_layout_.head_dim;
  check(launch_write_kv(dtype_, qkv.data(), step_->slot_mapping, batch_->num_tokens(), cols_of(qkv),
                        q_width, kv_width, k_cache_.at(static_cast<std::size_t>(layer)).data(),
                        v_cache_.at(static_cast<std::size_t>(layer)).data(), stream_),
        "write_kv kernel");
}

void CudaBackend::paged_attention(std::int32_t layer, const Tensor& qkv, float scale, Tensor& out) {
  require_compute(qkv, "paged_attention");
  require_compute(out, "paged_attention");
  AttentionArgs args;
  args.positions = step_->positions;
  args.seq_of_token = step_->seq_of_token;
  args.query_start = step_->query_start;
  args.block_tables = step_->block_tables;
  args.table_stride = step_->table_stride;
  args.block_size = kv_layout_.block_size;
  args.num_heads = kv_layout_.num_heads;
  args.num_kv_heads = kv_layout_.num_kv_heads;
  args.head_dim = kv_layout_.head_dim;
  args.scale = scale;
  const void* k = k_cache_.at(static_cast<std::size_t>(layer)).data();
  const void* v = v_cache_.at(static_cast<std::size_t>(layer)).data();
  // Prompt chunks go to the tensor-core kernel and one-token queries to the decode kernel, each
  // over its own work list; without a tensor-core instantiation for this head_dim, the decode
  // kernel takes every token (it is correct for any).
  const bool tiles = step_->num_tiles > 0 && prefill_attention_supported(args.head_dim);
  if (tiles) {
    check(launch_prefill_attention(dtype_, qkv.data(), k, v, args, step_->tile_seq,
                                   step_->tile_first_query, step_->num_tiles, out.data(), stream_),
          "prefill attention kernel");
  }
  const std::int32_t* rows = tiles ? step_->decode_tokens : nullptr;
  const std::int32_t tokens = tiles ? step_->num_decode : batch_->num_tokens();
  // A recording serves every later context, up to the longest allowed.
  const std::int32_t max_context =
      recording_ ? max_context_
      : tiles    ? step_->max_decode_context
                 : *std::max_element(batch_->context_lens.begin(), batch_->context_lens.end());
  const DecodeSplit split = plan_decode_split(args, tokens, max_context, num_sms_);
  float* workspace = split_workspace(decode_split_workspace_floats(args, tokens, split));
  check(launch_decode_attention(dtype_, qkv.data(), k, v, args, rows, tokens, split, workspace,
                                out.data(), stream_),
        "decode attention kernel");
}

void CudaBackend::gelu_new(Tensor& x) {
  require_compute(x, "gelu_new");
  check(launch_gelu_new(dtype_, x.data(), x.num_elements(), stream_), "gelu_new kernel");
}

void CudaBackend::silu_mul(const Tensor& gate_up, Tensor& out) {
  require_compute(gate_up, "silu_mul");
  require_compute(out, "silu_mul");
  check(launch_silu_mul(dtype_, gate_up.data(), rows_of(out), cols_of(out), out.data(), stream_),
        "silu_mul kernel");
}

void CudaBackend::gather_rows(const Tensor& x, Tensor& out) {
  require_compute(x, "gather_rows");
  require_compute(out, "gather_rows");
  const auto rows = static_cast<std::int32_t>(batch_->logits_rows.size());
  if (rows == 0) return;
  check(launch_gather_rows(dtype_, x.data(), step_->logits_rows, rows, cols_of(x), out.data(),
                           stream_),
        "gather_rows kernel");
}

void CudaBackend::sample(const Tensor& logits, std::span<const SamplingRow> rows,
                         std::span<SampledToken> out) {
  if (logits.dtype() != DType::kF32) {
    throw Error("cuda sample: logits are {}, not F32", dtype_name(logits.dtype()));
  }
  if (rows.size() != out.size()) {
    throw Error("cuda sample: {} rows but {} results", rows.size(), out.size());
  }
  if (rows.empty()) return;
  sampler_.sample(static_cast<const float*>(logits.data()), cols_of(logits), rows, out, stream_);
}

float* CudaBackend::split_workspace(std::int64_t floats) {
  if (floats <= split_workspace_floats_) return static_cast<float*>(split_workspace_.get());
  if (recording_) {
    // Allocating would end the capture; reserve_steps() sizes it for every recorded shape.
    throw Error("cuda backend: decode attention needs {} floats of split workspace while "
                "recording, {} reserved", floats, split_workspace_floats_);
  }
  split_workspace_ = allocate_device(static_cast<std::size_t>(floats) * sizeof(float),
                                     "decode attention's split workspace");
  split_workspace_floats_ = floats;
  ++split_workspace_generation_;
  return static_cast<float*>(split_workspace_.get());
}

void CudaBackend::reserve_steps(std::int32_t max_tokens, std::int32_t max_seqs,
                                std::int32_t max_context) {
  if (k_cache_.empty()) throw Error("cuda backend: reserve_steps before allocate_kv_cache");
  const std::int32_t bs = kv_layout_.block_size;
  step_upload_->reserve(max_tokens, max_seqs, (max_context + bs - 1) / bs);
  max_context_ = max_context;
  AttentionArgs args;
  args.num_heads = kv_layout_.num_heads;
  args.num_kv_heads = kv_layout_.num_kv_heads;
  args.head_dim = kv_layout_.head_dim;
  // Every token of a step can be a decode-kernel query (all of them when the prefill kernel has
  // no instantiation for this head_dim), so the worst case runs over every step size.
  std::int64_t floats = 0;
  for (std::int32_t tokens = 1; tokens <= max_tokens; ++tokens) {
    const DecodeSplit split = plan_decode_split(args, tokens, max_context, num_sms_);
    floats = std::max(floats, decode_split_workspace_floats(args, tokens, split));
  }
  split_workspace(floats);
}

CudaBackend::Generation CudaBackend::generation() const {
  return {step_upload_->generation(), split_workspace_generation_};
}

namespace {

class CudaRecording final : public Backend::Recording {
 public:
  CudaRecording(cudaGraphExec_t exec, std::uint64_t upload_generation,
                std::uint64_t workspace_generation)
      : graph(exec), step_upload(upload_generation), workspace(workspace_generation) {}
  ~CudaRecording() override { cudaGraphExecDestroy(graph); }
  CudaRecording(const CudaRecording&) = delete;
  CudaRecording& operator=(const CudaRecording&) = delete;

  cudaGraphExec_t graph;
  std::uint64_t step_upload;
  std::uint64_t workspace;
};

}  // namespace

void CudaBackend::begin_recording() {
  if (step_ == nullptr) throw Error("cuda backend: begin_recording before begin_step");
  // Thread-local: only this thread's calls are captured, and an unsafe one fails loudly.
  check(cudaStreamBeginCapture(stream_, cudaStreamCaptureModeThreadLocal),
        "cudaStreamBeginCapture");
  recording_ = true;
}

std::unique_ptr<Backend::Recording> CudaBackend::end_recording() {
  recording_ = false;
  cudaGraph_t graph = nullptr;
  check(cudaStreamEndCapture(stream_, &graph), "cudaStreamEndCapture");
  cudaGraphExec_t exec = nullptr;
  const cudaError_t instantiated = cudaGraphInstantiate(&exec, graph, 0);
  cudaGraphDestroy(graph);
  check(instantiated, "cudaGraphInstantiate");
  const Generation g = generation();
  return std::make_unique<CudaRecording>(exec, g.step_upload, g.split_workspace);
}

bool CudaBackend::replay(const Recording& recording) {
  const auto* r = dynamic_cast<const CudaRecording*>(&recording);
  if (r == nullptr) throw Error("cuda backend: replay of another backend's recording");
  if (Generation{r->step_upload, r->workspace} != generation()) return false;
  check_embedding_inputs(*batch_, vocab_size_, num_positions_);
  check(cudaGraphLaunch(r->graph, stream_), "cudaGraphLaunch");
  return true;
}

}  // namespace cuda
}  // namespace llmserve::backend
