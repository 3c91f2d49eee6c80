#include "llmserve/api/api_error.h"

#include <utility>

namespace llmserve::api {
namespace {

struct ErrorKind {
  int status;
  const char* type;
  const char* code;  // nullptr: no code
};

// Types follow OpenAI's and Anthropic's names; a status not listed falls back by class below.
constexpr ErrorKind kErrorKinds[] = {
    {400, "invalid_request_error", nullptr},
    {401, "authentication_error", "invalid_api_key"},
    {404, "not_found_error", nullptr},
    {405, "invalid_request_error", "method_not_allowed"},
    {413, "invalid_request_error", "request_too_large"},
    {429, "rate_limit_error", "rate_limit_exceeded"},
    {500, "server_error", nullptr},
    {503, "service_unavailable_error", nullptr},
    {504, "timeout_error", "request_timeout"},
};

}  // namespace

ApiError make_error(int status, std::string message, std::optional<std::string> param) {
  ApiError error{status, std::move(message),
                 status >= 500 ? "server_error" : "invalid_request_error", std::move(param),
                 std::nullopt};
  for (const auto& kind : kErrorKinds) {
    if (kind.status != status) continue;
    error.type = kind.type;
    if (kind.code != nullptr) error.code = kind.code;
    break;
  }
  return error;
}

nlohmann::json to_json(const ApiError& error) {
  nlohmann::json body = {
      {"message", error.message}, {"type", error.type}, {"param", nullptr}, {"code", nullptr}};
  if (error.param) body["param"] = *error.param;
  if (error.code) body["code"] = *error.code;
  return {{"error", std::move(body)}};
}

}  // namespace llmserve::api
