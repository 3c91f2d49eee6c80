// `llmserve serve --device cuda` on the tiny checkpoints: it starts and reports its backend and KV
// cache, answers /health and /models, and greedy /generate gives 16 tokens that the model really
// prefers, judged by the CPU backend: every generated token must be within kNearTie (0.1) of the
// CPU's most likely token at its position, teacher-forced on the tokens before it. That allows
// bf16 near-ties (a few hundredths, see test_cuda_model.cpp) and rejects a wrong model, whose
// tokens sit far below the top. /generate returns text, not token ids, so the ids are recovered
// by a search over the CPU's near-greedy tokens for a sequence whose detokenization, as the
// engine streams it, is exactly the returned text. Skips without a CUDA device.
#include <gtest/gtest.h>
#include <signal.h>

#include <algorithm>
#include <filesystem>
#include <functional>
#include <optional>
#include <regex>
#include <string>
#include <tuple>
#include <vector>

#include "../integration/http_client.h"
#include "../integration/server_process.h"
#include "cpu_reference.h"
#include "llmserve/backend/backend_factory.h"
#include "llmserve/tokenizer/incremental_detokenizer.h"
#include "llmserve/tokenizer/tokenizer.h"

namespace llmserve::testing {
namespace {

constexpr double kNearTie = 0.1;
constexpr std::int32_t kMaxTokens = 16;
const std::string kPrompt = "The quick brown fox";

// Depth first over the CPU's near-greedy tokens (within kNearTie of its most likely, teacher-forced
// on the prompt and the tokens chosen so far), keeping only tokens after which the text streamed
// so far is still a prefix of `text`; the first `count` tokens whose whole text, flushed, is
// exactly `text` are the answer. Each step usually leaves one candidate; `budget` bounds the
// forward passes should near-ties pile up.
class GeneratedIdsSearch {
 public:
  GeneratedIdsSearch(CpuReference& reference, const tokenizer::Tokenizer& tokenizer,
                     std::vector<std::int32_t> prompt, std::string text, std::int32_t count)
      : reference_(reference),
        tokenizer_(tokenizer),
        ids_(std::move(prompt)),
        prompt_len_(ids_.size()),
        text_(std::move(text)),
        count_(count) {}

  std::optional<std::vector<std::int32_t>> run() {
    // Skipping special tokens, as the engine does by default (skip_special_tokens).
    if (!extend(tokenizer::IncrementalDetokenizer(tokenizer_, true), "")) return std::nullopt;
    return std::vector<std::int32_t>(ids_.begin() + static_cast<std::ptrdiff_t>(prompt_len_),
                                     ids_.end());
  }
  int forward_passes() const { return forward_passes_; }

 private:
  bool extend(const tokenizer::IncrementalDetokenizer& detokenizer, const std::string& streamed) {
    if (ids_.size() - prompt_len_ == static_cast<std::size_t>(count_)) {
      tokenizer::IncrementalDetokenizer rest = detokenizer;
      return streamed + rest.flush() == text_;
    }
    if (forward_passes_ >= kBudget) return false;
    ++forward_passes_;
    const auto logprobs =
        reference_.next_token_logprobs(ids_, {static_cast<std::int32_t>(ids_.size()) - 1})[0];
    const double best = *std::max_element(logprobs.begin(), logprobs.end());
    std::vector<std::int32_t> candidates;
    for (std::size_t id = 0; id < logprobs.size(); ++id) {
      if (logprobs[id] >= best - kNearTie) candidates.push_back(static_cast<std::int32_t>(id));
    }
    std::sort(candidates.begin(), candidates.end(),
              [&](std::int32_t a, std::int32_t b) { return logprobs[a] > logprobs[b]; });
    for (std::int32_t id : candidates) {
      tokenizer::IncrementalDetokenizer next = detokenizer;
      const std::string more = streamed + next.push(id);
      if (text_.compare(0, more.size(), more) != 0) continue;
      ids_.push_back(id);
      if (extend(next, more)) return true;
      ids_.pop_back();
    }
    return false;
  }

  static constexpr int kBudget = 400;
  CpuReference& reference_;
  const tokenizer::Tokenizer& tokenizer_;
  std::vector<std::int32_t> ids_;
  std::size_t prompt_len_;
  std::string text_;
  std::int32_t count_;
  int forward_passes_ = 0;
};

std::string fixture(const std::string& name) {
  return (std::filesystem::path(LLMSERVE_FIXTURES_DIR) / name).string();
}

class CudaServe : public ::testing::TestWithParam<std::tuple<const char*, const char*>> {};

TEST_P(CudaServe, GreedyGenerateIsTheModelsChoice) {
  if (backend::cuda_device_count() == 0) GTEST_SKIP() << "no CUDA device present";
  const auto [model, dtype] = GetParam();
  const std::string dir = fixture(model);
  ServerProcess server(LLMSERVE_BINARY, {"--model", dir, "--device", "cuda", "--dtype", dtype});
  const std::string expected_dtype = std::string(dtype) == "float16" ? "F16" : "BF16";

  // The startup line: "serving DIR (ARCH, BF16 on cuda) as 'NAME' in S s: KV cache N blocks x B
  // tokens = ..., max_model_len L; listening on http://HOST:PORT".
  const std::string startup = server.log();
  EXPECT_NE(startup.find(expected_dtype + " on cuda)"), std::string::npos) << startup;
  std::smatch match;
  ASSERT_TRUE(std::regex_search(startup, match, std::regex("KV cache ([0-9]+) blocks x ([0-9]+)")))
      << startup;
  const int kv_blocks = std::stoi(match[1].str());
  EXPECT_GT(kv_blocks, 0) << startup;

  const auto health = http_request(server.port(), "GET", "/health");
  EXPECT_EQ(health.status, 200u);
  EXPECT_EQ(health.json()["status"], "ok");
  const auto models = http_request(server.port(), "GET", "/models");
  ASSERT_EQ(models.status, 200u) << models.body;
  const auto entry = models.json()["data"][0];
  EXPECT_EQ(entry["backend"], "cuda");
  EXPECT_EQ(entry["dtype"], expected_dtype);
  EXPECT_EQ(entry["kv_cache"]["blocks"], kv_blocks);

  const nlohmann::json request = {
      {"prompt", kPrompt}, {"max_tokens", kMaxTokens}, {"temperature", 0}, {"ignore_eos", true}};
  const auto response = http_request(server.port(), "POST", "/generate", request.dump());
  ASSERT_EQ(response.status, 200u) << response.body;
  const auto body = response.json();
  EXPECT_EQ(body["finish_reason"], "length");
  EXPECT_EQ(body["usage"]["completion_tokens"], kMaxTokens);
  const auto tokenizer = tokenizer::Tokenizer::from_directory(dir);
  const auto prompt_ids = tokenizer.encode(kPrompt);
  EXPECT_EQ(body["usage"]["prompt_tokens"], prompt_ids.size());
  const std::string text = body["text"].get<std::string>();
  RecordProperty("text", text);

  CpuReference reference(dir);
  GeneratedIdsSearch search(reference, tokenizer, prompt_ids, text, kMaxTokens);
  const auto ids = search.run();
  ASSERT_TRUE(ids.has_value()) << "no " << kMaxTokens << " tokens, each within " << kNearTie
                               << " of the CPU's most likely, stream as \"" << text << "\" ("
                               << search.forward_passes() << " CPU forward passes searched)";
  std::string joined;
  for (auto id : *ids) joined += std::to_string(id) + " ";
  RecordProperty("token_ids", joined);

  const int code = server.stop(SIGTERM);
  EXPECT_EQ(code, 0) << server.log();
}

INSTANTIATE_TEST_SUITE_P(TinyCheckpoints, CudaServe,
                         ::testing::Values(std::make_tuple("gpt2-f32", "bfloat16"),
                                           std::make_tuple("qwen2-bf16-sharded", "float16"),
                                           std::make_tuple("llama-f32", "bfloat16")),
                         [](const auto& param) {
                           std::string name = std::string(std::get<0>(param.param)) + "_" +
                                              std::get<1>(param.param);
                           std::replace(name.begin(), name.end(), '-', '_');
                           return name;
                         });

}  // namespace
}  // namespace llmserve::testing
