// Parity of every CUDA backend op with the CPU backend, its reference, in the style of llama.cpp's
// test-backend-ops: one table of cases (a kernel adds rows to op_cases()), each run on both
// backends on the same fresh random inputs, for bf16 and fp16. The inputs are rounded to the
// compute dtype on the host first, so both backends start from identical values and the
// difference measures the CUDA op alone: the relative error ||cuda - cpu||_2 / ||cpu||_2 of every
// output row (compare()) against the tolerance of the output's Check (tolerance(), the one place
// they are stated).
//
// One test per (op family, dtype) runs that family's rows, so CTest starts a few dozen processes,
// not hundreds. The seed is random per test, recorded as the "seed" property and printed with any
// failure; LLMSERVE_TEST_SEED=<seed> replays it. Every test skips without a CUDA device.
#include <gtest/gtest.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <functional>
#include <numeric>
#include <random>
#include <sstream>
#include <string>
#include <tuple>
#include <vector>

#include "llmserve/backend/backend_factory.h"
#include "llmserve/backend/cpu_backend.h"
#include "llmserve/backend/cuda_backend.h"
#include "llmserve/common/dtype.h"

namespace llmserve::backend {
namespace {

// --- Tolerances ----------------------------------------------------------------------------------

enum class Check {
  kExact,      // data movement (embed without positions, gather_rows, rotary's v heads)
  kRounded,    // fp32 math on exact inputs, rounded to the compute dtype once or twice
  kFp32Out,    // linear into kF32: exact products, fp32 sums; only the summation order differs
  kAttention,  // softmax(q k^T) v: the probabilities may be rounded for the tensor-core P.V
};

// Allowed relative L2 error of a row. The unit roundoff u is 2^-8 for bf16 and 2^-11 for fp16;
// rounding every output element once gives a relative L2 error of about u / sqrt(3) (2.3e-3 bf16,
// 2.8e-4 fp16), and add_norm rounds twice (the stored residual, then the output), about 1.4x
// that; the worst of a few hundred rows of >= 33 elements adds up to ~1.5x more.
//   kRounded:   bf16 1e-2, fp16 2e-3: 2x (bf16) and 3x (fp16) the worst twice-rounded row. Rotary's
//               fp32 angle (position * theta^(-2i/d), |error| up to ~5e-4 rad at position 8k) adds
//               ~3e-4 at most, inside the fp16 margin; a __sinf-style fast sine or a wrong
//               frequency is off by far more.
//   kFp32Out:   1e-4: bf16/fp16 products are exact in fp32 and sums of k <= 1000 terms differ
//               by ~sqrt(k) * 6e-8; a GEMM that rounded through the compute dtype shows ~2e-3.
//   kAttention: bf16 2e-2, fp16 4e-3: the output is rounded once and the probabilities P once
//               more where the P.V product runs on tensor cores; P's rounding errors are
//               independent, so the total is about u (3.9e-3 bf16, 4.9e-4 fp16): 5x and 8x.
//               Reading a wrong block, head or position moves the output by O(1).
double tolerance(Check check, DType dtype) {
  const bool bf16 = dtype == DType::kBF16;
  switch (check) {
    case Check::kExact:
      return 0.0;
    case Check::kRounded:
      return bf16 ? 1e-2 : 2e-3;
    case Check::kFp32Out:
      return 1e-4;
    case Check::kAttention:
      return bf16 ? 2e-2 : 4e-3;
  }
  return 0.0;
}

const char* check_name(Check check) {
  switch (check) {
    case Check::kExact:
      return "exact";
    case Check::kRounded:
      return "rounded";
    case Check::kFp32Out:
      return "fp32 out";
    case Check::kAttention:
      return "attention";
  }
  return "?";
}

// --- Inputs --------------------------------------------------------------------------------------

// Round to nearest even, as the device's conversions do.
float round_to_bf16(float x) {
  auto bits = std::bit_cast<std::uint32_t>(x);
  if ((bits & 0x7fffffffu) > 0x7f800000u) return x;  // NaN
  bits += 0x7fffu + ((bits >> 16) & 1u);
  return std::bit_cast<float>(bits & 0xffff0000u);
}

std::uint16_t f32_to_f16_bits(float x) {
  const auto bits = std::bit_cast<std::uint32_t>(x);
  const auto sign = static_cast<std::uint16_t>((bits >> 16) & 0x8000u);
  const std::uint32_t magnitude = bits & 0x7fffffffu;
  if (magnitude > 0x7f800000u) return sign | 0x7e00u;   // NaN
  if (magnitude >= 0x477ff000u) return sign | 0x7c00u;  // >= 65520 rounds to infinity
  if (magnitude < 0x38800000u) {
    // Below 2^-14: a multiple of the subnormal step 2^-24 (scaling by 2^24 is exact).
    const float steps = std::nearbyint(std::bit_cast<float>(magnitude) * 16777216.0f);
    return static_cast<std::uint16_t>(sign | static_cast<std::uint16_t>(steps));
  }
  // Normal: rebias the exponent (127 -> 15) and round the 13 dropped mantissa bits to even.
  const std::uint32_t rounded = magnitude + 0xfffu + ((magnitude >> 13) & 1u);
  return static_cast<std::uint16_t>(sign | ((rounded - 0x38000000u) >> 13));
}

float round_to(DType dtype, float x) {
  switch (dtype) {
    case DType::kBF16:
      return round_to_bf16(x);
    case DType::kF16:
      return f16_to_f32(f32_to_f16_bits(x));
    case DType::kF32:
      return x;
  }
  return x;
}

const char* short_name(DType dtype) { return dtype == DType::kBF16 ? "bf16" : "f16"; }

// A case's random inputs, already rounded to the compute dtype. Uniform values with the asked
// mean and standard deviation: as good as normal ones here, and several times cheaper to draw
// for the multi-million-element cases.
class Inputs {
 public:
  Inputs(std::uint32_t seed, DType dtype) : rng_(seed), dtype_(dtype) {}

  std::vector<float> values(std::int64_t n, float stddev = 1.0f, float mean = 0.0f) {
    const float half_width = stddev * std::sqrt(3.0f);
    std::uniform_real_distribution<float> dist(mean - half_width, mean + half_width);
    std::vector<float> v(static_cast<std::size_t>(n));
    for (auto& x : v) x = round(dist(rng_));
    return v;
  }
  // Uniform in [lo, hi].
  std::int32_t integer(std::int32_t lo, std::int32_t hi) {
    return std::uniform_int_distribution<std::int32_t>(lo, hi)(rng_);
  }
  float round(float x) const { return round_to(dtype_, x); }
  std::mt19937& rng() { return rng_; }

 private:
  std::mt19937 rng_;
  DType dtype_;
};

// --- The table -----------------------------------------------------------------------------------

// An op's result as [rows, cols], compared row by row.
struct Output {
  std::string name;
  Check check;
  std::vector<float> values;
  std::int64_t cols;
};
// Runs one case's op(s) on a backend, from inputs fixed when the case was made.
using OpRun = std::function<std::vector<Output>(Backend&)>;

struct OpCase {
  std::string family;  // one test per family and dtype
  std::string name;
  std::function<OpRun(Inputs&)> make;
};

Output fetch(Backend& backend, std::string name, Check check, const Tensor& tensor) {
  std::vector<float> host(static_cast<std::size_t>(tensor.num_elements()));
  backend.download(tensor, host);
  const std::int64_t cols = tensor.shape().size() > 1 ? tensor.dim(1) : tensor.num_elements();
  return {std::move(name), check, std::move(host), cols};
}

// Columns [begin, end) of a row-major [rows, width] matrix.
std::vector<float> columns(const std::vector<float>& m, std::int64_t width, std::int64_t begin,
                           std::int64_t end) {
  std::vector<float> out;
  for (std::size_t row = 0; row * static_cast<std::size_t>(width) < m.size(); ++row) {
    const auto first = m.begin() + static_cast<std::ptrdiff_t>(row * width + begin);
    out.insert(out.end(), first, first + (end - begin));
  }
  return out;
}

// Every token its own sequence: token t at positions[t] (context positions[t] + 1), all reading
// the identity block table, so slot == position. For the ops that read only ids, positions or
// logits_rows; the KV cache needs max_blocks_per_seq blocks.
Batch per_token_batch(std::vector<std::int32_t> ids, const std::vector<std::int32_t>& positions,
                      std::int32_t block_size) {
  Batch b;
  b.max_blocks_per_seq = *std::max_element(positions.begin(), positions.end()) / block_size + 1;
  b.input_ids = std::move(ids);
  b.query_start.push_back(0);
  for (std::size_t t = 0; t < positions.size(); ++t) {
    b.positions.push_back(positions[t]);
    b.slot_mapping.push_back(positions[t]);
    b.query_start.push_back(static_cast<std::int32_t>(t + 1));
    b.context_lens.push_back(positions[t] + 1);
    for (std::int32_t k = 0; k < b.max_blocks_per_seq; ++k) b.block_tables.push_back(k);
  }
  return b;
}

std::vector<std::int32_t> random_positions(Inputs& in, std::size_t n, std::int32_t max_position) {
  std::vector<std::int32_t> p(n);
  for (auto& x : p) x = in.integer(0, max_position);
  p.front() = 0;  // both ends of the range, wherever the random ones fall
  p.back() = max_position;
  return p;
}

// --- Row-wise ops --------------------------------------------------------------------------------

OpCase embed_case(std::int64_t hidden, bool with_positions) {
  const std::string name =
      "embed hidden=" + std::to_string(hidden) + (with_positions ? " +positions" : "");
  return {"embed", name, [=](Inputs& in) -> OpRun {
            const std::int32_t vocab = 3001, max_positions = 1024, tokens = 37;
            const auto table = in.values(std::int64_t{vocab} * hidden);
            const auto positions_table = with_positions
                                             ? in.values(std::int64_t{max_positions} * hidden, 0.5f)
                                             : std::vector<float>{};
            std::vector<std::int32_t> ids(tokens);
            for (auto& id : ids) id = in.integer(0, vocab - 1);
            ids.front() = vocab - 1;
            ids.back() = 0;
            const Batch batch =
                per_token_batch(ids, random_positions(in, tokens, max_positions - 1), 16);
            const KvCacheLayout layout{1, batch.max_blocks_per_seq, 16, 1, 1, 8};
            return [=](Backend& be) -> std::vector<Output> {
              be.allocate_kv_cache(layout);
              be.begin_step(batch);
              const Tensor t = be.upload(table, {vocab, hidden});
              Tensor p;
              if (with_positions) p = be.upload(positions_table, {max_positions, hidden});
              Tensor out = be.empty({tokens, hidden});
              be.embed(t, with_positions ? &p : nullptr, out);
              return {fetch(be, "out", with_positions ? Check::kRounded : Check::kExact, out)};
            };
          }};
}

// Rows with their own offset (|mean| up to 1), so LayerNorm's centring matters.
std::vector<float> offset_rows(Inputs& in, std::int64_t rows, std::int64_t cols, float stddev) {
  std::vector<float> x;
  for (std::int64_t r = 0; r < rows; ++r) {
    const float offset = static_cast<float>(in.integer(-1000, 1000)) / 1000.0f;
    const auto row = in.values(cols, stddev, offset);
    x.insert(x.end(), row.begin(), row.end());
  }
  return x;
}

OpCase norm_case(NormType type, bool fused_add, std::int64_t rows, std::int64_t cols) {
  const bool layer_norm = type == NormType::kLayerNorm;
  const std::string name = std::string(fused_add ? "add_norm " : "norm ") +
                           (layer_norm ? "layernorm+bias" : "rmsnorm") + " " +
                           std::to_string(rows) + "x" + std::to_string(cols);
  return {fused_add ? "add_norm" : "norm", name, [=](Inputs& in) -> OpRun {
            const auto residual = offset_rows(in, rows, cols, 1.0f);
            const auto x = in.values(rows * cols, 0.5f);
            const auto weight = in.values(cols, 0.3f, 1.0f);
            const auto bias = in.values(cols, 0.2f);
            const float eps = layer_norm ? 1e-5f : 1e-6f;
            return [=](Backend& be) -> std::vector<Output> {
              Tensor res = be.upload(residual, {rows, cols});
              const Tensor w = be.upload(weight, {cols});
              const Tensor b = be.upload(bias, {cols});
              Tensor out = be.empty({rows, cols});
              if (!fused_add) {
                be.norm(type, res, w, layer_norm ? &b : nullptr, eps, out);
                return {fetch(be, "out", Check::kRounded, out)};
              }
              const Tensor add = be.upload(x, {rows, cols});
              be.add_norm(type, res, add, w, layer_norm ? &b : nullptr, eps, out);
              return {fetch(be, "out", Check::kRounded, out),
                      fetch(be, "residual", Check::kRounded, res)};
            };
          }};
}

OpCase add_case(std::int64_t rows, std::int64_t cols) {
  return {"add", "add " + std::to_string(rows) + "x" + std::to_string(cols),
          [=](Inputs& in) -> OpRun {
            const auto x = in.values(rows * cols);
            const auto y = in.values(rows * cols, 2.0f);
            return [=](Backend& be) -> std::vector<Output> {
              Tensor a = be.upload(x, {rows, cols});
              const Tensor b = be.upload(y, {rows, cols});
              be.add(a, b);
              return {fetch(be, "x", Check::kRounded, a)};
            };
          }};
}

OpCase linear_case(std::int64_t m, std::int64_t k, std::int64_t n, bool with_bias, bool f32_out) {
  const std::string name = "linear m=" + std::to_string(m) + " k=" + std::to_string(k) +
                           " n=" + std::to_string(n) + (with_bias ? " +bias" : "") +
                           (f32_out ? " out=f32" : " out=compute");
  return {"linear", name, [=](Inputs& in) -> OpRun {
            const auto x = in.values(m * k);
            const auto w = in.values(n * k, 1.0f / std::sqrt(static_cast<float>(k)));
            const auto b = in.values(n);
            return [=](Backend& be) -> std::vector<Output> {
              const Tensor xt = be.upload(x, {m, k});
              const Tensor wt = be.upload(w, {n, k});
              const Tensor bt = be.upload(b, {n});
              Tensor out = f32_out ? be.empty({m, n}, DType::kF32) : be.empty({m, n});
              be.linear(xt, wt, with_bias ? &bt : nullptr, out);
              return {fetch(be, "out", f32_out ? Check::kFp32Out : Check::kRounded, out)};
            };
          }};
}

// q and k heads rotate, v heads must come back bit-identical. Two steps at different positions,
// so state kept from the first step (a cos/sin table) cannot pass for the second.
OpCase rotary_case(std::int32_t num_heads, std::int32_t num_kv_heads, std::int32_t head_dim,
                   float theta) {
  const std::string name = "rotary heads=" + std::to_string(num_heads) + "/" +
                           std::to_string(num_kv_heads) + " head_dim=" + std::to_string(head_dim) +
                           " theta=" + std::to_string(static_cast<long>(theta));
  return {
      "rotary", name, [=](Inputs& in) -> OpRun {
        const std::int32_t tokens = 300, max_position = 8191;
        const std::int64_t width = std::int64_t{num_heads + 2 * num_kv_heads} * head_dim;
        const std::int64_t rotated = std::int64_t{num_heads + num_kv_heads} * head_dim;
        const std::vector<std::int32_t> ids(tokens, 0);
        const Batch first = per_token_batch(ids, random_positions(in, tokens, max_position), 16);
        const Batch second = per_token_batch(ids, random_positions(in, tokens, max_position), 16);
        const auto x1 = in.values(tokens * width);
        const auto x2 = in.values(tokens * width);
        const KvCacheLayout layout{1,
                                   std::max(first.max_blocks_per_seq, second.max_blocks_per_seq),
                                   16,
                                   num_heads,
                                   num_kv_heads,
                                   head_dim};
        return [=](Backend& be) -> std::vector<Output> {
          be.allocate_kv_cache(layout);
          std::vector<Output> outputs;
          for (const auto* step : {&first, &second}) {
            be.begin_step(*step);
            Tensor qkv = be.upload(step == &first ? x1 : x2, {tokens, width});
            be.rotary(qkv, theta);
            const auto host = fetch(be, "qkv", Check::kExact, qkv).values;
            const std::string which = step == &first ? "step 1 " : "step 2 ";
            outputs.push_back(
                {which + "q,k", Check::kRounded, columns(host, width, 0, rotated), rotated});
            outputs.push_back({which + "v", Check::kExact, columns(host, width, rotated, width),
                               width - rotated});
          }
          return outputs;
        };
      }};
}

OpCase gelu_case(std::int64_t rows, std::int64_t cols) {
  return {"gelu_new", "gelu_new " + std::to_string(rows) + "x" + std::to_string(cols),
          [=](Inputs& in) -> OpRun {
            const auto x = in.values(rows * cols, 3.0f);
            return [=](Backend& be) -> std::vector<Output> {
              Tensor t = be.upload(x, {rows, cols});
              be.gelu_new(t);
              return {fetch(be, "x", Check::kRounded, t)};
            };
          }};
}

OpCase silu_mul_case(std::int64_t rows, std::int64_t inner) {
  return {"silu_mul", "silu_mul " + std::to_string(rows) + "x(2*" + std::to_string(inner) + ")",
          [=](Inputs& in) -> OpRun {
            const auto gate_up = in.values(rows * 2 * inner, 2.0f);
            return [=](Backend& be) -> std::vector<Output> {
              const Tensor gu = be.upload(gate_up, {rows, 2 * inner});
              Tensor out = be.empty({rows, inner});
              be.silu_mul(gu, out);
              return {fetch(be, "out", Check::kRounded, out)};
            };
          }};
}

OpCase gather_rows_case(std::int32_t tokens, std::int64_t cols, std::int32_t num_rows) {
  return {"gather_rows",
          "gather_rows " + std::to_string(num_rows) + " of " + std::to_string(tokens) + "x" +
              std::to_string(cols),
          [=](Inputs& in) -> OpRun {
            const auto x = in.values(tokens * cols);
            std::vector<std::int32_t> positions(static_cast<std::size_t>(tokens));
            std::iota(positions.begin(), positions.end(), 0);
            Batch batch =
                per_token_batch(std::vector<std::int32_t>(positions.size(), 0), positions, 16);
            // Unsorted, both ends included.
            for (std::int32_t r = 0; r < num_rows; ++r) {
              batch.logits_rows.push_back(in.integer(0, tokens - 1));
            }
            batch.logits_rows.front() = tokens - 1;
            batch.logits_rows.back() = 0;
            const KvCacheLayout layout{1, batch.max_blocks_per_seq, 16, 1, 1, 8};
            return [=](Backend& be) -> std::vector<Output> {
              be.allocate_kv_cache(layout);
              be.begin_step(batch);
              const Tensor t = be.upload(x, {tokens, cols});
              Tensor out = be.empty({num_rows, cols});
              be.gather_rows(t, out);
              return {fetch(be, "out", Check::kExact, out)};
            };
          }};
}

// --- Paged attention -----------------------------------------------------------------------------

struct Heads {
  std::int32_t num_heads, num_kv_heads, head_dim;
};

std::string heads_name(Heads h) {
  return "heads=" + std::to_string(h.num_heads) + "/" + std::to_string(h.num_kv_heads) +
         " head_dim=" + std::to_string(h.head_dim);
}

// GQA 1, 4, 7 (Qwen2.5-0.5B's 14/2), 8 and 16 (more query heads per KV head than a decode block
// serves at once) at head dims 64 and 128, and the tiny fixtures' geometries (Qwen2 8/2 x 8,
// GPT-2 4/4 x 16).
const std::vector<Heads>& attention_heads() {
  static const std::vector<Heads> heads = {
      {8, 8, 64},  {8, 2, 64},   {14, 2, 64},  {8, 1, 64}, {16, 1, 64},
      {4, 4, 128}, {16, 4, 128}, {32, 4, 128}, {8, 2, 8},  {4, 4, 16},
  };
  return heads;
}

// Sequences in a paged cache: each gets the blocks for its context from a shuffled pool (so no
// sequence's blocks are contiguous or in order), -1 padded; spare blocks are never referenced.
struct PagedLayout {
  std::int32_t block_size = 16;
  std::int32_t num_blocks = 0;
  std::int32_t max_blocks = 0;
  std::vector<std::vector<std::int32_t>> tables;  // [seq][max_blocks]

  std::int64_t slot(std::size_t seq, std::int32_t pos) const {
    return std::int64_t{tables[seq][static_cast<std::size_t>(pos / block_size)]} * block_size +
           pos % block_size;
  }
};

PagedLayout scatter_blocks(const std::vector<std::int32_t>& contexts, std::int32_t spare_blocks,
                           std::mt19937& rng) {
  PagedLayout paged;
  std::vector<std::int32_t> needed;
  for (auto c : contexts) {
    needed.push_back((c + paged.block_size - 1) / paged.block_size);
    paged.max_blocks = std::max(paged.max_blocks, needed.back());
  }
  paged.num_blocks = std::accumulate(needed.begin(), needed.end(), spare_blocks);
  std::vector<std::int32_t> pool(static_cast<std::size_t>(paged.num_blocks));
  std::iota(pool.begin(), pool.end(), 0);
  std::shuffle(pool.begin(), pool.end(), rng);
  std::size_t next = 0;
  for (auto n : needed) {
    std::vector<std::int32_t> table(static_cast<std::size_t>(paged.max_blocks), -1);
    for (std::int32_t k = 0; k < n; ++k) table[static_cast<std::size_t>(k)] = pool[next++];
    paged.tables.push_back(std::move(table));
  }
  return paged;
}

// New tokens [begin, end) of sequence `seq`; its context after the step is `end`.
struct Segment {
  std::size_t seq;
  std::int32_t begin, end;
};

Batch paged_batch(const PagedLayout& paged, const std::vector<Segment>& segments) {
  Batch b;
  b.max_blocks_per_seq = paged.max_blocks;
  b.query_start.push_back(0);
  for (const auto& s : segments) {
    for (std::int32_t p = s.begin; p < s.end; ++p) {
      b.input_ids.push_back(0);
      b.positions.push_back(p);
      b.slot_mapping.push_back(paged.slot(s.seq, p));
    }
    b.query_start.push_back(b.num_tokens());
    b.context_lens.push_back(s.end);
    b.block_tables.insert(b.block_tables.end(), paged.tables[s.seq].begin(),
                          paged.tables[s.seq].end());
  }
  return b;
}

// [rows, width] qkv rows whose k and v parts are `kv` ([rows, 2 nkv hd]) and whose q part is 0.
std::vector<float> widen_kv(const std::vector<float>& kv, std::int64_t q_width,
                            std::int64_t kv_width, float sign) {
  const std::int64_t width = q_width + kv_width;
  const auto rows = static_cast<std::int64_t>(kv.size()) / kv_width;
  std::vector<float> out(static_cast<std::size_t>(rows * width), 0.0f);
  for (std::int64_t r = 0; r < rows; ++r) {
    for (std::int64_t i = 0; i < kv_width; ++i) {
      out[static_cast<std::size_t>(r * width + q_width + i)] =
          sign * kv[static_cast<std::size_t>(r * kv_width + i)];
    }
  }
  return out;
}

// Q, K, V of this scale give scaled scores of standard deviation ~2: attention neither uniform
// nor one-hot.
constexpr float kQkvStddev = 1.2f;
constexpr std::int32_t kHistoryChunkTokens = 1024;

// Sequences of (context, new tokens). Each sequence's earlier context is written first by
// write_kv-only steps of at most kHistoryChunkTokens tokens; then one step writes the new
// tokens' K/V and attends. The cache has two layers: layer 1 is attended, layer 0 holds the same
// K/V negated, so reading the wrong layer shows.
struct SeqSpec {
  std::int32_t context, new_tokens;
};

OpRun attention_run(Inputs& in, Heads h, const std::vector<SeqSpec>& seqs) {
  std::vector<std::int32_t> contexts;
  for (const auto& s : seqs) contexts.push_back(s.context);
  const PagedLayout paged = scatter_blocks(contexts, 5, in.rng());
  const std::int64_t q_width = std::int64_t{h.num_heads} * h.head_dim;
  const std::int64_t kv_width = std::int64_t{2} * h.num_kv_heads * h.head_dim;
  const std::int64_t width = q_width + kv_width;

  std::vector<Batch> history;
  std::vector<std::vector<float>> history_kv;  // per history step: [tokens, kv_width]
  std::vector<Segment> segments;
  std::int32_t chunk_tokens = 0;
  const auto flush = [&] {
    if (chunk_tokens == 0) return;
    history.push_back(paged_batch(paged, segments));
    history_kv.push_back(in.values(chunk_tokens * kv_width, kQkvStddev));
    segments.clear();
    chunk_tokens = 0;
  };
  for (std::size_t s = 0; s < seqs.size(); ++s) {
    const std::int32_t end = seqs[s].context - seqs[s].new_tokens;
    for (std::int32_t begin = 0; begin < end;) {
      const std::int32_t take = std::min(end - begin, kHistoryChunkTokens - chunk_tokens);
      segments.push_back({s, begin, begin + take});
      chunk_tokens += take;
      begin += take;
      if (chunk_tokens == kHistoryChunkTokens) flush();
    }
  }
  flush();

  std::vector<Segment> step_segments;
  for (std::size_t s = 0; s < seqs.size(); ++s) {
    step_segments.push_back({s, seqs[s].context - seqs[s].new_tokens, seqs[s].context});
  }
  const Batch step = paged_batch(paged, step_segments);
  const std::int64_t tokens = step.num_tokens();
  const auto step_qkv = in.values(tokens * width, kQkvStddev);
  const KvCacheLayout layout{2,           paged.num_blocks, paged.block_size,
                             h.num_heads, h.num_kv_heads,   h.head_dim};
  const float scale = 1.0f / std::sqrt(static_cast<float>(h.head_dim));

  return [=](Backend& be) -> std::vector<Output> {
    be.allocate_kv_cache(layout);
    std::vector<Tensor> keep;  // every input lives until the download that ends the case
    for (std::size_t c = 0; c < history.size(); ++c) {
      be.begin_step(history[c]);
      const std::int64_t rows = history[c].num_tokens();
      keep.push_back(be.upload(widen_kv(history_kv[c], q_width, kv_width, 1.0f), {rows, width}));
      be.write_kv(1, keep.back());
      keep.push_back(be.upload(widen_kv(history_kv[c], q_width, kv_width, -1.0f), {rows, width}));
      be.write_kv(0, keep.back());
    }
    be.begin_step(step);
    const Tensor qkv = be.upload(step_qkv, {tokens, width});
    be.write_kv(1, qkv);
    Tensor out = be.empty({tokens, q_width});
    be.paged_attention(1, qkv, scale, out);
    return {fetch(be, "out", Check::kAttention, out)};
  };
}

OpCase attention_case(const std::string& family, const std::string& what, Heads h,
                      std::vector<SeqSpec> seqs) {
  std::ostringstream name;
  name << family << " " << heads_name(h) << " " << what << " (context/new:";
  for (const auto& s : seqs) name << " " << s.context << "/" << s.new_tokens;
  name << ")";
  return {family, name.str(), [=](Inputs& in) -> OpRun { return attention_run(in, h, seqs); }};
}

// Decode steps of many sequences at random lengths (the grid's sequence dimension).
OpCase attention_many_decodes_case(Heads h) {
  const std::string name = "attention_decode " + heads_name(h) + " 48 sequences of 1..600";
  return {"attention_decode", name, [=](Inputs& in) -> OpRun {
            std::vector<SeqSpec> seqs;
            for (int s = 0; s < 48; ++s) seqs.push_back({in.integer(1, 600), 1});
            return attention_run(in, h, seqs);
          }};
}

// Copy-on-write at begin_step. Sequence A has 40 positions in blocks [a0, a1, a2] (a2 holds
// positions 32..39); decoy sequences fill blocks d1 and d2 with other K/V first, on both layers.
//   step 1: copy a2 -> d1; A through [a0, a1, a2] and B through [a0, a1, d1] ask the same query
//           at position 39, on both layers: B must see exactly A's context.
//   step 2: copy a1 -> d2, then a2 -> d2 (copies run in order); C through [a0, a1, d2] appends
//           position 40 into d2 and attends (the engine's copy before appending to a shared last
//           block).
//   step 3: A through [a0, a1, a2] asks again: the source block is untouched by both.
OpCase block_copy_case(Heads h) {
  return {
      "block_copy", "block_copy " + heads_name(h), [=](Inputs& in) -> OpRun {
        const std::int64_t q_width = std::int64_t{h.num_heads} * h.head_dim;
        const std::int64_t kv_width = std::int64_t{2} * h.num_kv_heads * h.head_dim;
        const std::int64_t width = q_width + kv_width;
        std::vector<std::int32_t> pool(9);
        std::iota(pool.begin(), pool.end(), 0);
        std::shuffle(pool.begin(), pool.end(), in.rng());
        const std::int32_t a0 = pool[0], a1 = pool[1], a2 = pool[2], d1 = pool[3], d2 = pool[4];
        PagedLayout paged;
        paged.num_blocks = static_cast<std::int32_t>(pool.size());
        paged.max_blocks = 3;
        paged.tables = {{a0, a1, a2}, {d1, -1, -1}, {d2, -1, -1}, {a0, a1, d1}, {a0, a1, d2}};
        enum : std::size_t { kA, kDecoy1, kDecoy2, kB, kC };

        const Batch history = paged_batch(paged, {{kA, 0, 40}, {kDecoy1, 0, 16}, {kDecoy2, 0, 16}});
        const auto history_kv = in.values(history.num_tokens() * kv_width, kQkvStddev);
        Batch step1 = paged_batch(paged, {{kA, 39, 40}, {kB, 39, 40}});
        step1.block_copies = {{a2, d1}};
        Batch step2 = paged_batch(paged, {{kC, 40, 41}});
        step2.block_copies = {{a1, d2}, {a2, d2}};  // in order: a2's copy lands last
        const Batch step3 = paged_batch(paged, {{kA, 39, 40}});
        // One query row for A and B alike; K/V parts unused (no write_kv in steps 1 and 3).
        const auto query = in.values(width, kQkvStddev);
        std::vector<float> twice = query;
        twice.insert(twice.end(), query.begin(), query.end());
        const auto appended = in.values(width, kQkvStddev);
        const KvCacheLayout layout{2,           paged.num_blocks, paged.block_size,
                                   h.num_heads, h.num_kv_heads,   h.head_dim};
        const float scale = 1.0f / std::sqrt(static_cast<float>(h.head_dim));

        return [=](Backend& be) -> std::vector<Output> {
          be.allocate_kv_cache(layout);
          std::vector<Output> outputs;
          be.begin_step(history);
          const auto rows = history.num_tokens();
          const Tensor layer1 =
              be.upload(widen_kv(history_kv, q_width, kv_width, 1.0f), {rows, width});
          const Tensor layer0 =
              be.upload(widen_kv(history_kv, q_width, kv_width, -1.0f), {rows, width});
          be.write_kv(1, layer1);
          be.write_kv(0, layer0);

          be.begin_step(step1);
          const Tensor q = be.upload(twice, {2, width});
          for (std::int32_t layer : {0, 1}) {
            Tensor out = be.empty({2, q_width});
            be.paged_attention(layer, q, scale, out);
            outputs.push_back(
                fetch(be, "step 1 (A, B) layer " + std::to_string(layer), Check::kAttention, out));
          }

          be.begin_step(step2);
          const Tensor qkv = be.upload(appended, {1, width});
          be.write_kv(1, qkv);
          Tensor out2 = be.empty({1, q_width});
          be.paged_attention(1, qkv, scale, out2);
          outputs.push_back(fetch(be, "step 2 (C appends)", Check::kAttention, out2));

          be.begin_step(step3);
          const Tensor q3 = be.upload(query, {1, width});
          Tensor out3 = be.empty({1, q_width});
          be.paged_attention(1, q3, scale, out3);
          outputs.push_back(fetch(be, "step 3 (A again)", Check::kAttention, out3));
          return outputs;
        };
      }};
}

// --- The cases -----------------------------------------------------------------------------------

const std::vector<OpCase>& op_cases() {
  static const std::vector<OpCase> cases = [] {
    std::vector<OpCase> c;
    for (std::int64_t hidden : {72, 768, 1000}) {
      for (bool positions : {false, true}) c.push_back(embed_case(hidden, positions));
    }
    for (bool fused : {false, true}) {
      for (NormType type : {NormType::kLayerNorm, NormType::kRmsNorm}) {
        for (std::int64_t rows : {1, 7, 300}) {
          for (std::int64_t cols : {64, 768, 1000, 1536}) {
            c.push_back(norm_case(type, fused, rows, cols));
          }
        }
      }
    }
    // 2100 x 8192 is more elements than one grid-stride pass of 65535 blocks x 256 threads.
    for (auto [rows, cols] : {std::pair<std::int64_t, std::int64_t>{1, 64},
                              {7, 1000},
                              {13, 1001},
                              {300, 1536},
                              {2100, 8192}}) {
      c.push_back(add_case(rows, cols));
      c.push_back(gelu_case(rows, cols));
    }
    for (std::int64_t m : {1, 3, 64, 257}) {
      for (auto [k, n] :
           {std::pair<std::int64_t, std::int64_t>{64, 192}, {129, 33}, {1000, 1536}, {896, 4864}}) {
        for (bool bias : {false, true}) {
          for (bool f32_out : {false, true}) c.push_back(linear_case(m, k, n, bias, f32_out));
        }
      }
    }
    for (float theta : {1e4f, 1e6f}) {
      c.push_back(rotary_case(8, 2, 8, theta));
      c.push_back(rotary_case(4, 4, 16, theta));
      c.push_back(rotary_case(14, 2, 64, theta));
      c.push_back(rotary_case(32, 8, 128, theta));
    }
    for (const Heads& h : attention_heads()) {
      c.push_back(
          attention_case("attention_decode", "one token each", h,
                         {{1, 1}, {15, 1}, {16, 1}, {17, 1}, {100, 1}, {1000, 1}, {8192, 1}}));
      c.push_back(attention_many_decodes_case(h));
      c.push_back(
          attention_case("attention_prefill", "varlen, two with a cached prefix", h,
                         {{1, 1}, {5, 5}, {64, 64}, {130, 130}, {700, 700}, {137, 37}, {517, 17}}));
      c.push_back(attention_case(
          "attention_mixed", "prefill chunks beside decodes", h,
          {{40, 40}, {300, 1}, {1000, 1}, {50, 20}, {17, 1}, {200, 64}, {1, 1}, {129, 65}}));
    }
    for (const Heads& h : {Heads{8, 2, 64}, Heads{16, 4, 128}, Heads{8, 2, 8}, Heads{4, 4, 16}}) {
      c.push_back(block_copy_case(h));
    }
    for (std::int64_t rows : {1, 7, 300}) {
      for (std::int64_t inner : {64, 1001, 4864}) c.push_back(silu_mul_case(rows, inner));
    }
    c.push_back(gather_rows_case(300, 1000, 57));
    c.push_back(gather_rows_case(64, 768, 64));
    c.push_back(gather_rows_case(7, 151, 1));
    return c;
  }();
  return cases;
}

std::vector<std::string> op_families() {
  std::vector<std::string> families;
  for (const auto& c : op_cases()) {
    if (std::find(families.begin(), families.end(), c.family) == families.end()) {
      families.push_back(c.family);
    }
  }
  return families;
}

// --- The harness ---------------------------------------------------------------------------------

// Relative L2 error ||got - want|| / ||want|| of each row (absolute for an all-zero row), worst row
// reported. Per row rather than over the whole tensor, so that one wrong row (a sequence's last
// partial tile, a 1-token sequence) is not averaged away among a thousand right ones; the
// whole-tensor error is never larger than the worst row's.
struct Difference {
  double relative = 0.0;  // of the worst row
  std::size_t row = 0;    // the worst row
  std::size_t worst = 0;  // index of the largest |got - want| in that row
};

Difference compare(const std::vector<float>& got, const std::vector<float>& want,
                   std::int64_t cols) {
  Difference d;
  bool first = true;
  const auto width = static_cast<std::size_t>(std::max<std::int64_t>(cols, 1));
  for (std::size_t begin = 0; begin < want.size(); begin += width) {
    const std::size_t end = std::min(want.size(), begin + width);
    double err = 0.0, norm = 0.0, worst_abs = -1.0;
    std::size_t worst = begin;
    for (std::size_t i = begin; i < end; ++i) {
      const double diff = double{got[i]} - double{want[i]};
      err += diff * diff;
      norm += double{want[i]} * want[i];
      if (!(std::abs(diff) <= worst_abs)) {  // NaN included
        worst_abs = std::abs(diff);
        worst = i;
      }
    }
    const double relative = norm > 0.0 ? std::sqrt(err / norm) : std::sqrt(err);
    // A NaN row is the worst and stays so.
    if (first || std::isnan(relative) || (!std::isnan(d.relative) && relative > d.relative)) {
      d = {relative, begin / width, worst};
      first = false;
    }
  }
  return d;
}

std::uint32_t test_seed() {
  if (const char* fixed = std::getenv("LLMSERVE_TEST_SEED")) {
    return static_cast<std::uint32_t>(std::stoul(fixed));
  }
  return std::random_device{}();
}

class CudaOps : public ::testing::TestWithParam<std::tuple<std::string, DType>> {
 protected:
  void SetUp() override {
    if (cuda_device_count() == 0) GTEST_SKIP() << "no CUDA device present";
    seed_ = test_seed();
    RecordProperty("seed", std::to_string(seed_));
  }

  std::uint32_t seed_ = 0;
};

TEST_P(CudaOps, MatchesCpu) {
  const std::string family = std::get<0>(GetParam());
  const DType dtype = std::get<1>(GetParam());
  auto cpu = make_cpu_backend();
  auto cuda = make_cuda_backend(0, dtype);
  const auto& cases = op_cases();
  int ran = 0;
  double worst_share = 0.0;  // the largest error / tolerance of the family's inexact outputs
  std::string worst_case;
  for (std::size_t i = 0; i < cases.size(); ++i) {
    const OpCase& op = cases[i];
    if (op.family != family) continue;
    ++ran;
    const std::string label =
        op.name + " [" + short_name(dtype) + ", LLMSERVE_TEST_SEED=" + std::to_string(seed_) + "]";
    Inputs inputs(seed_ + static_cast<std::uint32_t>(i), dtype);
    const OpRun run = op.make(inputs);
    const std::vector<Output> want = run(*cpu);
    std::vector<Output> got;
    try {
      got = run(*cuda);
    } catch (const std::exception& e) {
      ADD_FAILURE() << label << ": the CUDA backend threw: " << e.what();
      continue;
    }
    ASSERT_EQ(got.size(), want.size()) << label;
    for (std::size_t o = 0; o < want.size(); ++o) {
      ASSERT_EQ(got[o].values.size(), want[o].values.size()) << label << " " << want[o].name;
      const Difference d = compare(got[o].values, want[o].values, want[o].cols);
      const double tol = tolerance(want[o].check, dtype);
      if (tol > 0.0 && !(d.relative / tol <= worst_share)) {
        worst_share = d.relative / tol;
        worst_case = op.name + " " + want[o].name;
      }
      EXPECT_LE(d.relative, tol) << label << " output '" << want[o].name << "': row " << d.row
                                 << " has relative error " << d.relative << " > " << tol << " ("
                                 << check_name(want[o].check) << "); worst element [" << d.worst
                                 << "]: cuda " << got[o].values[d.worst] << ", cpu "
                                 << want[o].values[d.worst];
    }
  }
  EXPECT_GT(ran, 0) << "no case in family " << family;
  // How close the family came to its tolerances, to see the margins on a passing run.
  RecordProperty("worst_error_over_tolerance", std::to_string(worst_share));
  RecordProperty("worst_case", worst_case);
}

INSTANTIATE_TEST_SUITE_P(OpTable, CudaOps,
                         ::testing::Combine(::testing::ValuesIn(op_families()),
                                            ::testing::Values(DType::kBF16, DType::kF16)),
                         [](const ::testing::TestParamInfo<CudaOps::ParamType>& param) {
                           return std::get<0>(param.param) + "_" +
                                  short_name(std::get<1>(param.param));
                         });

// The host-side rounding the harness relies on: both backends must start from values the
// compute dtype holds exactly.
TEST(CudaOpsHarness, HostRoundingIsNearestEven) {
  EXPECT_EQ(round_to_bf16(1.0f + 1.0f / 256), 1.0f);               // tie -> even
  EXPECT_EQ(round_to_bf16(1.0f + 3.0f / 256), 1.0f + 2.0f / 128);  // tie -> even
  EXPECT_EQ(round_to_bf16(1.0f + 1.0f / 256 + 1.0f / 4096), 1.0f + 1.0f / 128);
  EXPECT_EQ(round_to(DType::kF16, 1.0f + 1.0f / 2048), 1.0f);  // tie -> even
  EXPECT_EQ(round_to(DType::kF16, 1.0f + 3.0f / 2048), 1.0f + 2.0f / 1024);
  EXPECT_EQ(round_to(DType::kF16, 65504.0f), 65504.0f);
  EXPECT_TRUE(std::isinf(round_to(DType::kF16, 65520.0f)));
  EXPECT_EQ(round_to(DType::kF16, 0x1p-24f), 0x1p-24f);  // smallest subnormal
  EXPECT_EQ(round_to(DType::kF16, 0x1p-26f), 0.0f);
  EXPECT_EQ(round_to(DType::kF16, -3.0f * 0x1p-25f), -0x1p-23f);  // 1.5 steps -> 2
  // Every fp16 value survives the round trip.
  for (std::uint32_t bits = 0; bits < 0x7c00u; ++bits) {
    const float v = f16_to_f32(static_cast<std::uint16_t>(bits));
    ASSERT_EQ(f32_to_f16_bits(v), bits) << bits;
  }
}

}  // namespace
}  // namespace llmserve::backend
