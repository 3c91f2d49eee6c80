#include "llmserve/common/logging.h"

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include "llmserve/common/error.h"

namespace llmserve {

void setup_logging(std::string_view level) {
  const auto parsed = spdlog::level::from_str(std::string(level));
  // from_str maps unknown names to "off"; only accept "off" when it was asked for.
  if (parsed == spdlog::level::off && level != "off") {
    throw Error(
        "--log-level must be one of trace, debug, info, warn, error, critical, off; got \"{}\"",
        level);
  }
  auto logger = spdlog::stderr_color_mt("llmserve");
  logger->set_pattern("%Y-%m-%d %H:%M:%S.%e %^%l%$ %v");
  logger->set_level(parsed);
  spdlog::set_default_logger(std::move(logger));
}

}  // namespace llmserve
