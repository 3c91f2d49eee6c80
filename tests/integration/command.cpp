#include "command.h"

#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace llmserve::testing {

CommandResult run_command(const std::string& command, const std::string& stdin_text) {
  namespace fs = std::filesystem;
  static std::atomic<int> counter{0};
  const std::string tag = std::to_string(::getpid()) + "_" + std::to_string(counter++);
  const fs::path in = fs::temp_directory_path() / ("llmserve_cmd_in_" + tag);
  const fs::path err = fs::temp_directory_path() / ("llmserve_cmd_err_" + tag);
  std::ofstream(in) << stdin_text;
  const std::string line = command + " <" + in.string() + " 2>" + err.string();
  CommandResult result;
  std::FILE* pipe = ::popen(line.c_str(), "r");
  if (pipe == nullptr) {
    fs::remove(in);
    result.err = "popen failed: " + line;
    return result;
  }
  std::array<char, 4096> buf;
  while (std::size_t n = std::fread(buf.data(), 1, buf.size(), pipe)) {
    result.out.append(buf.data(), n);
  }
  const int status = ::pclose(pipe);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  std::ostringstream err_text;
  err_text << std::ifstream(err).rdbuf();
  result.err = err_text.str();
  fs::remove(in);
  fs::remove(err);
  return result;
}

}  // namespace llmserve::testing
