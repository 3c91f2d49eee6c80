#include "llmserve/engine/request_output.h"

#include <algorithm>
#include <iterator>
#include <utility>

namespace llmserve::engine {
namespace {

template <typename T>
void append(std::vector<T>& to, std::vector<T>&& from) {
  if (to.empty()) {
    to = std::move(from);
  } else {
    to.insert(to.end(), std::make_move_iterator(from.begin()), std::make_move_iterator(from.end()));
  }
}

}  // namespace

void ChoiceDelta::merge(ChoiceDelta&& later) {
  append(token_ids, std::move(later.token_ids));
  text += later.text;
  append(logprobs, std::move(later.logprobs));
  append(token_times, std::move(later.token_times));
  if (later.finish_reason) {
    finish_reason = later.finish_reason;
    stop_reason = std::move(later.stop_reason);
  }
}

void RequestOutput::merge(RequestOutput&& later) {
  for (auto& delta : later.choices) {
    auto same = std::find_if(choices.begin(), choices.end(),
                             [&](const ChoiceDelta& c) { return c.index == delta.index; });
    if (same == choices.end()) {
      choices.push_back(std::move(delta));
    } else {
      same->merge(std::move(delta));
    }
  }
  std::sort(choices.begin(), choices.end(),
            [](const ChoiceDelta& a, const ChoiceDelta& b) { return a.index < b.index; });
  finished = later.finished;
  if (later.error) error = std::move(later.error);
  usage = later.usage;
  times = later.times;
}

}  // namespace llmserve::engine
