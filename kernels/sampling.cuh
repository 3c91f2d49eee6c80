#pragma once
// Sampling where the logits are (backend/device_sampling.h): one block of kSampleThreads per
// sampled row reproduces the CPU sampler (engine/sampler.cpp, sampling_filters.cpp,
// vocab_math.cpp): the same edits, the same fp32 probabilities bit for bit (exp_nonpositive is
// vocab_math's, every operation rounded on its own as the CPU build computes it: no FMA), the
// same cuts, and the draw walking the kept tokens in id order.
//
// Launch: grid (rows), block kSampleThreads, dynamic shared memory sample_dynamic_smem_bytes(vocab)
// for the row's edit index, about 41 KiB static. Row r reads logits row rows[r].logits_row.
// Each warp owns one contiguous chunk of the vocabulary and reads it a float4 per lane, so every
// pass is coalesced and every thread meets its own tokens in id order. Passes over the row:
//   1. raw logits: the first non-finite id; the edited maximum and its first id (greedy); with
//      logprobs, log_z by an online log-sum-exp.
//   2. top logprobs, and top-k for k <= kSampleThreads: the n-th largest of the threads' own
//      maxima bounds the row's n-th largest from below, so one pass gathers every token above it
//      (a few dozen, usually) into shared memory, where a bitonic sort ranks them; top-p after
//      top-k then needs no pass of its own.
//   3. otherwise (top-p alone, a larger k, an overflowing gather) a radix select over the
//      probability's bits, 11 + 11 + 10 bits in at most three passes, each bin counting tokens
//      and mass; once the tokens at or above the chosen bin fit in shared memory, one pass gathers
//      them for the sort; a cut among equal probabilities is placed in id order by one walk.
//   4. the draw: every warp sums its chunk's kept mass, the block finds the chunk holding
//      uniform * total, and that warp walks it again in id order, a tile at a time.
// Determinism: masses are fixed point (p * 2^42 rounded to an integer; up to 2^22 tokens fit in
// 64 bits), so every sum is exact in any order, shared-memory atomics add them safely and a cut
// found from bin sums is the cut a sequential walk finds. Counts are integers, and tokens are
// ranked by (probability bits, then lower id first), a total order, so sorting makes the gather
// order irrelevant. The same row gives the same token on every run and in every batch. Against
// the CPU's double sums, a fixed-point mass is off by at most 2^-43 per token (exact above 2^-19),
// so a cut or a draw can differ only within ~1e-8 of a boundary.
#include <climits>
#include <cstddef>
#include <cstdint>

namespace llmserve::kernels {

inline constexpr int kSampleThreads = 512;
inline constexpr int kMaxTopLogprobs = 20;          // engine::kMaxLogprobs
inline constexpr int kSampleListCapacity = 2048;    // tokens gathered into shared memory
inline constexpr float kGreedyBelowTemperature = 1e-5f;  // engine::kGreedyBelowTemperature

inline constexpr std::uint32_t kEditPenalised = 1;
inline constexpr std::uint32_t kEditMasked = 2;

inline constexpr std::int32_t kSampledOk = 0;
inline constexpr std::int32_t kSampledNonFinite = 1;
inline constexpr std::int32_t kSampledAllMasked = 2;
inline constexpr std::int32_t kSampledInfinite = 3;

struct SamplingRowArgs {
  double uniform;
  std::int32_t logits_row;
  std::int32_t edits_begin;  // the row's edits: edits[edits_begin, + edits_count), sorted by id
  std::int32_t edits_count;
  std::int32_t top_k;
  std::int32_t num_top_logprobs;
  float temperature;
  float top_p;
  float min_p;
  float repetition_penalty;
  float presence_penalty;
  float frequency_penalty;
};

struct SamplingEditArgs {
  std::int32_t id;
  float bias;
  std::int32_t output_count;
  std::uint32_t flags;  // kEditPenalised | kEditMasked
};

struct SampledTokenArgs {
  std::int32_t token;
  float logprob;
  std::int32_t non_finite_id;
  float non_finite_value;
  std::int32_t status;  // kSampled*
  std::int32_t num_top;
  std::int32_t top_ids[kMaxTopLogprobs];
  float top_logprobs[kMaxTopLogprobs];
};

// The edit index: a bit per token, then per 32-bit word the number of edits at lower ids.
inline std::size_t sample_dynamic_smem_bytes(std::int64_t vocab) {
  return 2 * static_cast<std::size_t>((vocab + 31) / 32) * sizeof(std::uint32_t);
}

namespace sampling {

using u32 = std::uint32_t;
using u64 = unsigned long long;  // atomicAdd's 64-bit type

constexpr int kWarps = kSampleThreads / 32;
constexpr int kTile = 128;   // ids a warp reads per step: a float4 per lane
constexpr int kBins = 2048;  // radix bins of the widest level (11 bits)
constexpr int kMassBits = 42;  // fixed-point masses: p * 2^42

struct Shared {
  u32 bin_count[kBins];
  u64 bin_mass[kBins];
  u64 list[kSampleListCapacity];  // ranks of gathered tokens
  u64 scan[kWarps];
  int list_size;
  int found_bin;
  u64 found_count, found_mass;
  int point_index;
  u64 point_mass;
  int walk_warp, walk_id;
  u64 walk_before, walk_target;
  int non_finite[kWarps], best_id[kWarps];
  float best[kWarps], lse_max[kWarps];
  double lse_sum[kWarps];
};

// vocab_math.cpp's exp_nonpositive, operation for operation: the same probability bits as the CPU.
__device__ __forceinline__ float exp_nonpositive(float x) {
  constexpr float kLog2e = 1.44269504f, kLn2Hi = 0.693145752f, kLn2Lo = 1.42860677e-6f;
  constexpr float kRound = 12582912.0f;
  const u32 lowest = __float_as_uint(-87.0f);
  const u32 bits = __float_as_uint(x);
  const float clamped = __uint_as_float(min(bits, lowest));
  const float n = __fsub_rn(__fadd_rn(__fmul_rn(clamped, kLog2e), kRound), kRound);
  const float r = __fsub_rn(__fsub_rn(clamped, __fmul_rn(n, kLn2Hi)), __fmul_rn(n, kLn2Lo));
  float p = 1.0f / 5040;
  p = __fadd_rn(__fmul_rn(p, r), 1.0f / 720);
  p = __fadd_rn(__fmul_rn(p, r), 1.0f / 120);
  p = __fadd_rn(__fmul_rn(p, r), 1.0f / 24);
  p = __fadd_rn(__fmul_rn(p, r), 1.0f / 6);
  p = __fadd_rn(__fmul_rn(p, r), 0.5f);
  p = __fadd_rn(__fmul_rn(p, r), 1.0f);
  p = __fadd_rn(__fmul_rn(p, r), 1.0f);
  const float scale = __int_as_float((static_cast<int>(n) + 127) << 23);
  const u32 mask = 0u - static_cast<u32>(bits <= lowest);
  return __uint_as_float(__float_as_uint(__fmul_rn(p, scale)) & mask);
}

// Probabilities lie in [0, 1], so their bits (below 2^30) order them; shifted up two bits, the
// first radix level spends its bins on 16 per octave.
__device__ __forceinline__ u32 prob_key(float p) { return __float_as_uint(p) << 2; }
__device__ __forceinline__ float prob_of_key(u32 key) { return __uint_as_float(key >> 2); }
__device__ __forceinline__ u64 mass_of(float p) {
  return __float2ull_rn(p * static_cast<float>(u64{1} << kMassBits));  // exact: a power of two
}

// Raw logits (finite): order-preserving bits, -0 counted as +0 since the CPU compares values.
__device__ __forceinline__ u32 logit_key(float x) {
  const u32 bits = __float_as_uint(x == 0.0f ? 0.0f : x);
  return (bits & 0x80000000u) != 0 ? ~bits : bits | 0x80000000u;
}
__device__ __forceinline__ float logit_of_key(u32 key) {
  return __uint_as_float((key & 0x80000000u) != 0 ? key & 0x7FFFFFFFu : ~key);
}

// A token's place: a higher rank sorts first, equal keys by lower id. Every rank is non-zero.
__device__ __forceinline__ u64 rank_of(u32 key, int id) {
  return (u64{key} << 32) | (0xFFFFFFFFu - static_cast<u32>(id));
}
__device__ __forceinline__ u32 key_of_rank(u64 rank) { return static_cast<u32>(rank >> 32); }
__device__ __forceinline__ int id_of_rank(u64 rank) {
  return static_cast<int>(0xFFFFFFFFu - static_cast<u32>(rank));
}

// ceil(fraction * mass), at least 1 and at most mass: top-p's "reaches top_p of the mass".
__device__ __forceinline__ u64 mass_goal(float fraction, u64 mass) {
  const double goal = ceil(static_cast<double>(fraction) * static_cast<double>(mass));
  return min(mass, max(u64{1}, static_cast<u64>(goal)));
}

__device__ __forceinline__ u64 warp_inclusive_scan(u64 v) {
  const int lane = threadIdx.x % 32;
#pragma unroll
  for (int offset = 1; offset < 32; offset <<= 1) {
    const u64 up = __shfl_up_sync(0xffffffffu, v, offset);
    if (lane >= offset) v += up;
  }
  return v;
}

// Exclusive prefix sum of v in thread order; `total` gets the block's sum. Integers: exact.
__device__ u64 block_exclusive_scan(u64 v, Shared& sh, u64& total) {
  const int warp = threadIdx.x / 32;
  const u64 inclusive = warp_inclusive_scan(v);
  __syncthreads();  // earlier readers of sh.scan are done
  if (threadIdx.x % 32 == 31) sh.scan[warp] = inclusive;
  __syncthreads();
  u64 before = 0;
  total = 0;
  for (int w = 0; w < kWarps; ++w) {
    if (w < warp) before += sh.scan[w];
    total += sh.scan[w];
  }
  return before + inclusive - v;
}

// The row's edit index in dynamic shared memory: a bit per token (words [0, words)), then per
// word the number of edits at lower ids (words [words, 2 * words)). Reached directly rather than
// through a RowView pointer, so that it costs no registers and stays a shared-memory access.
__device__ __forceinline__ u32* edit_index() {
  extern __shared__ u32 edit_index_words[];
  return edit_index_words;
}

__device__ __forceinline__ int edit_words(int vocab) { return (vocab + 31) / 32; }

struct RowView {
  const float* logits;  // the row
  int vocab;
  bool vectorised;                // 16-byte aligned: float4 loads
  bool has_edits;                 // edit_index() holds the row's
  const SamplingEditArgs* edits;  // the row's, sorted by id
  float repetition_penalty, presence_penalty, frequency_penalty;
};

// LogitEdit's rule, in the CPU sampler's order and roundings.
__device__ __forceinline__ float apply_edit(float logit, const SamplingEditArgs& edit,
                                            const RowView& row) {
  float x = __fadd_rn(logit, edit.bias);
  if ((edit.flags & kEditPenalised) != 0) {
    x = x > 0.0f ? __fdiv_rn(x, row.repetition_penalty) : __fmul_rn(x, row.repetition_penalty);
    if (edit.output_count > 0) {
      x = __fsub_rn(x, __fadd_rn(__fmul_rn(row.frequency_penalty,
                                           static_cast<float>(edit.output_count)),
                                 row.presence_penalty));
    }
  }
  return (edit.flags & kEditMasked) != 0 ? -INFINITY : x;
}

struct Span {
  int begin, end;
};

// The calling warp's contiguous share of the vocabulary, whole tiles but for the last.
__device__ __forceinline__ Span warp_chunk(int vocab) {
  const int tiles = (vocab + kTile - 1) / kTile;
  const int per_warp = (tiles + kWarps - 1) / kWarps * kTile;
  const int begin = min(vocab, static_cast<int>(threadIdx.x / 32) * per_warp);
  return {begin, min(vocab, begin + per_warp)};
}

// The logits at id .. id + 3 (id a multiple of 4); those at or past `end` read as 0.
__device__ __forceinline__ void load_quad(const RowView& row, int id, int end, float (&v)[4]) {
  if (row.vectorised && id + 3 < end) {
    const float4 q = __ldg(reinterpret_cast<const float4*>(row.logits + id));
    v[0] = q.x;
    v[1] = q.y;
    v[2] = q.z;
    v[3] = q.w;
  } else {
#pragma unroll
    for (int e = 0; e < 4; ++e) v[e] = id + e < end ? __ldg(row.logits + id + e) : 0.0f;
  }
}

// The edited logits of a quad: the four ids share one word of the edit bitmap.
__device__ __forceinline__ void edit_quad(const RowView& row, int id, const float (&raw)[4],
                                          float (&x)[4]) {
  const u32* index = edit_index();
  const u32 word = row.has_edits && id < row.vocab ? index[id >> 5] : 0u;
#pragma unroll
  for (int e = 0; e < 4; ++e) {
    const u32 bit = static_cast<u32>(id + e) & 31u;
    x[e] = raw[e];
    if (((word >> bit) & 1u) != 0) {
      const u32 slot = index[edit_words(row.vocab) + (id >> 5)] + __popc(word & ((1u << bit) - 1u));
      x[e] = apply_edit(raw[e], row.edits[slot], row);
    }
  }
}

// f(id, raw, edited) for every token of the calling thread, in id order. One quad per step: the
// 32 warps an SM holds keep enough loads in flight, and unrolling two spilled registers.
// f must not synchronise the warp (lanes leave at different steps).
template <typename F>
__device__ __forceinline__ void for_each_token(const RowView& row, F&& f) {
  const Span chunk = warp_chunk(row.vocab);
  for (int id = chunk.begin + static_cast<int>(threadIdx.x % 32) * 4; id < chunk.end;
       id += kTile) {
    float raw[4], x[4];
    load_quad(row, id, chunk.end, raw);
    edit_quad(row, id, raw, x);
#pragma unroll
    for (int e = 0; e < 4; ++e) {
      if (id + e < chunk.end) f(id + e, raw[e], x[e]);
    }
  }
}

// Builds the edit index: the edit of a token is then found from its bit alone, the row's edits
// being sorted by id.
__device__ void build_edit_index(const RowView& row, int count, Shared& sh) {
  u32* index = edit_index();
  const int words = edit_words(row.vocab);
  for (int w = threadIdx.x; w < words; w += kSampleThreads) index[w] = 0;
  __syncthreads();
  for (int j = threadIdx.x; j < count; j += kSampleThreads) {
    atomicOr(&index[row.edits[j].id >> 5], 1u << (row.edits[j].id & 31));
  }
  __syncthreads();
  const int per = (words + kSampleThreads - 1) / kSampleThreads;
  const int begin = min(words, static_cast<int>(threadIdx.x) * per);
  const int end = min(words, begin + per);
  u64 mine = 0;
  for (int w = begin; w < end; ++w) mine += __popc(index[w]);
  u64 total;
  u64 before = block_exclusive_scan(mine, sh, total);
  for (int w = begin; w < end; ++w) {
    index[words + w] = static_cast<u32>(before);
    before += __popc(index[w]);
  }
  __syncthreads();
}

struct RowScan {
  int non_finite;        // the first id whose raw logit is NaN or infinite; -1: none
  float max;             // of the edited logits
  int argmax;            // its first id
  double log_z;          // log-sum-exp of the raw logits, when asked
  float thread_raw_max;  // over this thread's own tokens: the largest raw logit (when asked)
  float thread_max;      // and the largest edited one
};

// Pass 1. log_z as the CPU's log_sum_exp, but online: each thread rescales its sum when its
// maximum grows, and the block merges (max, sum) pairs in a fixed order, in double.
__device__ RowScan scan_row(const RowView& row, bool want_log_z, Shared& sh) {
  int non_finite = INT_MAX, best_id = INT_MAX;
  float best = -INFINITY, m = -INFINITY;
  double s = 0.0;
  for_each_token(row, [&](int id, float raw, float x) {
    if ((__float_as_uint(raw) & 0x7F800000u) == 0x7F800000u) {
      non_finite = min(non_finite, id);
      return;
    }
    if (x > best) {
      best = x;
      best_id = id;
    }
    if (want_log_z) {
      if (raw > m) {
        s = s * exp_nonpositive(m - raw) + 1.0;
        m = raw;
      } else {
        s += exp_nonpositive(raw - m);
      }
    }
  });
  RowScan scan{};
  scan.thread_max = best;
  scan.thread_raw_max = m;
  auto merge_lse = [](float& m1, double& s1, float m2, double s2) {
    const float merged = fmaxf(m1, m2);
    if (merged == -INFINITY) return;
    s1 = s1 * exp(static_cast<double>(m1) - merged) + s2 * exp(static_cast<double>(m2) - merged);
    m1 = merged;
  };
  for (int offset = 16; offset > 0; offset >>= 1) {
    non_finite = min(non_finite, __shfl_down_sync(0xffffffffu, non_finite, offset));
    const float other = __shfl_down_sync(0xffffffffu, best, offset);
    const int other_id = __shfl_down_sync(0xffffffffu, best_id, offset);
    if (other > best || (other == best && other_id < best_id)) {
      best = other;
      best_id = other_id;
    }
    const float other_m = __shfl_down_sync(0xffffffffu, m, offset);
    const double other_s = __shfl_down_sync(0xffffffffu, s, offset);
    merge_lse(m, s, other_m, other_s);
  }
  const int warp = threadIdx.x / 32;
  if (threadIdx.x % 32 == 0) {
    sh.non_finite[warp] = non_finite;
    sh.best[warp] = best;
    sh.best_id[warp] = best_id;
    sh.lse_max[warp] = m;
    sh.lse_sum[warp] = s;
  }
  __syncthreads();
  non_finite = sh.non_finite[0];
  best = sh.best[0];
  best_id = sh.best_id[0];
  m = sh.lse_max[0];
  s = sh.lse_sum[0];
  for (int w = 1; w < kWarps; ++w) {
    non_finite = min(non_finite, sh.non_finite[w]);
    if (sh.best[w] > best || (sh.best[w] == best && sh.best_id[w] < best_id)) {
      best = sh.best[w];
      best_id = sh.best_id[w];
    }
    merge_lse(m, s, sh.lse_max[w], sh.lse_sum[w]);
  }
  __syncthreads();  // the slots are free again
  scan.non_finite = non_finite == INT_MAX ? -1 : non_finite;
  scan.max = best;
  scan.argmax = best_id;
  scan.log_z = want_log_z ? static_cast<double>(m) + log(s) : 0.0;
  return scan;
}

// Sorts list[0, size) by rank, highest first (bitonic, padded with rank 0 to a power of two).
__device__ void sort_list(int size, Shared& sh) {
  int padded = 1;
  while (padded < size) padded <<= 1;
  for (int i = size + threadIdx.x; i < padded; i += kSampleThreads) sh.list[i] = 0;
  __syncthreads();
  for (int k = 2; k <= padded; k <<= 1) {
    for (int j = k >> 1; j > 0; j >>= 1) {
      for (int i = threadIdx.x; i < padded; i += kSampleThreads) {
        const int partner = i ^ j;
        if (partner > i) {
          const u64 a = sh.list[i], b = sh.list[partner];
          if ((i & k) == 0 ? a < b : a > b) {
            sh.list[i] = b;
            sh.list[partner] = a;
          }
        }
      }
      __syncthreads();
    }
  }
}

// Appends the rank that keep(id, raw, edited) returns, when non-zero, to the list; returns how
// many there were (more than kSampleListCapacity: the list overflowed and holds only some).
template <typename Keep>
__device__ int gather(const RowView& row, Keep keep, Shared& sh) {
  __syncthreads();  // earlier readers of the list are done
  if (threadIdx.x == 0) sh.list_size = 0;
  __syncthreads();
  for_each_token(row, [&](int id, float raw, float x) {
    const u64 rank = keep(id, raw, x);
    if (rank == 0) return;
    const int slot = atomicAdd(&sh.list_size, 1);
    if (slot < kSampleListCapacity) sh.list[slot] = rank;
  });
  __syncthreads();
  return sh.list_size;
}

// The n-th largest (1-based, n <= kSampleThreads) of the threads' keys: each thread's key is
// one of its own tokens', so at least n tokens of the row have a key at least this large.
__device__ u32 nth_largest_thread_key(u32 key, int n, Shared& sh) {
  __syncthreads();  // earlier readers of the list are done
  sh.list[threadIdx.x] = rank_of(key, static_cast<int>(threadIdx.x));
  sort_list(kSampleThreads, sh);
  const u32 nth = key_of_rank(sh.list[n - 1]);
  __syncthreads();
  return nth;
}

struct ListPoint {
  int index;  // -1: none
  u64 mass;   // of list[0, index]
  u64 total;  // of the whole list
};

// Over the sorted probability ranks list[0, size): the need-th entry (by count), or the first at
// which the running mass reaches need (by mass).
__device__ ListPoint list_point(int size, bool by_mass, u64 need, Shared& sh) {
  const int per = (size + kSampleThreads - 1) / kSampleThreads;
  const int begin = min(size, static_cast<int>(threadIdx.x) * per);
  const int end = min(size, begin + per);
  u64 mine = 0;
  for (int j = begin; j < end; ++j) mine += mass_of(prob_of_key(key_of_rank(sh.list[j])));
  if (threadIdx.x == 0) sh.point_index = -1;
  u64 total;
  u64 before = block_exclusive_scan(mine, sh, total);
  for (int j = begin; j < end; ++j) {
    const u64 mass = mass_of(prob_of_key(key_of_rank(sh.list[j])));
    const bool hit = by_mass ? before < need && need <= before + mass : u64(j) + 1 == need;
    before += mass;
    if (hit) {
      sh.point_index = j;
      sh.point_mass = before;
    }
  }
  __syncthreads();
  const ListPoint point{sh.point_index, sh.point_mass, total};
  __syncthreads();  // the slots are free again
  return point;
}

// The first id, in id order, at which the running sum of weight(id, raw, edited) exceeds
// target_of(total of the row); -1 when none does. Each warp sums its chunk, thread 0 finds the
// chunk, and its warp walks it again a tile at a time, its lanes' sums scanned in lane order.
template <typename Weight, typename Target>
__device__ int walk_to(const RowView& row, Weight weight, Target target_of, Shared& sh) {
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
  u64 sum = 0;
  for_each_token(row, [&](int id, float raw, float x) { sum += weight(id, raw, x); });
  for (int offset = 16; offset > 0; offset >>= 1) sum += __shfl_xor_sync(0xffffffffu, sum, offset);
  __syncthreads();  // earlier readers of the slots are done
  if (lane == 0) sh.scan[warp] = sum;
  __syncthreads();
  if (threadIdx.x == 0) {
    u64 total = 0;
    for (int w = 0; w < kWarps; ++w) total += sh.scan[w];
    const u64 target = target_of(total);
    u64 before = 0;
    sh.walk_warp = -1;
    sh.walk_id = -1;
    for (int w = 0; w < kWarps; ++w) {
      if (target < before + sh.scan[w]) {
        sh.walk_warp = w;
        break;
      }
      before += sh.scan[w];
    }
    sh.walk_before = before;
    sh.walk_target = target;
  }
  __syncthreads();
  if (warp == sh.walk_warp) {
    const u64 target = sh.walk_target;
    u64 reached = sh.walk_before;
    const Span chunk = warp_chunk(row.vocab);
    for (int base = chunk.begin; base < chunk.end; base += kTile) {
      const int id = base + lane * 4;
      float raw[4], x[4];
      u64 w[4];
      load_quad(row, id, chunk.end, raw);
      edit_quad(row, id, raw, x);
#pragma unroll
      for (int e = 0; e < 4; ++e) w[e] = id + e < chunk.end ? weight(id + e, raw[e], x[e]) : 0;
      const u64 mine = w[0] + w[1] + w[2] + w[3];
      const u64 inclusive = warp_inclusive_scan(mine);
      const u64 tile = __shfl_sync(0xffffffffu, inclusive, 31);
      if (target < reached + tile) {
        u64 running = reached + inclusive - mine;
        if (running <= target && target < running + mine) {
#pragma unroll
          for (int e = 0; e < 4; ++e) {
            running += w[e];
            if (target < running) {
              sh.walk_id = id + e;
              break;
            }
          }
        }
        break;
      }
      reached += tile;
    }
  }
  __syncthreads();
  return sh.walk_id;
}

// A token as a select sees it: whether it competes, its key, its mass (probability keys).
struct Candidate {
  bool ok;
  u32 key;
  u64 mass;
};

struct Select {
  bool found;  // by count: the row has `need` candidates; by mass: always
  u64 cut;     // rank of the cut: the candidates ranked at or above it are kept
  u64 mass;    // their mass when found, else every candidate's (when mass is tracked)
  int listed;  // > 0: list[0, listed) holds, sorted, every candidate ranked at or above the cut
};

// The need-th candidate in rank order (by count), or the first at which the running mass
// reaches need (by mass), need = need_of(every candidate's mass). A radix select over the key,
// 11 + 11 + 10 bits, one pass a level; gathers and sorts as soon as the candidates at or above
// the chosen bin fit in the list; at the full key, the cut among equal keys is walked in id order.
template <typename Cand, typename Need>
__device__ Select radix_select(const RowView& row, bool by_mass, bool track_mass, Cand cand,
                               Need need_of, Shared& sh) {
  u64 count_above = 0, mass_above = 0, need = 0, total_mass = 0;
  u32 prefix = 0;
  for (int level = 0; level < 3; ++level) {
    const int shift = level == 0 ? 21 : (level == 1 ? 10 : 0);
    const int bits = level == 2 ? 10 : 11;
    const int bins = 1 << bits;
    __syncthreads();  // earlier readers of the bins are done
    for (int b = threadIdx.x; b < bins; b += kSampleThreads) {
      sh.bin_count[b] = 0;
      sh.bin_mass[b] = 0;
    }
    __syncthreads();
    for_each_token(row, [&](int id, float raw, float x) {
      const Candidate c = cand(id, raw, x);
      if (!c.ok || (level > 0 && (c.key >> (shift + bits)) != prefix)) return;
      const u32 bin = (c.key >> shift) & static_cast<u32>(bins - 1);
      atomicAdd(&sh.bin_count[bin], 1u);
      if (track_mass) atomicAdd(&sh.bin_mass[bin], c.mass);
    });
    __syncthreads();
    // This thread's bins, highest first, and the counts and masses of the bins above them.
    const int per = bins / kSampleThreads;
    const int top = bins - 1 - static_cast<int>(threadIdx.x) * per;
    u64 count = 0, mass = 0;
    for (int j = 0; j < per; ++j) {
      count += sh.bin_count[top - j];
      mass += sh.bin_mass[top - j];
    }
    if (threadIdx.x == 0) sh.found_bin = -1;
    u64 level_count, level_mass;
    u64 count_before = block_exclusive_scan(count, sh, level_count);
    u64 mass_before = block_exclusive_scan(mass, sh, level_mass);
    if (level == 0) {
      total_mass = level_mass;
      need = need_of(total_mass);
    }
    for (int j = 0; j < per; ++j) {
      const u64 c = sh.bin_count[top - j], m = sh.bin_mass[top - j];
      const u64 reached = by_mass ? mass_above + mass_before : count_above + count_before;
      if (reached < need && need <= reached + (by_mass ? m : c)) {
        sh.found_bin = top - j;
        sh.found_count = count_before;
        sh.found_mass = mass_before;
      }
      count_before += c;
      mass_before += m;
    }
    __syncthreads();
    const int bin = sh.found_bin;
    if (bin < 0) return {false, 0, total_mass, 0};
    count_above += sh.found_count;
    mass_above += sh.found_mass;
    const u64 in_bin = sh.bin_count[bin];
    prefix = (prefix << bits) | static_cast<u32>(bin);
    if (count_above + in_bin <= kSampleListCapacity) {
      const u32 low = prefix << shift;
      const int size = gather(
          row,
          [&](int id, float raw, float x) -> u64 {
            const Candidate c = cand(id, raw, x);
            return c.ok && c.key >= low ? rank_of(c.key, id) : 0;
          },
          sh);
      sort_list(size, sh);
      const ListPoint point = list_point(size, by_mass, need, sh);
      return {true, sh.list[point.index], point.mass, size};
    }
    if (level == 2) {
      const u32 key = prefix;
      const u64 unit = track_mass ? mass_of(prob_of_key(key)) : 0;  // every tied token's mass
      const u64 nth = by_mass ? (need - mass_above + unit - 1) / unit : need - count_above;
      const int id = walk_to(
          row,
          [&](int i, float raw, float x) -> u64 {
            const Candidate c = cand(i, raw, x);
            return c.ok && c.key == key ? 1 : 0;
          },
          [&](u64) { return nth - 1; }, sh);
      return {true, rank_of(key, id), mass_above + nth * unit, 0};
    }
  }
  return {};  // not reached: level 2 fixes the key
}

// Top-k: the k most likely positive tokens (ties: lower id), with their mass when track_mass.
template <typename Prob, typename Cand>
__device__ Select select_top_k(const RowView& row, int k, bool track_mass, Prob prob,
                               Cand positive, float thread_max, Shared& sh) {
  if (k <= kSampleThreads) {
    const float bound = prob(logit_of_key(nth_largest_thread_key(logit_key(thread_max), k, sh)));
    const int size = gather(
        row,
        [&](int id, float, float x) -> u64 {
          const float p = prob(x);
          return p > 0.0f && p >= bound ? rank_of(prob_key(p), id) : 0;
        },
        sh);
    if (size <= kSampleListCapacity) {
      // Fewer than k gathered means the bound was 0: the list holds every positive token.
      sort_list(size, sh);
      const ListPoint point = list_point(size, false, static_cast<u64>(k), sh);
      if (point.index < 0) return {false, 0, point.total, size};
      return {true, sh.list[point.index], point.mass, size};
    }
  }
  return radix_select(row, false, track_mass, positive, [=](u64) { return u64(k); }, sh);
}

// A sampled row's token: probabilities as the CPU's to_probabilities, top-k, top-p over what
// top-k left, min-p, then the draw.
__device__ int draw(const RowView& row, const SamplingRowArgs& args, const RowScan& scan,
                    Shared& sh) {
  const float max = scan.max;
  const float inverse_temperature = __frcp_rn(args.temperature);
  const auto prob = [=](float x) {
    return exp_nonpositive(__fmul_rn(__fsub_rn(x, max), inverse_temperature));
  };
  const auto positive = [=](int, float, float x) {
    const float p = prob(x);
    return Candidate{p > 0.0f, prob_key(p), mass_of(p)};
  };
  const bool top_p = args.top_p < 1.0f;
  u64 floor = 0;  // tokens ranked below it are dropped
  if (args.top_k > 0 && args.top_k < row.vocab) {
    const Select top_k = select_top_k(row, args.top_k, top_p, prob, positive, scan.thread_max, sh);
    if (top_k.found) floor = top_k.cut;
    if (top_p) {
      const u64 need = mass_goal(args.top_p, top_k.mass);
      if (top_k.listed > 0) {
        floor = sh.list[list_point(top_k.listed, true, need, sh).index];
      } else {
        const auto kept = [=](int id, float raw, float x) {
          Candidate c = positive(id, raw, x);
          c.ok = c.ok && rank_of(c.key, id) >= floor;
          return c;
        };
        floor = radix_select(row, true, true, kept, [=](u64) { return need; }, sh).cut;
      }
    }
  } else if (top_p) {
    const float fraction = args.top_p;
    floor = radix_select(row, true, true, positive,
                         [=](u64 total) { return mass_goal(fraction, total); }, sh)
                .cut;
  }
  const float min_p = args.min_p;
  const double uniform = args.uniform;
  return walk_to(
      row,
      [=](int id, float, float x) -> u64 {
        const float p = prob(x);
        return p >= min_p && rank_of(prob_key(p), id) >= floor ? mass_of(p) : 0;
      },
      [=](u64 total) { return min(total - 1, static_cast<u64>(uniform * static_cast<double>(total))); },
      sh);
}

// The n most likely raw logits (n >= 1), most likely first (ties: lower id), with logprobs.
__device__ int top_logprobs(const RowView& row, int n, const RowScan& scan,
                            SampledTokenArgs& result, Shared& sh) {
  const u32 bound = nth_largest_thread_key(logit_key(scan.thread_raw_max), n, sh);
  int size = gather(
      row,
      [&](int id, float raw, float) -> u64 {
        const u32 key = logit_key(raw);
        return key >= bound ? rank_of(key, id) : 0;
      },
      sh);
  if (size > kSampleListCapacity) {
    const Select nth = radix_select(
        row, false, false,
        [](int, float raw, float) { return Candidate{true, logit_key(raw), 0}; },
        [=](u64) { return u64(n); }, sh);
    size = gather(
        row,
        [&](int id, float raw, float) -> u64 {
          const u64 rank = rank_of(logit_key(raw), id);
          return rank >= nth.cut ? rank : 0;
        },
        sh);
  }
  sort_list(size, sh);
  const int top = min(n, size);
  for (int j = threadIdx.x; j < top; j += kSampleThreads) {
    const u64 rank = sh.list[j];
    result.top_ids[j] = id_of_rank(rank);
    result.top_logprobs[j] =
        static_cast<float>(static_cast<double>(logit_of_key(key_of_rank(rank))) - scan.log_z);
  }
  __syncthreads();  // the list is free again
  return top;
}

}  // namespace sampling

// rows[blockIdx.x] -> out[blockIdx.x]; logits [*, vocab] fp32, vocab <= 2^22.
__global__ void __launch_bounds__(kSampleThreads, 2)
    sample_kernel(const float* logits, int vocab, const SamplingRowArgs* rows,
                  const SamplingEditArgs* edits, SampledTokenArgs* out) {
  using namespace sampling;
  __shared__ Shared sh;
  const SamplingRowArgs& args = rows[blockIdx.x];
  SampledTokenArgs& result = out[blockIdx.x];
  const float* logits_row = logits + static_cast<std::int64_t>(args.logits_row) * vocab;
  RowView row{logits_row,
              vocab,
              reinterpret_cast<std::uintptr_t>(logits_row) % 16 == 0,
              args.edits_count > 0,
              edits + args.edits_begin,
              args.repetition_penalty,
              args.presence_penalty,
              args.frequency_penalty};
  if (row.has_edits) build_edit_index(row, args.edits_count, sh);
  const bool logprobs = args.num_top_logprobs >= 0;
  const RowScan scan = scan_row(row, logprobs, sh);
  const std::int32_t status = scan.non_finite >= 0     ? kSampledNonFinite
                              : scan.max == -INFINITY ? kSampledAllMasked
                              : scan.max == INFINITY  ? kSampledInfinite
                                                      : kSampledOk;
  if (status != kSampledOk) {
    if (threadIdx.x == 0) {
      result.token = -1;
      result.logprob = 0.0f;
      result.non_finite_id = scan.non_finite;
      result.non_finite_value = scan.non_finite >= 0 ? logits_row[scan.non_finite] : 0.0f;
      result.status = status;
      result.num_top = 0;
    }
    return;
  }
  const int num_top =
      args.num_top_logprobs > 0 ? top_logprobs(row, args.num_top_logprobs, scan, result, sh) : 0;
  const int token =
      args.temperature < kGreedyBelowTemperature ? scan.argmax : draw(row, args, scan, sh);
  if (threadIdx.x == 0) {
    result.token = token;
    result.logprob =
        logprobs ? static_cast<float>(static_cast<double>(logits_row[token]) - scan.log_z) : 0.0f;
    result.non_finite_id = -1;
    result.non_finite_value = 0.0f;
    result.status = kSampledOk;
    result.num_top = num_top;
  }
}

}  // namespace llmserve::kernels
