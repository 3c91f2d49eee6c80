// The real llmserve binary: exit codes and one-line errors for bad usage and bad models,
// `generate --json` checked token by token against the independent reference, and kv-plan's
// numbers for a real model's config.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>

#include "../model/reference_runner.h"
#include "../unit/real_model_configs.h"
#include "../unit/temp_dir.h"
#include "command.h"
#include "llmserve/backend/backend_factory.h"

namespace {

namespace fs = std::filesystem;

using llmserve::testing::CommandResult;

CommandResult run(const std::string& args, const std::string& stdin_text = "") {
  return llmserve::testing::run_command(std::string(LLMSERVE_BINARY) + " " + args, stdin_text);
}

std::string fixture(const char* name) { return (fs::path(LLMSERVE_FIXTURES_DIR) / name).string(); }

// Exit code 2 and one line on stderr.
void expect_usage_error(const std::string& args) {
  const auto r = run(args);
  EXPECT_EQ(r.exit_code, 2) << args << "\n" << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << args << "\n" << r.err;
}

TEST(Cli, UsageErrorsExitTwoWithOneLine) {
  for (const std::string& args : std::vector<std::string>{
           "generate --no-such-flag", "generate --model", "frobnicate",
           "generate --max-tokens 0 --prompt hi", "generate --prompt a --prompt-ids 1,2",
           "serve --port 70000", "--http-threads 0", "serve --queue-timeout -1",
           "generate --model " + fixture("gpt2-f32"), "generate --prompt-ids 1,x",
           "generate --prompt hi --temperature nan", "generate --prompt hi --temperature -1",
           "generate --prompt hi --max-num-seqs 16 --max-num-batched-tokens 8",
           "generate --prompt hi --kv-cache-memory lots", "generate --prompt hi --dtype fp8",
           "serve --gpu-memory-utilization 0", "serve --gpu-memory-utilization 1.5"}) {
    expect_usage_error(args);
  }
}

TEST(Cli, RuntimeErrorsExitOne) {
  auto r = run("generate --model /nonexistent/dir --prompt hi");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("/nonexistent/dir"), std::string::npos) << r.err;
  r = run("tokenize --model /nonexistent/dir");
  EXPECT_EQ(r.exit_code, 1);
  // A prompt id outside the vocabulary and a prompt longer than the context are request errors.
  r = run("generate --model " + fixture("gpt2-f32") + " --prompt-ids 1,99999999 --log-level off");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("outside the vocabulary"), std::string::npos) << r.err;
  r = run("generate --model " + fixture("gpt2-f32") +
          " --prompt-ids 1 --max-tokens 500 --log-level off");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("exceeds the maximum context length of 128"), std::string::npos) << r.err;
}

// Device and dtype combinations that cannot run are refused before any weight is loaded.
TEST(Cli, DeviceAndDtypeErrorsExitOne) {
  const std::string generate = "generate --model " + fixture("gpt2-f32") + " --prompt hi ";
  auto r = run(generate + "--device cpu --dtype bfloat16");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("the cpu backend computes in float32"), std::string::npos) << r.err;
  r = run(generate + "--device cpu --dtype float32 --max-tokens 2 --log-level off");
  EXPECT_EQ(r.exit_code, 0) << r.err;
  if (llmserve::backend::cuda_device_count() == 0) {
    r = run(generate + "--device cuda");
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_NE(r.err.find("--device cuda: "), std::string::npos) << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
    // auto falls back to the CPU, whose dtype is float32.
    r = run(generate + "--max-tokens 2 --log-level off");
    EXPECT_EQ(r.exit_code, 0) << r.err;
  } else {
    r = run(generate + "--device cuda --dtype float32");
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_NE(r.err.find("the cuda backend computes in bfloat16 or float16"), std::string::npos)
        << r.err;
  }
}

TEST(Cli, CorruptCheckpointExitsOneNamingTheFile) {
  const auto dir =
      fs::temp_directory_path() / ("llmserve_cli_corrupt_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::copy(fixture("gpt2-f32"), dir);
  fs::resize_file(dir / "model.safetensors", 1000);
  const auto r = run("generate --model " + dir.string() + " --prompt hi");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("model.safetensors"), std::string::npos) << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  fs::remove_all(dir);
}

TEST(Cli, Tokenize) {
  const auto r = run("tokenize --model " + fixture("gpt2-f32"), "Hello world<|endoftext|>");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(nlohmann::json::parse(r.out)["ids"], nlohmann::json({15496, 995, 50256}));
}

// Greedy generate --json on both architectures: every generated token is the reference's argmax
// after the tokens before it, and the reported top-K logprobs match the reference's.
TEST(Cli, GenerateJsonMatchesReference) {
  for (const char* name : {"gpt2-f32", "qwen2-f32"}) {
    const auto r = run("generate --model " + fixture(name) +
                       " --prompt 'The quick brown fox' --max-tokens 12 --ignore-eos --logprobs 3"
                       " --json --log-level off");
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const auto out = nlohmann::json::parse(r.out);
    const auto prompt = out["prompt_token_ids"].get<std::vector<std::int32_t>>();
    const auto generated = out["token_ids"].get<std::vector<std::int32_t>>();
    ASSERT_EQ(generated.size(), 12u);
    EXPECT_EQ(out["finish_reason"], "length");
    EXPECT_TRUE(out["text"].is_string());
    std::vector<std::int32_t> all = prompt;
    all.insert(all.end(), generated.begin(), generated.end());
    const std::int32_t vocab = name[0] == 'g' ? 50257 : 151936;
    const auto ref = llmserve::testing::reference_logprobs(fixture(name), {all}, vocab)[0];
    for (std::size_t i = 0; i < generated.size(); ++i) {
      const auto& row = ref[prompt.size() - 1 + i];
      const auto& top = out["logprobs"][i];
      ASSERT_EQ(top.size(), 3u);
      EXPECT_EQ(top[0]["id"], generated[i]) << name << " step " << i;
      const float best = *std::max_element(row.begin(), row.end());
      EXPECT_NEAR(row[static_cast<std::size_t>(generated[i])], best, 1e-4) << name << " step " << i;
      for (const auto& entry : top) {
        EXPECT_NEAR(entry["logprob"].get<double>(), row[entry["id"].get<std::size_t>()], 1e-4);
      }
    }
  }
}

// The streamed text (incremental detokenizer) is exactly the decode of the generated ids.
TEST(Cli, StreamedTextEqualsJsonText) {
  for (const char* name : {"gpt2-f32", "qwen2-f32"}) {
    const std::string args =
        "generate --model " + fixture(name) +
        " --prompt 'Hello 你好 🍕' --max-tokens 24 --ignore-eos --log-level off";
    const auto streamed = run(args);
    const auto json = run(args + " --json");
    ASSERT_EQ(streamed.exit_code, 0) << streamed.err;
    ASSERT_EQ(json.exit_code, 0) << json.err;
    EXPECT_EQ(streamed.out, nlohmann::json::parse(json.out)["text"].get<std::string>() + "\n")
        << name;
  }
}

// --prompts-file batches every prompt (cycled to --num-prompts) through one engine; each greedy
// completion equals the same prompt generated on its own.
TEST(Cli, PromptsFileBatchesAndMatchesSingleRuns) {
  const auto file =
      fs::temp_directory_path() / ("llmserve_cli_prompts_" + std::to_string(::getpid()));
  {
    std::FILE* f = std::fopen(file.c_str(), "w");
    std::fputs("The quick brown fox\n\nHello world, again and again\nA\n", f);
    std::fclose(f);
  }
  const std::string common = "generate --model " + fixture("gpt2-f32") +
                             " --max-tokens 9 --ignore-eos --json --log-level off";
  const auto batch = run(common + " --prompts-file " + file.string() +
                         " --num-prompts 5 --max-num-seqs 4 --max-num-batched-tokens 8");
  ASSERT_EQ(batch.exit_code, 0) << batch.err;
  std::vector<nlohmann::json> lines;
  std::size_t start = 0;
  for (std::size_t end; (end = batch.out.find('\n', start)) != std::string::npos; start = end + 1)
    lines.push_back(nlohmann::json::parse(batch.out.substr(start, end - start)));
  ASSERT_EQ(lines.size(), 5u);
  const char* prompts[] = {"The quick brown fox", "Hello world, again and again", "A"};
  for (std::size_t i = 0; i < lines.size(); ++i) {
    EXPECT_EQ(lines[i]["prompt_index"], i);
    const auto single = run(common + " --prompt '" + prompts[i % 3] + "'");
    ASSERT_EQ(single.exit_code, 0) << single.err;
    EXPECT_EQ(lines[i]["token_ids"], nlohmann::json::parse(single.out)["token_ids"]) << i;
  }
  fs::remove(file);
}

// kv-plan reads only config.json: the real Qwen2.5-1.5B-Instruct one, and the numbers
// test_kv_cache_plan works out by hand for it.
class KvPlan : public ::testing::Test {
 protected:
  KvPlan() {
    llmserve::testing::write_model_config(dir_.path(), llmserve::testing::kQwen25_1_5BConfig);
  }
  CommandResult kv_plan(const std::string& args) {
    return run("kv-plan --model " + dir_.path().string() + " " + args);
  }

  llmserve::testing::TempDir dir_{"llmserve-cli-kv-plan"};
};

// Neither or both budgets, and out-of-range values.
TEST(Cli, KvPlanUsageErrorsExitTwo) {
  for (const std::string& args : std::vector<std::string>{
           "kv-plan", "kv-plan --memory 16GiB --gpu-memory-utilization 0.9",
           "kv-plan --gpu-memory-utilization 0", "kv-plan --gpu-memory-utilization 1.5",
           "kv-plan --gpu-memory-utilization nan", "kv-plan --memory 0", "kv-plan --memory lots",
           "kv-plan --memory 1GiB --context 0,512", "kv-plan --memory 1GiB --block-size 0",
           "kv-plan --memory 1GiB --dtype int8"}) {
    expect_usage_error(args);
  }
}

TEST_F(KvPlan, Json) {
  const auto r = kv_plan("--memory 16GiB --dtype bfloat16 --json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto out = nlohmann::json::parse(r.out);
  EXPECT_EQ(out["architecture"], "Qwen2ForCausalLM");
  EXPECT_EQ(out["dtype"], "bfloat16");
  EXPECT_EQ(out["num_parameters"], 1'543'714'304);
  EXPECT_EQ(out["weights_bytes"], 3'087'428'608);
  EXPECT_EQ(out["memory_bytes"], 17'179'869'184);
  EXPECT_EQ(out["kv_budget_bytes"], 14'092'440'576);
  EXPECT_EQ(out["kv_bytes_per_token"], 28'672);
  EXPECT_EQ(out["block_size"], 16);
  EXPECT_EQ(out["kv_bytes_per_block"], 458'752);
  EXPECT_EQ(out["num_blocks"], 30'719);
  EXPECT_EQ(out["num_tokens"], 491'504);
  EXPECT_EQ(out["contexts"], nlohmann::json::parse(R"([
      {"context_len": 512, "blocks_per_seq": 32, "max_num_seqs": 959,
       "beyond_max_position_embeddings": false},
      {"context_len": 2048, "blocks_per_seq": 128, "max_num_seqs": 239,
       "beyond_max_position_embeddings": false},
      {"context_len": 8192, "blocks_per_seq": 512, "max_num_seqs": 59,
       "beyond_max_position_embeddings": false},
      {"context_len": 32768, "blocks_per_seq": 2048, "max_num_seqs": 14,
       "beyond_max_position_embeddings": false}])"));
}

// The table holds the same numbers; --context replaces the default lengths; a --memory budget
// plans in the CPU backend's float32 unless --dtype says otherwise.
TEST_F(KvPlan, TableAndDefaults) {
  auto r = kv_plan("--memory 16GiB --dtype bfloat16 --context 32768,40000");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("3087428608 bytes (2.88 GiB)"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("30719 (491504 tokens)"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("   32768        2048        14\n"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("   40000        2500        12  beyond the model's 32768 positions\n"),
            std::string::npos)
      << r.out;
  EXPECT_EQ(r.out.find("  512 "), std::string::npos) << r.out;

  r = kv_plan("--memory 16GiB --json");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto out = nlohmann::json::parse(r.out);
  EXPECT_EQ(out["dtype"], "float32");
  EXPECT_EQ(out["weights_bytes"], 6'174'857'216);  // 1,543,714,304 x 4
}

TEST_F(KvPlan, RuntimeErrorsExitOne) {
  auto r = kv_plan("--memory 2GiB --dtype bfloat16");  // the weights take 2.88 GiB
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("weights alone"), std::string::npos) << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;

  r = kv_plan("--gpu-memory-utilization 0.5 --json");
  if (const auto total = llmserve::backend::cuda_device_total_memory(0)) {
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const auto out = nlohmann::json::parse(r.out);
    EXPECT_EQ(out["memory_bytes"], static_cast<std::int64_t>(0.5 * static_cast<double>(*total)));
    EXPECT_EQ(out["dtype"], "bfloat16");  // what the CUDA backend computes in
  } else {
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_NE(r.err.find("no CUDA device here: give --memory"), std::string::npos) << r.err;
  }

  r = run("kv-plan --model /nonexistent/dir --memory 16GiB");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("/nonexistent/dir"), std::string::npos) << r.err;
}

}  // namespace
