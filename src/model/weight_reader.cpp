#include "weight_reader.h"

#include <fmt/ranges.h>

#include <array>

#include "llmserve/common/error.h"

namespace llmserve::model {
namespace {

// The real gpt2 checkpoint has bare names, GPT2LMHeadModel.state_dict() prefixes "transformer.",
// Qwen2/Llama exports prefix "model."; some tools strip it. Try the name as given and each
// alternative spelling.
constexpr std::array<std::string_view, 2> kPrefixes = {"transformer.", "model."};

std::vector<std::string> candidate_names(std::string_view name) {
  std::vector<std::string> names{std::string(name)};
  for (auto prefix : kPrefixes) {
    if (name.starts_with(prefix)) {
      names.emplace_back(name.substr(prefix.size()));
    } else {
      names.push_back(std::string(prefix) + std::string(name));
    }
  }
  return names;
}

}  // namespace

TensorView WeightReader::resolve(std::string_view name) const {
  const auto names = candidate_names(name);
  for (const auto& candidate : names) {
    if (auto view = checkpoint_.find(candidate)) return *view;
  }
  throw Error("model {}: missing tensor \"{}\" (also looked for {})", model_dir_, name,
              fmt::join(names.begin() + 1, names.end(), ", "));
}

std::vector<float> WeightReader::read(std::string_view name,
                                      const std::vector<std::int64_t>& shape) const {
  const TensorView view = resolve(name);
  if (view.info->shape != shape) {
    throw Error("model {}: tensor \"{}\" in {} has shape [{}], expected [{}]", model_dir_,
                view.info->name, view.file, fmt::join(view.info->shape, ", "),
                fmt::join(shape, ", "));
  }
  std::vector<float> values(static_cast<std::size_t>(view.info->num_elements()));
  convert_to_f32(view.info->dtype, view.data, values.size(), values.data());
  return values;
}

backend::Tensor WeightReader::upload(std::string_view name,
                                     const std::vector<std::int64_t>& shape) const {
  return backend_.upload(read(name, shape), shape);
}

backend::Tensor WeightReader::upload_transposed(std::string_view name, std::int64_t in,
                                                std::int64_t out) const {
  const auto values = read(name, {in, out});
  std::vector<float> transposed(values.size());
  for (std::int64_t i = 0; i < in; ++i) {
    for (std::int64_t o = 0; o < out; ++o) transposed[o * in + i] = values[i * out + o];
  }
  return backend_.upload(transposed, {out, in});
}

backend::Tensor WeightReader::upload_concat(
    const std::vector<std::string>& names,
    const std::vector<std::vector<std::int64_t>>& shapes) const {
  std::vector<float> values;
  std::int64_t rows = 0;
  for (std::size_t i = 0; i < names.size(); ++i) {
    const auto part = read(names[i], shapes[i]);
    values.insert(values.end(), part.begin(), part.end());
    rows += shapes[i].front();
  }
  std::vector<std::int64_t> shape = shapes.front();
  shape.front() = rows;
  return backend_.upload(values, shape);
}

}  // namespace llmserve::model
