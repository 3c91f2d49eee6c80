#pragma once
// Incremental reader of a text/event-stream body (the WHATWG server-sent-events format): bytes go
// in as they arrive, whole events' data come out. Tolerant as a browser is (CRLF or LF, comments,
// other fields ignored), because the load generator must work against any OpenAI-compatible
// server, not only ours; strictness is the integration tests' job.
#include <string>
#include <string_view>
#include <vector>

namespace llmserve::loadgen {

class SseReader {
 public:
  // Appends `bytes`; returns the data of every event completed by them, in order.
  std::vector<std::string> feed(std::string_view bytes);

 private:
  void take_line(std::string_view line, std::vector<std::string>& events);

  std::string pending_;  // an unfinished line
  std::string data_;     // the data lines of the event being read
  bool has_data_ = false;
  bool after_cr_ = false;  // the last byte was '\r': a following '\n' belongs to it
};

}  // namespace llmserve::loadgen
