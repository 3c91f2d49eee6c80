#pragma once
// The lexical rules of the Prometheus text exposition format 0.0.4: which names are legal, how
// numbers are spelled and how label values and HELP texts are escaped. Internal to metrics/.
#include <string>
#include <string_view>

namespace llmserve::metrics {

bool is_valid_metric_name(std::string_view name);  // [a-zA-Z_:][a-zA-Z0-9_:]*
bool is_valid_label_name(std::string_view name);   // [a-zA-Z_][a-zA-Z0-9_]*

// Integral values (|v| < 2^63) as integers, other finite values in the shortest decimal that
// parses back to the same double (exponent form where shorter), then +Inf, -Inf, NaN.
std::string format_value(double value);

std::string escape_label_value(std::string_view value);  // \ " newline
std::string escape_help(std::string_view help);          // \ newline (quotes stay as they are)

}  // namespace llmserve::metrics
