#include <fmt/format.h>

#include <array>
#include <iostream>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "commands.h"
#include "llmserve/backend/backend_factory.h"
#include "llmserve/common/dtype.h"
#include "llmserve/common/error.h"
#include "llmserve/engine/kv_cache_plan.h"
#include "llmserve/model/model_spec.h"

namespace llmserve::commands {
namespace {

struct NamedDType {
  std::string_view name;  // --dtype's spelling
  DType dtype;
};
constexpr std::array<NamedDType, 3> kDTypes = {
    {{"float32", DType::kF32}, {"bfloat16", DType::kBF16}, {"float16", DType::kF16}}};

// auto plans in the dtype the backend the budget is meant for computes in: the CUDA backend
// keeps weights and KV in bf16, the CPU backend in fp32.
NamedDType plan_dtype(const config::KvPlanOptions& options) {
  std::string_view name = options.dtype;  // not a ?: with a std::string arm: a dangling temporary
  if (name == "auto") name = options.gpu_memory_utilization ? "bfloat16" : "float32";
  for (const auto& entry : kDTypes) {
    if (entry.name == name) return entry;
  }
  throw Error("--dtype must be auto, float32, bfloat16 or float16, got \"{}\"", options.dtype);
}

struct Budget {
  std::int64_t memory_bytes = 0;
  std::optional<std::int64_t> device_total_bytes;  // with --gpu-memory-utilization
};

Budget memory_budget(const config::KvPlanOptions& options) {
  if (options.memory_bytes) return {*options.memory_bytes, std::nullopt};
  const auto total = backend::cuda_device_total_memory(0);
  if (!total) {
    throw Error("no CUDA device here: give --memory BYTES instead of --gpu-memory-utilization");
  }
  return {static_cast<std::int64_t>(*options.gpu_memory_utilization * static_cast<double>(*total)),
          total};
}

std::string with_gib(std::int64_t bytes) {
  return fmt::format("{} bytes ({:.2f} GiB)", bytes,
                     static_cast<double>(bytes) / static_cast<double>(std::int64_t{1} << 30));
}

void print_table(const config::KvPlanOptions& options, const model::ModelSpec& spec,
                 const NamedDType& dtype, const Budget& budget, const engine::MemoryPlan& plan) {
  std::string memory = with_gib(plan.memory_bytes) + " for weights + KV cache";
  if (budget.device_total_bytes) {
    memory += fmt::format(", {} x CUDA device 0's {}", *options.gpu_memory_utilization,
                          with_gib(*budget.device_total_bytes));
  }
  fmt::print(
      "model           {} ({})\n"
      "layers          {}, {} KV heads x {} head dim, {} positions\n"
      "dtype           {} ({} bytes)\n"
      "parameters      {}\n"
      "weights         {}\n"
      "memory          {}\n"
      "KV budget       {}\n"
      "KV bytes/token  {}\n"
      "block size      {} tokens ({} bytes)\n"
      "blocks          {} ({} tokens)\n\n",
      options.common.model_dir.string(), spec.architecture_name, spec.num_layers, spec.num_kv_heads,
      spec.head_dim, spec.max_position_embeddings, dtype.name, dtype_size_bytes(dtype.dtype),
      plan.num_parameters, with_gib(plan.weights_bytes), memory, with_gib(plan.kv_budget_bytes),
      plan.kv_bytes_per_token, plan.block_size, plan.kv_bytes_per_block, plan.num_blocks,
      plan.num_tokens());
  fmt::print("{:>8}  {:>10}  {:>8}\n", "context", "blocks/seq", "max seqs");
  for (const auto& context : plan.contexts) {
    const std::string note =
        context.beyond_max_position_embeddings
            ? fmt::format("  beyond the model's {} positions", spec.max_position_embeddings)
            : "";
    fmt::print("{:>8}  {:>10}  {:>8}{}\n", context.context_len, context.blocks_per_seq,
               context.max_num_seqs, note);
  }
}

nlohmann::ordered_json to_json(const config::KvPlanOptions& options, const model::ModelSpec& spec,
                               const NamedDType& dtype, const Budget& budget,
                               const engine::MemoryPlan& plan) {
  nlohmann::ordered_json out = {
      {"model", options.common.model_dir.string()},
      {"architecture", spec.architecture_name},
      {"num_layers", spec.num_layers},
      {"num_kv_heads", spec.num_kv_heads},
      {"head_dim", spec.head_dim},
      {"max_position_embeddings", spec.max_position_embeddings},
      {"dtype", dtype.name},
      {"dtype_bytes", dtype_size_bytes(dtype.dtype)},
      {"num_parameters", plan.num_parameters},
      {"weights_bytes", plan.weights_bytes},
      {"memory_bytes", plan.memory_bytes},
  };
  if (budget.device_total_bytes) {
    out["gpu_memory_utilization"] = *options.gpu_memory_utilization;
    out["device_total_memory_bytes"] = *budget.device_total_bytes;
  }
  out["kv_budget_bytes"] = plan.kv_budget_bytes;
  out["kv_bytes_per_token"] = plan.kv_bytes_per_token;
  out["block_size"] = plan.block_size;
  out["kv_bytes_per_block"] = plan.kv_bytes_per_block;
  out["num_blocks"] = plan.num_blocks;
  out["num_tokens"] = plan.num_tokens();
  auto& contexts = out["contexts"] = nlohmann::ordered_json::array();
  for (const auto& context : plan.contexts) {
    contexts.push_back(
        {{"context_len", context.context_len},
         {"blocks_per_seq", context.blocks_per_seq},
         {"max_num_seqs", context.max_num_seqs},
         {"beyond_max_position_embeddings", context.beyond_max_position_embeddings}});
  }
  return out;
}

}  // namespace

int run(const config::KvPlanOptions& options) {
  const auto spec = model::load_model_spec(options.common.model_dir);
  const NamedDType dtype = plan_dtype(options);
  const Budget budget = memory_budget(options);
  const auto plan = engine::plan_memory(spec, dtype_size_bytes(dtype.dtype), options.block_size,
                                        budget.memory_bytes, options.context_lens);
  if (options.json) {
    std::cout << to_json(options, spec, dtype, budget, plan).dump(2) << '\n';
  } else {
    print_table(options, spec, dtype, budget, plan);
  }
  return 0;
}

}  // namespace llmserve::commands
