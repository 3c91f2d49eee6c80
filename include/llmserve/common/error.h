#pragma once
// llmserve reports every expected failure (bad input, corrupt file, unsupported model) as an
// Error whose message names what was wrong and where; callers at the edge (CLI, HTTP) turn it
// into an exit code or a JSON error. Programming errors stay asserts.
#include <fmt/format.h>

#include <stdexcept>
#include <string>

namespace llmserve {

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& message) : std::runtime_error(message) {}

  template <typename... Args>
  explicit Error(fmt::format_string<Args...> format, Args&&... args)
      : std::runtime_error(fmt::format(format, std::forward<Args>(args)...)) {}
};

}  // namespace llmserve
