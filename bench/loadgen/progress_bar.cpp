#include "progress_bar.h"

#include <fmt/format.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>

namespace llmserve::loadgen {

bool stderr_is_terminal() { return isatty(STDERR_FILENO) == 1; }

ProgressBar::ProgressBar(std::string label, std::int64_t total, bool enabled)
    : label_(std::move(label)), total_(total), enabled_(enabled) {
  draw();
}

ProgressBar::~ProgressBar() {
  if (!enabled_) return;
  draw();
  fmt::print(stderr, "\n");
}

void ProgressBar::finished(Outcome outcome) {
  ++done_;
  ok_ += outcome == Outcome::kOk;
  rejected_ += outcome == Outcome::kRejected;
  errors_ += outcome != Outcome::kOk && outcome != Outcome::kRejected;
  // Redrawing costs a write per request: at most ten a second, and always the last one.
  if (Clock::now() - last_draw_ >= std::chrono::milliseconds(100) || done_ == total_) draw();
}

void ProgressBar::draw() {
  if (!enabled_) return;
  constexpr int kWidth = 30;
  const int filled = total_ > 0 ? static_cast<int>(kWidth * done_ / total_) : kWidth;
  const double elapsed = std::chrono::duration<double>(Clock::now() - start_).count();
  fmt::print(stderr, "\r{} [{:=<{}}{:<{}}] {}/{}  {:.1f} s  ok {}  429 {}  errors {}\x1b[K", label_,
             "", filled, "", kWidth - filled, done_, total_, elapsed, ok_, rejected_, errors_);
  std::fflush(stderr);
  last_draw_ = Clock::now();
}

}  // namespace llmserve::loadgen
