#include "llmserve/api/sse.h"

namespace llmserve::api {

std::string sse_event(const nlohmann::json& data) {
  std::string event = "data: ";
  event += data.dump(-1, ' ', /*ensure_ascii=*/false, nlohmann::json::error_handler_t::replace);
  event += "\n\n";
  return event;
}

}  // namespace llmserve::api
