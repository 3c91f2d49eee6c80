#include "llmserve/engine/engine_core.h"

#include <spdlog/spdlog.h>

#include <array>
#include <random>
#include <utility>

#include "engine_inbox.h"
#include "llmserve/common/dtype.h"
#include "llmserve/common/error.h"
#include "llmserve/engine/batch_builder.h"
#include "llmserve/engine/stop_checker.h"
#include "llmserve/tokenizer/incremental_detokenizer.h"
#include "request_stream.h"

namespace llmserve::engine {

// A request's engine-side state: its sequences (one until the prompt is computed, then n) and,
// per choice, the output processing that turns tokens into released text.
struct Request {
  struct Choice {
    tokenizer::IncrementalDetokenizer detokenizer;
    StopChecker stop_checker;
    bool finished = false;
  };

  std::uint64_t id = 0;
  SamplingParams params;
  std::shared_ptr<RequestStream> stream;
  std::uint64_t seed = 0;
  std::vector<Choice> choices;                       // [n]
  std::vector<std::unique_ptr<Sequence>> sequences;  // by choice index
  std::int32_t num_unfinished = 0;
  Usage usage;
  RequestTimes times;
  RequestOutput pending;  // news of this step, posted at its end
  bool touched = false;

  ChoiceDelta& delta(std::int32_t index) {
    for (auto& d : pending.choices) {
      if (d.index == index) return d;
    }
    pending.choices.push_back({});
    pending.choices.back().index = index;
    return pending.choices.back();
  }
};

namespace {

// Choice i of a request draws from its own stream: reproducible for a given seed, independent of
// the other choices and of whatever else shares the batch.
std::uint64_t choice_seed(std::uint64_t request_seed, std::int32_t index) {
  std::seed_seq seq{static_cast<std::uint32_t>(request_seed),
                    static_cast<std::uint32_t>(request_seed >> 32),
                    static_cast<std::uint32_t>(index)};
  std::array<std::uint32_t, 2> words{};
  seq.generate(words.begin(), words.end());
  return (std::uint64_t{words[0]} << 32) | words[1];
}

const config::EngineConfig& validated(const config::EngineConfig& config) {
  config::validate(config);
  return config;
}

// The KV cache's byte budget: --kv-cache-memory when given. Else on a device, as vLLM does it:
// the largest step's activations are allocated first, then the cache gets utilization x total
// minus everything in use by then (weights, activations, library workspaces, other processes).
std::int64_t kv_cache_budget(model::ModelRunner& runner, const config::EngineConfig& config) {
  if (config.kv_cache_memory) return *config.kv_cache_memory;
  if (!runner.backend().device_memory()) return config::kDefaultCpuKvCacheMemory;
  runner.reserve_workspace(config.max_num_batched_tokens, config.max_num_seqs);
  const backend::DeviceMemory memory = *runner.backend().device_memory();
  const std::int64_t used = memory.total_bytes - memory.free_bytes;
  const auto allowed = static_cast<std::int64_t>(config.gpu_memory_utilization *
                                                 static_cast<double>(memory.total_bytes));
  constexpr double kGiB = 1 << 30;
  spdlog::info(
      "{} memory: {:.2f} GiB total, {:.2f} GiB in use after loading weights and reserving "
      "activations; --gpu-memory-utilization {} allows {:.2f} GiB",
      runner.backend().name(), memory.total_bytes / kGiB, used / kGiB,
      config.gpu_memory_utilization, allowed / kGiB);
  if (allowed <= used) {
    throw Error(
        "no device memory left for the KV cache: --gpu-memory-utilization {} allows {:.2f} GiB "
        "but {:.2f} GiB is already in use; raise it, or lower --max-num-batched-tokens",
        config.gpu_memory_utilization, allowed / kGiB, used / kGiB);
  }
  return allowed - used;
}

std::vector<std::int32_t> eos_ids(const model::ModelSpec& spec,
                                  const tokenizer::Tokenizer& tokenizer) {
  if (!spec.eos_token_ids.empty()) return spec.eos_token_ids;
  if (auto eos = tokenizer.eos_token_id()) return {*eos};
  return {};
}

}  // namespace

EngineCore::EngineCore(model::ModelRunner& runner, const tokenizer::Tokenizer& tokenizer,
                       const config::EngineConfig& config)
    : runner_(&runner),
      tokenizer_(&tokenizer),
      config_(config),
      plan_(plan_kv_cache(runner.spec(), validated(config),
                          dtype_size_bytes(runner.backend().compute_dtype()),
                          kv_cache_budget(runner, validated(config)))),
      eos_token_ids_(eos_ids(runner.spec(), tokenizer)),
      blocks_(plan_.num_blocks, plan_.block_size, config.enable_prefix_caching),
      scheduler_({config.max_num_seqs, config.max_num_batched_tokens}, blocks_),
      sampler_(runner.spec().vocab_size, eos_token_ids_),
      inbox_(std::make_shared<EngineInbox>()) {
  runner_->allocate_kv_cache(plan_.num_blocks, plan_.block_size);
  if (!config_.enforce_eager) {
    runner_->record_decode_steps(config_.max_num_batched_tokens, config_.max_num_seqs,
                                 plan_.max_model_len);
    if (runner_->num_recordings() > 0) {
      spdlog::info("recorded decode steps for {} batch sizes (--enforce-eager runs them op by op)",
                   runner_->num_recordings());
    }
  }
  if (runner.backend().samples_on_device()) {
    device_rows_.emplace(runner.spec().vocab_size, eos_token_ids_);
  }
  publish_stats();
}

EngineCore::~EngineCore() { shutdown(); }

RequestHandle EngineCore::submit(EngineRequest request) {
  const model::ModelSpec& spec = runner_->spec();
  validate(request.params, spec.vocab_size);
  if (request.prompt_ids.empty()) throw InvalidParameter("prompt", "the prompt is empty");
  for (auto id : request.prompt_ids) {
    if (id < 0 || id >= spec.vocab_size) {
      throw InvalidParameter("prompt", "prompt token id {} is outside the vocabulary [0, {})", id,
                             spec.vocab_size);
    }
  }
  const auto total =
      static_cast<std::int64_t>(request.prompt_ids.size()) + request.params.max_tokens;
  if (total > plan_.max_model_len) {
    throw InvalidParameter(
        "max_tokens",
        "prompt ({} tokens) + max_tokens ({}) = {} exceeds the maximum context length of {}",
        request.prompt_ids.size(), request.params.max_tokens, total, plan_.max_model_len);
  }
  if (request.params.n > config_.max_num_seqs) {
    throw InvalidParameter("n", "n = {} exceeds --max-num-seqs {}", request.params.n,
                           config_.max_num_seqs);
  }
  auto stream = std::make_shared<RequestStream>(next_request_id_++, inbox_);
  inbox_->push(QueuedRequest{std::move(request), stream, Clock::now()});
  return RequestHandle(std::move(stream));
}

bool EngineCore::wait_for_work(std::stop_token stop) { return inbox_->wait(std::move(stop)); }

bool EngineCore::has_unfinished() const { return scheduler_.has_unfinished(); }

bool EngineCore::step() {
  take_inbox();
  scheduler_.remove_finished();  // what the aborts just ended must not be scheduled
  bool ran = false;
  if (scheduler_.has_unfinished()) {
    const SchedulerOutput& scheduled = scheduler_.schedule();
    if (!scheduled.empty()) ran = run_step(scheduled);
  }
  post_outputs();
  return ran;
}

void EngineCore::take_inbox() {
  std::vector<QueuedRequest> requests;
  std::vector<QueuedAbort> aborts;
  inbox_->drain(requests, aborts);
  for (auto& queued : requests) {
    try {
      add_request(std::move(queued.request), queued.stream, queued.arrival);
    } catch (const std::exception& e) {  // e.g. out of memory: this request fails, not the engine
      RequestOutput failed;
      failed.finished = true;
      failed.error = fmt::format("request could not be added: {}", e.what());
      queued.stream->post(std::move(failed));
    }
  }
  for (const auto& abort : aborts) {
    if (auto it = requests_.find(abort.id); it != requests_.end()) {
      end_request(*it->second, abort.reason);
    }
  }
}

void EngineCore::add_request(EngineRequest&& request, std::shared_ptr<RequestStream> stream,
                             Clock::time_point arrival) {
  auto req = std::make_unique<Request>();
  req->id = stream->id();
  req->params = std::move(request.params);
  req->stream = std::move(stream);
  req->seed = req->params.seed ? *req->params.seed : std::random_device{}();
  const std::int32_t n = req->params.n;
  for (std::int32_t i = 0; i < n; ++i) {
    req->choices.push_back(
        {tokenizer::IncrementalDetokenizer(*tokenizer_, req->params.skip_special_tokens),
         StopChecker(req->params, eos_token_ids_)});
  }
  req->num_unfinished = n;
  req->usage.prompt_tokens = static_cast<std::int32_t>(request.prompt_ids.size());
  req->times.arrival = arrival;
  auto seq = std::make_unique<Sequence>(req.get(), 0, std::move(request.prompt_ids),
                                        choice_seed(req->seed, 0));
  seq->num_pending_forks = n - 1;
  Sequence* first = seq.get();
  req->sequences.push_back(std::move(seq));
  requests_.emplace(req->id, std::move(req));
  scheduler_.add(first);  // last: nothing above may leave the scheduler a dangling sequence
}

bool EngineCore::run_step(const SchedulerOutput& scheduled) {
  const auto start = Clock::now();
  for (const auto& s : scheduled.scheduled) {
    Request& req = s.sequence->request();
    if (!req.times.first_scheduled) {
      req.times.first_scheduled = start;
      req.usage.cached_prompt_tokens = s.sequence->num_computed_tokens;
      prompt_tokens_ += req.usage.prompt_tokens;
    }
  }
  build_batch(scheduled, plan_.block_size, batch_);
  ++num_steps_;
  const auto vocab = static_cast<std::size_t>(runner_->spec().vocab_size);
  backend::Tensor logits;
  try {
    logits = runner_->execute(batch_);
    if (!device_rows_) {
      logits_.resize(batch_.logits_rows.size() * vocab);
      runner_->backend().download(logits, logits_);
    }
  } catch (const std::exception& e) {
    fail_step(scheduled, e);
    return true;
  }

  rows_.clear();
  row_sequences_.clear();
  std::int32_t row = 0;
  for (const auto& [seq, num_new] : scheduled.scheduled) {
    seq->num_computed_tokens += num_new;
    blocks_.commit(seq->block_table, seq->tokens(), seq->num_computed_tokens);
    if (seq->num_uncomputed_tokens() > 0) continue;  // a prefill chunk short of the prompt's end
    const std::int32_t logits_row = row++;
    const std::span<const float> host_logits =
        device_rows_ ? std::span<const float>()
                     : std::span<const float>(logits_.data() + logits_row * vocab, vocab);
    auto add_row = [&](Sequence& s) {
      rows_.push_back({host_logits, &s.request().params, s.prompt_ids(), s.output_ids(), &s.rng,
                       logits_row});
      row_sequences_.push_back(&s);
    };
    add_row(*seq);
    if (seq->num_pending_forks > 0) {
      fork_choices(*seq);
      for (std::size_t i = 1; i < seq->request().sequences.size(); ++i) {
        add_row(*seq->request().sequences[i]);
      }
    }
  }
  samples_.resize(rows_.size());
  if (device_rows_) {
    device_samples_.resize(rows_.size());
    // The step's first wait. An error of its kernels that only surfaces here has left the
    // device context unusable (asynchronous CUDA errors are sticky), so the blocks committed
    // above cannot mislead a later step.
    try {
      runner_->backend().sample(logits, device_rows_->build(rows_), device_samples_);
    } catch (const std::exception& e) {
      fail_step(scheduled, e);
      return true;
    }
    device_rows_->finish(device_samples_, samples_);
  } else {
    sampler_.sample(rows_, samples_);
  }
  const auto now = Clock::now();
  for (std::size_t i = 0; i < rows_.size(); ++i) append_token(*row_sequences_[i], samples_[i], now);
  return true;
}

void EngineCore::fail_step(const SchedulerOutput& scheduled, const std::exception& e) {
  // The cache may hold half a step: the requests of this step cannot continue, the others can.
  ++num_failed_steps_;
  spdlog::error("engine step {} failed: {}", num_steps_, e.what());
  for (const auto& s : scheduled.scheduled) {
    fail_request(s.sequence->request(), fmt::format("model step failed: {}", e.what()));
  }
}

void EngineCore::fork_choices(Sequence& parent) {
  Request& req = parent.request();
  for (std::int32_t i = 1; i < req.params.n; ++i) {
    auto child = std::make_unique<Sequence>(parent, i, blocks_.fork(parent.block_table),
                                            choice_seed(req.seed, i));
    scheduler_.add_running(child.get());
    req.sequences.push_back(std::move(child));
  }
  parent.num_pending_forks = 0;
}

void EngineCore::append_token(Sequence& seq, const SampleResult& sample, Clock::time_point now) {
  Request& req = seq.request();
  if (seq.status == SequenceStatus::kFinished) return;  // its request failed earlier this step
  if (sample.error) {
    fail_request(req, *sample.error);
    return;
  }
  seq.append_token(sample.token);
  ++generation_tokens_;
  ++req.usage.completion_tokens;
  if (!req.times.first_token) req.times.first_token = now;
  ChoiceDelta& delta = req.delta(seq.index());
  delta.token_ids.push_back(sample.token);
  delta.token_times.push_back(now);
  if (req.params.logprobs) delta.logprobs.push_back({sample.token, sample.logprob, sample.top});
  auto& choice = req.choices[static_cast<std::size_t>(seq.index())];
  StopUpdate update = choice.stop_checker.append(
      sample.token, choice.detokenizer.push(sample.token), seq.num_output_tokens());
  delta.text += update.text;
  if (update.finish) {
    if (*update.finish == FinishReason::kLength) delta.text += choice.detokenizer.flush();
    finish_sequence(seq, *update.finish, std::move(update.stop_reason));
  }
  touch(req);
}

void EngineCore::finish_sequence(Sequence& seq, FinishReason reason, StopReason stop_reason) {
  seq.status = SequenceStatus::kFinished;
  seq.finish_reason = reason;
  blocks_.free(seq.block_table);
  finish_choice(seq.request(), seq.index(), reason, std::move(stop_reason));
}

void EngineCore::finish_choice(Request& req, std::int32_t index, FinishReason reason,
                               StopReason stop_reason) {
  req.choices[static_cast<std::size_t>(index)].finished = true;
  ChoiceDelta& delta = req.delta(index);
  delta.finish_reason = reason;
  delta.stop_reason = std::move(stop_reason);
  if (--req.num_unfinished == 0) {
    req.pending.finished = true;
    req.times.finished = Clock::now();
  }
  touch(req);
}

void EngineCore::touch(Request& req) {
  if (!req.touched) {
    req.touched = true;
    touched_.push_back(&req);
  }
}

void EngineCore::end_request(Request& req, FinishReason reason) {
  for (std::size_t i = 0; i < req.choices.size(); ++i) {
    auto& choice = req.choices[i];
    if (choice.finished) continue;
    const auto index = static_cast<std::int32_t>(i);
    if (i < req.sequences.size()) {
      // What was held back as a possible stop string is released: it was not one.
      req.delta(index).text += choice.stop_checker.flush() + choice.detokenizer.flush();
      finish_sequence(*req.sequences[i], reason);
    } else {  // a choice never forked: it ends without a token
      finish_choice(req, index, reason, {});
    }
  }
}

void EngineCore::fail_request(Request& req, const std::string& message) {
  if (req.num_unfinished == 0) return;
  req.pending.error = message;
  end_request(req, FinishReason::kError);
}

void EngineCore::post_outputs() {
  scheduler_.remove_finished();
  // Stats before outputs: a client that has read its last token finds it counted on /metrics.
  publish_stats();
  for (Request* req : touched_) {
    req->pending.usage = req->usage;
    req->pending.times = req->times;
    req->stream->post(std::move(req->pending));
    req->pending = RequestOutput{};
    req->touched = false;
  }
  // Erased only once every output is out, so touched_ never points at an erased request.
  for (Request* req : touched_) {
    if (req->num_unfinished == 0) requests_.erase(req->id);
  }
  touched_.clear();
}

void EngineCore::shutdown() {
  inbox_->close();
  abort_all();
}

void EngineCore::abort_all() {
  take_inbox();
  for (auto& [id, req] : requests_) end_request(*req, FinishReason::kAbort);
  post_outputs();
}

void EngineCore::publish_stats() {
  EngineStats s;
  s.num_running = scheduler_.num_running();
  s.num_waiting = scheduler_.num_waiting();
  s.num_blocks = blocks_.num_blocks();
  s.block_size = blocks_.block_size();
  s.num_used_blocks = blocks_.num_used_blocks();
  s.num_cached_blocks = blocks_.num_cached_blocks();
  s.num_steps = num_steps_;
  s.num_preemptions = scheduler_.num_preemptions();
  s.prefix_cache_queries = blocks_.prefix_cache_queries();
  s.prefix_cache_hits = blocks_.prefix_cache_hits();
  s.prompt_tokens = prompt_tokens_;
  s.generation_tokens = generation_tokens_;
  s.num_failed_steps = num_failed_steps_;
  std::lock_guard lock(stats_mutex_);
  stats_ = s;
}

EngineStats EngineCore::stats() const {
  std::lock_guard lock(stats_mutex_);
  return stats_;
}

}  // namespace llmserve::engine
