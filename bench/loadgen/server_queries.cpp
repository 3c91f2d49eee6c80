#include "server_queries.h"

#include <fmt/format.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <charconv>
#include <chrono>
#include <nlohmann/json.hpp>
#include <stdexcept>

#include "connection.h"

namespace llmserve::loadgen {

std::string first_model_id(const Target& target) {
  boost::asio::io_context io;
  Connection connection(io.get_executor());
  auto reply = boost::asio::co_spawn(
      io, connection.get(target, "/v1/models", Clock::now() + std::chrono::seconds(10)),
      boost::asio::use_future);
  io.run();
  const Reply models = reply.get();
  if (models.status != 200) {
    throw std::runtime_error(
        fmt::format("GET /v1/models on {}:{} failed ({}); give --model", target.host, target.port,
                    models.status == 0 ? models.error : fmt::format("HTTP {}", models.status)));
  }
  const auto json = nlohmann::json::parse(models.body, nullptr, false);
  if (!json.is_object() || !json.contains("data") || !json["data"].is_array() ||
      json["data"].empty() || !json["data"][0].contains("id") ||
      !json["data"][0]["id"].is_string()) {
    throw std::runtime_error("GET /v1/models listed no model id; give --model");
  }
  return json["data"][0]["id"].get<std::string>();
}

std::optional<double> find_gauge(std::string_view text, std::string_view name) {
  while (!text.empty()) {
    const auto end = text.find('\n');
    std::string_view line = text.substr(0, end);
    text = end == std::string_view::npos ? std::string_view() : text.substr(end + 1);
    if (!line.starts_with(name)) continue;
    line.remove_prefix(name.size());
    if (line.starts_with('{')) {
      const auto close = line.find('}');
      if (close == std::string_view::npos) continue;
      line.remove_prefix(close + 1);
    }
    if (!line.starts_with(' ')) continue;  // a longer name sharing the prefix
    const auto value_start = line.find_first_not_of(' ');
    if (value_start == std::string_view::npos) continue;
    line.remove_prefix(value_start);
    double value = 0;
    const auto [ptr, ec] = std::from_chars(line.data(), line.data() + line.size(), value);
    if (ec == std::errc()) return value;
  }
  return std::nullopt;
}

}  // namespace llmserve::loadgen
