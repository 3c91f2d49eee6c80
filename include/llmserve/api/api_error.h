#pragma once
// The one error object every HTTP route answers with (DESIGN.md section 6):
// {"error": {"message", "type", "param", "code"}}, the OpenAI shape, so OpenAI clients surface
// our messages. The status decides type and code (one table in api_error.cpp); the helpers below
// are that table by name. Messages are valid UTF-8 by construction (they quote only request
// fields that the JSON parser has already validated), so dumping the JSON never throws.
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

namespace llmserve::api {

struct ApiError {
  int status = 400;
  std::string message;
  std::string type;                  // invalid_request_error, authentication_error ...
  std::optional<std::string> param;  // the request field at fault, as the client spelled it
  std::optional<std::string> code;   // machine-readable detail: invalid_api_key ...
};

// Type and code come from the status: 400 invalid_request_error, 401 authentication_error
// (invalid_api_key), 404 not_found_error, 405 invalid_request_error (method_not_allowed),
// 413 invalid_request_error (request_too_large), 429 rate_limit_error (rate_limit_exceeded),
// 500 server_error, 503 service_unavailable_error, 504 timeout_error (request_timeout).
ApiError make_error(int status, std::string message,
                    std::optional<std::string> param = std::nullopt);

inline ApiError bad_request(std::string message, std::optional<std::string> param = std::nullopt) {
  return make_error(400, std::move(message), std::move(param));
}
inline ApiError unauthorized(std::string message) { return make_error(401, std::move(message)); }
inline ApiError not_found(std::string message) { return make_error(404, std::move(message)); }
inline ApiError method_not_allowed(std::string message) {
  return make_error(405, std::move(message));
}
inline ApiError payload_too_large(std::string message,
                                  std::optional<std::string> param = std::nullopt) {
  return make_error(413, std::move(message), std::move(param));
}
inline ApiError too_many_requests(std::string message) {
  return make_error(429, std::move(message));
}
inline ApiError internal_error(std::string message) { return make_error(500, std::move(message)); }
inline ApiError service_unavailable(std::string message) {
  return make_error(503, std::move(message));
}
inline ApiError gateway_timeout(std::string message) { return make_error(504, std::move(message)); }

// {"error": {"message", "type", "param", "code"}}; absent param / code are null.
nlohmann::json to_json(const ApiError& error);

}  // namespace llmserve::api
