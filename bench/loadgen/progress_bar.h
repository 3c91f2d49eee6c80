#pragma once
// One line on the terminal, redrawn as requests finish: how far the run is and how it goes.
// Silent when stderr is not a terminal (CI logs, redirections).
#include <cstdint>
#include <string>

#include "request_record.h"

namespace llmserve::loadgen {

class ProgressBar {
 public:
  ProgressBar(std::string label, std::int64_t total, bool enabled);
  ~ProgressBar();  // ends the line

  void finished(Outcome outcome);

 private:
  void draw();

  std::string label_;
  std::int64_t total_;
  bool enabled_;
  std::int64_t done_ = 0, ok_ = 0, rejected_ = 0, errors_ = 0;
  Clock::time_point start_ = Clock::now();
  Clock::time_point last_draw_{};
};

// Whether a progress bar should be drawn: stderr is a terminal.
bool stderr_is_terminal();

}  // namespace llmserve::loadgen
