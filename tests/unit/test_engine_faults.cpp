// The engine under abuse: aborts at every stage, failures inside a step, and a randomised soak
// with client threads; every handle gets exactly one final output and every block comes back.
#include <gtest/gtest.h>

#include <thread>

#include "engine_harness.h"
#include "llmserve/engine/engine.h"

namespace llmserve::engine {
namespace {

using testing::EngineTestBase;
using testing::Job;
using testing::JobResult;

// The CPU backend, with failures on demand: an exception in attention, or NaN logits in a row.
class FaultyBackend final : public backend::Backend {
 public:
  bool throw_in_attention = false;
  std::optional<std::int64_t> nan_logits_row;

  std::string_view name() const override { return inner_->name(); }
  DType compute_dtype() const override { return inner_->compute_dtype(); }
  using backend::Backend::empty;
  backend::Tensor empty(std::vector<std::int64_t> shape, DType dtype) override {
    return inner_->empty(std::move(shape), dtype);
  }
  backend::Tensor upload(std::span<const float> host, std::vector<std::int64_t> shape) override {
    return inner_->upload(host, std::move(shape));
  }
  void download(const backend::Tensor& t, std::span<float> host) override {
    inner_->download(t, host);
  }
  void allocate_kv_cache(const backend::KvCacheLayout& layout) override {
    inner_->allocate_kv_cache(layout);
  }
  const backend::KvCacheLayout& kv_cache_layout() const override {
    return inner_->kv_cache_layout();
  }
  void begin_step(const backend::Batch& batch) override { inner_->begin_step(batch); }
  void embed(const backend::Tensor& table, const backend::Tensor* positions,
             backend::Tensor& out) override {
    inner_->embed(table, positions, out);
  }
  void norm(backend::NormType type, const backend::Tensor& x, const backend::Tensor& weight,
            const backend::Tensor* bias, float eps, backend::Tensor& out) override {
    inner_->norm(type, x, weight, bias, eps, out);
  }
  void add_norm(backend::NormType type, backend::Tensor& residual, const backend::Tensor& x,
                const backend::Tensor& weight, const backend::Tensor* bias, float eps,
                backend::Tensor& out) override {
    inner_->add_norm(type, residual, x, weight, bias, eps, out);
  }
  void add(backend::Tensor& x, const backend::Tensor& y) override { inner_->add(x, y); }
  void linear(const backend::Tensor& x, const backend::Tensor& weight, const backend::Tensor* bias,
              backend::Tensor& out) override {
    inner_->linear(x, weight, bias, out);
    // The lm_head is the only linear whose output has vocab_size columns.
    if (nan_logits_row && out.shape()[1] == vocab_size) {
      out.data_as<float>()[*nan_logits_row * vocab_size] = std::nanf("");
    }
  }
  void rotary(backend::Tensor& qkv, float theta) override { inner_->rotary(qkv, theta); }
  void write_kv(std::int32_t layer, const backend::Tensor& qkv) override {
    inner_->write_kv(layer, qkv);
  }
  void paged_attention(std::int32_t layer, const backend::Tensor& qkv, float scale,
                       backend::Tensor& out) override {
    if (throw_in_attention) throw Error("injected attention failure");
    inner_->paged_attention(layer, qkv, scale, out);
  }
  void gelu_new(backend::Tensor& x) override { inner_->gelu_new(x); }
  void silu_mul(const backend::Tensor& gate_up, backend::Tensor& out) override {
    inner_->silu_mul(gate_up, out);
  }
  void gather_rows(const backend::Tensor& x, backend::Tensor& out) override {
    inner_->gather_rows(x, out);
  }

  std::int64_t vocab_size = 0;

 private:
  std::unique_ptr<backend::Backend> inner_ = backend::make_cpu_backend();
};

// A base, so that the backend exists before EngineTestBase loads the model onto it.
struct WithFaultyBackend {
  FaultyBackend faulty_;
};

class EngineFaults : public ::testing::Test, public WithFaultyBackend, public EngineTestBase {
 public:
  EngineFaults() : EngineTestBase("gpt2-f32", &faulty_) {
    faulty_.vocab_size = runner->spec().vocab_size;
  }

  // Steps `engine` until `handle` has given its final output.
  static JobResult drain(EngineCore& engine, RequestHandle& handle, std::int32_t n = 1) {
    JobResult result;
    result.choices.resize(static_cast<std::size_t>(n));
    bool finished = false;
    for (int i = 0; i < 10000 && !finished; ++i) {
      if (auto out = handle.poll()) {
        testing::accumulate(std::move(*out), result, finished);
      } else {
        engine.step();
      }
    }
    EXPECT_TRUE(finished);
    return result;
  }
};

TEST_F(EngineFaults, AbortAtEveryStageFreesBlocksAndEndsOnce) {
  std::mt19937 rng(1);
  const Job survivor{random_prompt(rng, 9), greedy(20), 0};
  const auto alone = run_jobs({survivor}, {})[0].choices[0].tokens;

  config::EngineConfig one_at_a_time;
  one_at_a_time.max_num_seqs = 2;
  EngineCore engine(*runner, *tokenizer, one_at_a_time);
  auto kept = engine.submit({survivor.prompt, survivor.params});
  auto running = engine.submit({random_prompt(rng, 30), greedy(40)});
  auto waiting = engine.submit({random_prompt(rng, 5), greedy(5)});  // over max_num_seqs
  auto queued = engine.submit({random_prompt(rng, 5), greedy(5)});
  engine.step();
  engine.step();
  const auto used_before = engine.block_manager().num_used_blocks();
  running.abort();
  waiting.abort(FinishReason::kTimeout);
  running.abort();  // idempotent
  engine.step();
  EXPECT_LT(engine.block_manager().num_used_blocks(), used_before);

  const auto r = drain(engine, running);
  EXPECT_EQ(r.choices[0].finish, FinishReason::kAbort);
  EXPECT_EQ(r.choices[0].tokens.size(), 2u);  // two steps ran before the abort
  const auto w = drain(engine, waiting);
  EXPECT_EQ(w.choices[0].finish, FinishReason::kTimeout);
  EXPECT_TRUE(w.choices[0].tokens.empty());
  EXPECT_EQ(drain(engine, kept).choices[0].tokens, alone);
  EXPECT_EQ(drain(engine, queued).choices[0].finish, FinishReason::kLength);
  EXPECT_TRUE(running.done());
  EXPECT_FALSE(running.poll().has_value());

  // n = 2, aborted before its prompt ran: every choice ends, none with a token.
  SamplingParams two = greedy(5);
  two.n = 2;
  auto unforked = engine.submit({random_prompt(rng, 4), two});
  unforked.abort();
  const auto u = drain(engine, unforked, 2);
  for (const auto& c : u.choices) EXPECT_EQ(c.finish, FinishReason::kAbort);
  kept.abort();  // after its end: nothing happens
  engine.step();
  EXPECT_FALSE(kept.poll().has_value());
  EXPECT_EQ(engine.block_manager().num_used_blocks(), 0);
  engine.block_manager().check_invariants();
}

// An exception in the forward pass fails the requests of that step only; the engine carries on.
TEST_F(EngineFaults, StepFailureFailsThatStepsRequestsOnly) {
  std::mt19937 rng(2);
  const Job later{random_prompt(rng, 6), greedy(8), 0};
  const auto alone = run_jobs({later}, {})[0].choices[0].tokens;
  EngineCore engine(*runner, *tokenizer, {});
  auto a = engine.submit({random_prompt(rng, 12), greedy(10)});
  engine.step();
  faulty_.throw_in_attention = true;
  auto b = engine.submit({random_prompt(rng, 3), greedy(10)});
  engine.step();
  faulty_.throw_in_attention = false;
  for (auto* h : {&a, &b}) {
    const auto r = drain(engine, *h);
    EXPECT_EQ(r.choices[0].finish, FinishReason::kError);
    ASSERT_TRUE(r.error);
    EXPECT_NE(r.error->find("injected attention failure"), std::string::npos) << *r.error;
  }
  EXPECT_EQ(engine.block_manager().num_used_blocks(), 0);
  auto c = engine.submit({later.prompt, later.params});
  EXPECT_EQ(drain(engine, c).choices[0].tokens, alone);
  EXPECT_EQ(engine.stats().num_failed_steps, 1);
}

// NaN logits in one row fail that row's request; the other request of the batch is unaffected.
TEST_F(EngineFaults, NonFiniteLogitsFailOnlyTheirRequest) {
  std::mt19937 rng(3);
  const Job healthy{random_prompt(rng, 7), greedy(6), 0};
  const auto alone = run_jobs({healthy}, {})[0].choices[0].tokens;
  EngineCore engine(*runner, *tokenizer, {});
  auto poisoned = engine.submit({random_prompt(rng, 5), greedy(6)});
  auto fine = engine.submit({healthy.prompt, healthy.params});
  faulty_.nan_logits_row = 0;  // the first scheduled sequence's row
  engine.step();
  faulty_.nan_logits_row.reset();
  const auto p = drain(engine, poisoned);
  EXPECT_EQ(p.choices[0].finish, FinishReason::kError);
  EXPECT_TRUE(p.error);
  EXPECT_EQ(drain(engine, fine).choices[0].tokens, alone);
  EXPECT_EQ(engine.block_manager().num_used_blocks(), 0);
}

// A consumer's notification that throws costs that consumer nothing but a log line: its output
// is still there to poll, and the engine goes on.
TEST_F(EngineFaults, ThrowingNotificationDoesNotStopTheEngine) {
  std::mt19937 rng(4);
  EngineCore engine(*runner, *tokenizer, {});
  auto handle = engine.submit({random_prompt(rng, 4), greedy(3)});
  int calls = 0;
  handle.on_ready([&] {
    ++calls;
    throw std::runtime_error("consumer is gone");
  });
  const auto r = drain(engine, handle);
  EXPECT_EQ(r.choices[0].tokens.size(), 3u);
  EXPECT_GE(calls, 1);
  auto next = engine.submit({random_prompt(rng, 4), greedy(2)});
  EXPECT_EQ(drain(engine, next).choices[0].finish, FinishReason::kLength);
}

// Client threads submit random requests to the threaded Engine and abort some at random points;
// each handle sees exactly one final output, as its last, and the cache ends empty.
TEST_F(EngineFaults, RandomisedSoakWithAbortsLeavesEveryBlockFree) {
  config::EngineConfig config;
  config.block_size = 4;
  config.max_model_len = 64;
  config.kv_cache_memory = kv_bytes(40, 4);
  config.max_num_seqs = 12;
  config.max_num_batched_tokens = 48;
  config.enable_prefix_caching = true;
  auto engine = std::make_unique<Engine>(*runner, *tokenizer, config);
  auto client = [&](std::uint32_t seed) {
    std::mt19937 rng(seed);
    std::vector<RequestHandle> handles;
    std::vector<int> abort_after;
    std::vector<std::int32_t> ns;
    for (int i = 0; i < 30; ++i) {
      SamplingParams p;
      p.max_tokens = 1 + static_cast<std::int32_t>(rng() % 24);
      p.temperature = static_cast<float>(rng() % 3) * 0.6f;
      p.top_p = rng() % 2 ? 1.0f : 0.8f;
      p.top_k = static_cast<std::int32_t>(rng() % 30);
      p.presence_penalty = 0.5f;
      p.n = 1 + static_cast<std::int32_t>(rng() % 3);
      if (rng() % 4 == 0) p.stop = {"e"};
      if (rng() % 2) p.seed = rng();
      const auto prompt = random_prompt(rng, 1 + rng() % 30);
      handles.push_back(engine->submit({prompt, p}));
      abort_after.push_back(static_cast<int>(rng() % 4) - 1);  // -1: never; 0: at once
      ns.push_back(p.n);
      if (abort_after.back() == 0) handles.back().abort();
    }
    for (std::size_t i = 0; i < handles.size(); ++i) {
      JobResult result;
      result.choices.resize(static_cast<std::size_t>(ns[i]));
      bool finished = false;
      for (int outputs = 1; !finished; ++outputs) {
        testing::accumulate(handles[i].wait(), result, finished);
        if (outputs == abort_after[i]) handles[i].abort();
      }
      EXPECT_FALSE(result.error);
      EXPECT_FALSE(handles[i].poll().has_value());
    }
  };
  std::thread a(client, 1u), b(client, 2u);
  a.join();
  b.join();
  // Every client has its final outputs, so the stats published before them show an idle engine.
  const auto stats = engine->stats();
  EXPECT_EQ(stats.num_running + stats.num_waiting, 0);
  EXPECT_EQ(stats.num_used_blocks, 0);
  EXPECT_TRUE(engine->alive());
  engine.reset();  // joins the thread with nothing left to abort
}

}  // namespace
}  // namespace llmserve::engine
