#pragma once
// The server under load: where it is, which dialect it speaks, how to authenticate.
#include <string>
#include <string_view>

#include "api_protocol.h"

namespace llmserve::loadgen {

struct Target {
  std::string host;
  std::string port;
  std::string base_path;  // prepended to every request path; empty or "/..." without a final '/'
  Api api = Api::kNative;
  std::string model;    // OpenAI's "model"; empty: the first of GET /v1/models
  std::string api_key;  // sent as "Authorization: Bearer KEY" when not empty
};

// Fills host, port and base_path from "http://HOST[:PORT][/PATH]" (default port 80). Plain HTTP
// only: a benchmark client measures the server, not TLS. Throws std::invalid_argument with the
// reason for anything else.
void set_base_url(Target& target, std::string_view url);

}  // namespace llmserve::loadgen
