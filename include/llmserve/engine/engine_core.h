#pragma once
// The serving loop's body, one step at a time: take new requests and aborts, schedule, build the
// batch, run the model, sample, check stops, post each request's new output, free the blocks of
// whatever finished. submit() and stats() are thread-safe; everything else belongs to the one
// thread that calls step() (Engine's thread, or a test driving steps by hand).
//
// Failures stay local: an exception from the model fails the requests of that step, a row that
// cannot be sampled fails its request; the engine carries on. Every way a sequence ends (finish,
// abort, timeout, failure) frees its blocks in the step that ends it.
#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <stop_token>
#include <unordered_map>
#include <vector>

#include "llmserve/backend/batch.h"
#include "llmserve/config/engine_config.h"
#include "llmserve/engine/block_manager.h"
#include "llmserve/engine/device_sampling_rows.h"
#include "llmserve/engine/kv_cache_plan.h"
#include "llmserve/engine/request_handle.h"
#include "llmserve/engine/sampler.h"
#include "llmserve/engine/sampling_params.h"
#include "llmserve/engine/scheduler.h"
#include "llmserve/model/model_runner.h"
#include "llmserve/tokenizer/tokenizer.h"

namespace llmserve::engine {

struct EngineRequest {
  std::vector<std::int32_t> prompt_ids;
  SamplingParams params;
};

// A consistent snapshot, taken at the end of a step.
struct EngineStats {
  std::int32_t num_running = 0;  // sequences
  std::int32_t num_waiting = 0;
  std::int32_t num_blocks = 0;
  std::int32_t block_size = 0;
  std::int32_t num_used_blocks = 0;
  std::int32_t num_cached_blocks = 0;
  std::int64_t num_steps = 0;
  std::int64_t num_preemptions = 0;
  std::int64_t prefix_cache_queries = 0;  // tokens
  std::int64_t prefix_cache_hits = 0;     // tokens
  std::int64_t prompt_tokens = 0;         // of admitted requests
  std::int64_t generation_tokens = 0;
  std::int64_t num_failed_steps = 0;
  double kv_cache_usage() const {
    return num_blocks > 0 ? static_cast<double>(num_used_blocks) / num_blocks : 0.0;
  }
};

struct Request;
class EngineInbox;
class RequestStream;

class EngineCore {
 public:
  // Sizes the KV cache from `config` (plan_kv_cache) and allocates it on the runner's backend.
  EngineCore(model::ModelRunner& runner, const tokenizer::Tokenizer& tokenizer,
             const config::EngineConfig& config);
  // shutdown(), so no handle waits forever.
  ~EngineCore();
  EngineCore(const EngineCore&) = delete;
  EngineCore& operator=(const EngineCore&) = delete;

  // Thread-safe. Validates the request against the model and limits (throws InvalidParameter
  // naming the field, before anything is queued) and queues it for the next step. Throws
  // llmserve::Error after shutdown().
  RequestHandle submit(EngineRequest request);

  // One step. Returns false when there was nothing to run.
  bool step();
  bool has_unfinished() const;
  // Sleeps until a request or an abort arrives; false when `stop` was requested.
  bool wait_for_work(std::stop_token stop);
  // Ends every unfinished request with an abort.
  void abort_all();
  // Refuses new requests from now on (submit throws llmserve::Error), then abort_all().
  void shutdown();

  EngineStats stats() const;
  const KvCachePlan& kv_cache_plan() const { return plan_; }
  const BlockManager& block_manager() const { return blocks_; }
  std::int32_t max_model_len() const { return plan_.max_model_len; }

 private:
  void take_inbox();
  void add_request(EngineRequest&& request, std::shared_ptr<RequestStream> stream,
                   Clock::time_point arrival);
  bool run_step(const SchedulerOutput& scheduled);
  void fork_choices(Sequence& parent);
  void append_token(Sequence& seq, const SampleResult& sample, Clock::time_point now);
  // Frees the sequence's blocks and ends its choice.
  void finish_sequence(Sequence& seq, FinishReason reason, StopReason stop_reason = {});
  void finish_choice(Request& request, std::int32_t index, FinishReason reason,
                     StopReason stop_reason);
  void touch(Request& request);  // its output is posted at the end of the step
  // Ends every unfinished choice of `request` (kAbort, kTimeout or kError).
  void end_request(Request& request, FinishReason reason);
  void fail_request(Request& request, const std::string& message);
  // Fails every request of the step that threw `e`.
  void fail_step(const SchedulerOutput& scheduled, const std::exception& e);
  void post_outputs();
  void publish_stats();

  model::ModelRunner* runner_;
  const tokenizer::Tokenizer* tokenizer_;
  config::EngineConfig config_;
  KvCachePlan plan_;
  std::vector<std::int32_t> eos_token_ids_;
  BlockManager blocks_;
  Scheduler scheduler_;
  Sampler sampler_;
  // Set when the backend samples where the logits are: only tokens cross to the host.
  std::optional<DeviceSamplingRows> device_rows_;
  std::shared_ptr<EngineInbox> inbox_;
  std::atomic<std::uint64_t> next_request_id_{1};

  std::unordered_map<std::uint64_t, std::unique_ptr<Request>> requests_;
  std::vector<Request*> touched_;  // requests with output to post this step
  // Reused step to step.
  backend::Batch batch_;
  std::vector<float> logits_;
  std::vector<SamplerRow> rows_;
  std::vector<Sequence*> row_sequences_;
  std::vector<SampleResult> samples_;
  std::vector<backend::SampledToken> device_samples_;

  std::int64_t num_steps_ = 0;
  std::int64_t num_failed_steps_ = 0;
  std::int64_t prompt_tokens_ = 0;
  std::int64_t generation_tokens_ = 0;
  mutable std::mutex stats_mutex_;
  EngineStats stats_;
};

}  // namespace llmserve::engine
