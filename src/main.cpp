// llmserve: subcommand dispatch only (DESIGN.md section 8).
#include <fmt/format.h>

#include <exception>
#include <iostream>
#include <variant>

#include "commands/commands.h"
#include "llmserve/common/logging.h"
#include "llmserve/config/cli.h"

namespace {

template <typename... Ts>
struct Overloaded : Ts... {
  using Ts::operator()...;
};

}  // namespace

int main(int argc, char** argv) {
  using namespace llmserve;
  const config::Command command = config::parse_command_line(argc, argv);
  try {
    return std::visit(Overloaded{
                          [](const config::Exit& exit) { return exit.exit_code; },
                          [](const auto& options) {
                            setup_logging(options.common.log_level);
                            return commands::run(options);
                          },
                      },
                      command);
  } catch (const std::exception& e) {
    std::cerr << fmt::format("llmserve: error: {}\n", e.what());
    return 1;
  }
}
