#include "reference_runner.h"

#include <fmt/format.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>
#include <stdexcept>

namespace llmserve::testing {

std::vector<std::vector<std::vector<float>>> reference_logprobs(
    const std::filesystem::path& model_dir, const std::vector<std::vector<std::int32_t>>& sequences,
    std::int32_t vocab_size) {
  const auto tmp = std::filesystem::temp_directory_path();
  const auto tag = fmt::format("llmserve_ref_{}_{}", ::getpid(), std::rand());
  const auto input = tmp / (tag + ".json");
  const auto output = tmp / (tag + ".bin");
  std::ofstream(input) << nlohmann::json{{"sequences", sequences}}.dump();
  const auto command = fmt::format(
      "{} {}/tests/reference/reference_model.py --model {} --input {} "
      "--output {} --logprobs",
      LLMSERVE_PYTHON, LLMSERVE_SOURCE_DIR, model_dir.string(), input.string(), output.string());
  if (std::system(command.c_str()) != 0) throw std::runtime_error("reference failed: " + command);

  std::ifstream in(output, std::ios::binary);
  std::vector<std::vector<std::vector<float>>> result;
  for (const auto& seq : sequences) {
    auto& rows =
        result.emplace_back(seq.size(), std::vector<float>(static_cast<std::size_t>(vocab_size)));
    for (auto& row : rows)
      in.read(reinterpret_cast<char*>(row.data()), static_cast<std::streamsize>(row.size() * 4));
  }
  if (!in) throw std::runtime_error("reference output too short: " + output.string());
  std::filesystem::remove(input);
  std::filesystem::remove(output);
  return result;
}

}  // namespace llmserve::testing
