#pragma once
// Process-wide spdlog setup: one stderr logger, level from --log-level.
#include <string_view>

namespace llmserve {

// Accepts trace, debug, info, warn, error, critical, off; throws llmserve::Error otherwise.
void setup_logging(std::string_view level);

}  // namespace llmserve
