#include "target.h"

#include <fmt/format.h>

#include <boost/url/parse.hpp>
#include <stdexcept>

namespace llmserve::loadgen {

void set_base_url(Target& target, std::string_view url) {
  const auto parsed = boost::urls::parse_absolute_uri(url);
  if (!parsed) {
    throw std::invalid_argument(
        fmt::format("--base-url {}: not a URL ({})", url, parsed.error().message()));
  }
  if (parsed->scheme() != "http") {
    throw std::invalid_argument(
        fmt::format("--base-url {}: only http:// is supported, not {}://", url, parsed->scheme()));
  }
  if (parsed->host_address().empty() || parsed->has_query() || parsed->has_fragment() ||
      parsed->has_userinfo()) {
    throw std::invalid_argument(
        fmt::format("--base-url {}: give http://HOST[:PORT][/PATH] and nothing else", url));
  }
  target.host = parsed->host_address();
  target.port = parsed->has_port() ? std::string(parsed->port()) : "80";
  target.base_path = parsed->path();
  while (!target.base_path.empty() && target.base_path.back() == '/') target.base_path.pop_back();
}

}  // namespace llmserve::loadgen
