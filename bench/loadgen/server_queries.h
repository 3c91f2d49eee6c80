#pragma once
// What the load generator asks a server besides completions: the served model's name and a
// gauge of its Prometheus /metrics.
#include <optional>
#include <string>
#include <string_view>

#include "target.h"

namespace llmserve::loadgen {

// The id of the first model of GET /v1/models. Throws std::runtime_error saying what failed.
std::string first_model_id(const Target& target);

// The value of the first series of metric `name` in Prometheus text exposition, if present
// ("name value" or "name{labels} value").
std::optional<double> find_gauge(std::string_view prometheus_text, std::string_view name);

}  // namespace llmserve::loadgen
