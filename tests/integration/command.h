#pragma once
// Runs a shell command line to completion, as a user would from a terminal, for tests of our
// executables.
#include <string>

namespace llmserve::testing {

struct CommandResult {
  int exit_code = -1;  // -1 when it did not exit normally
  std::string out;     // stdout
  std::string err;     // stderr
};

// Runs `command` with /bin/sh, `stdin_text` on its standard input.
CommandResult run_command(const std::string& command, const std::string& stdin_text = "");

}  // namespace llmserve::testing
