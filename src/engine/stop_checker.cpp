#include "llmserve/engine/stop_checker.h"

#include <algorithm>
#include <utility>

namespace llmserve::engine {
namespace {

// Knuth-Morris-Pratt prefix function: border[i] is the longest proper border of text[0, i].
std::vector<std::int32_t> borders_of(const std::string& text) {
  std::vector<std::int32_t> border(text.size(), 0);
  for (std::size_t i = 1; i < text.size(); ++i) {
    auto k = static_cast<std::size_t>(border[i - 1]);
    while (k > 0 && text[i] != text[k]) k = static_cast<std::size_t>(border[k - 1]);
    if (text[i] == text[k]) ++k;
    border[i] = static_cast<std::int32_t>(k);
  }
  return border;
}

bool contains(const std::vector<std::int32_t>& ids, std::int32_t id) {
  return std::find(ids.begin(), ids.end(), id) != ids.end();
}

}  // namespace

StopChecker::StopChecker(const SamplingParams& params, std::vector<std::int32_t> eos_token_ids)
    : stop_token_ids_(params.stop_token_ids),
      min_tokens_(params.min_tokens),
      max_tokens_(params.max_tokens) {
  if (!params.ignore_eos) eos_token_ids_ = std::move(eos_token_ids);
  for (const auto& stop : params.stop) {
    // validate() rejects an empty stop string; it would match everywhere.
    if (!stop.empty()) stop_strings_.push_back({stop, borders_of(stop), 0});
  }
}

StopUpdate StopChecker::append(std::int32_t token, std::string_view text,
                               std::int32_t num_output_tokens) {
  const bool check = num_output_tokens >= min_tokens_;
  if (check && (contains(eos_token_ids_, token) || contains(stop_token_ids_, token))) {
    return finish_on_token(token);
  }
  const auto from = held_.size();
  held_.append(text);
  if (const auto match = scan(from, check)) {
    held_.resize(match->start);  // drops the stop string and whatever followed it
    return {release_all(), FinishReason::kStop, stop_strings_[match->stop_index].text};
  }
  if (num_output_tokens >= max_tokens_) return {release_all(), FinishReason::kLength, {}};
  return {release(held_.size() - held_back_size()), std::nullopt, {}};
}

std::string StopChecker::flush() { return release_all(); }

std::optional<StopChecker::StopMatch> StopChecker::scan(std::size_t from, bool check) {
  std::optional<StopMatch> earliest;
  for (std::size_t index = 0; index < stop_strings_.size(); ++index) {
    auto& stop = stop_strings_[index];
    const auto size = stop.text.size();
    for (std::size_t i = from; i < held_.size(); ++i) {
      auto matched = static_cast<std::size_t>(stop.matched);
      while (matched > 0 && stop.text[matched] != held_[i]) {
        matched = static_cast<std::size_t>(stop.border[matched - 1]);
      }
      if (stop.text[matched] == held_[i]) ++matched;
      if (matched == size) {
        if (check) {
          const auto start = i + 1 - size;
          if (!earliest || start < earliest->start) earliest = StopMatch{start, index};
          break;
        }
        // Unchecked tokens: keep scanning as if the match had not completed.
        matched = static_cast<std::size_t>(stop.border[size - 1]);
      }
      stop.matched = static_cast<std::int32_t>(matched);
    }
  }
  return earliest;
}

// Between calls every stop string's match is partial, so its length is what may still grow
// into a stop string; held_ never needs more than the longest.
std::size_t StopChecker::held_back_size() const {
  std::size_t size = 0;
  for (const auto& stop : stop_strings_)
    size = std::max(size, static_cast<std::size_t>(stop.matched));
  return size;
}

std::string StopChecker::release(std::size_t size) {
  std::string released = held_.substr(0, size);
  held_.erase(0, size);
  return released;
}

std::string StopChecker::release_all() {
  for (auto& stop : stop_strings_) stop.matched = 0;
  return std::exchange(held_, {});
}

StopUpdate StopChecker::finish_on_token(std::int32_t token) {
  return {release_all(), FinishReason::kStop, token};
}

}  // namespace llmserve::engine
