#include <iostream>
#include <iterator>
#include <nlohmann/json.hpp>

#include "commands.h"
#include "llmserve/tokenizer/tokenizer.h"

namespace llmserve::commands {

int run(const config::TokenizeOptions& options) {
  const auto tokenizer = tokenizer::Tokenizer::from_directory(options.common.model_dir);
  const std::string text{std::istreambuf_iterator<char>(std::cin),
                         std::istreambuf_iterator<char>()};
  // As Hugging Face's tokenizer(text, add_special_tokens=False): special tokens written in the
  // text are recognised, none is added.
  std::cout << nlohmann::json{{"ids", tokenizer.encode(text)}}.dump() << '\n';
  return 0;
}

}  // namespace llmserve::commands
