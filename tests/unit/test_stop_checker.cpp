#include <gtest/gtest.h>

#include <random>

#include "llmserve/engine/stop_checker.h"

namespace llmserve::engine {
namespace {

constexpr std::int32_t kEos = 2;
constexpr std::int32_t kText = 100;  // any ordinary token

SamplingParams with_stop(std::vector<std::string> stop, std::int32_t max_tokens = 100) {
  SamplingParams params;
  params.stop = std::move(stop);
  params.max_tokens = max_tokens;
  return params;
}

// Feeds text tokens until one finishes the sequence; returns all released text and the last
// update.
struct Transcript {
  std::string released;
  StopUpdate last;
  std::int32_t tokens = 0;
};

Transcript feed(StopChecker& checker, const std::vector<std::string>& pieces) {
  Transcript run;
  for (const auto& piece : pieces) {
    run.last = checker.append(kText, piece, ++run.tokens);
    run.released += run.last.text;
    if (run.last.finish) break;
  }
  return run;
}

TEST(StopChecker, StopStringSplitAcrossTwoTokensIsFoundAndNotReturned) {
  StopChecker checker(with_stop({"STOP"}), {kEos});
  const auto first = checker.append(kText, "abc ST", 1);
  EXPECT_EQ(first.text, "abc ");  // "ST" may begin the stop string
  EXPECT_FALSE(first.finish);
  const auto second = checker.append(kText, "OP def", 2);
  EXPECT_EQ(second.text, "");
  EXPECT_EQ(second.finish, FinishReason::kStop);
  EXPECT_EQ(second.stop_reason, StopReason(std::string("STOP")));
}

TEST(StopChecker, StopStringSplitAcrossThreeTokens) {
  StopChecker checker(with_stop({"<|end|>"}), {kEos});
  const auto run = feed(checker, {"hello <", "|en", "d|", ">tail"});
  EXPECT_EQ(run.released, "hello ");
  EXPECT_EQ(run.tokens, 4);
  EXPECT_EQ(run.last.finish, FinishReason::kStop);
  EXPECT_EQ(run.last.stop_reason, StopReason(std::string("<|end|>")));
}

TEST(StopChecker, HeldBackTextIsReleasedOnceItCannotBeAStop) {
  StopChecker checker(with_stop({"STOP"}), {kEos});
  EXPECT_EQ(checker.append(kText, "abc ST", 1).text, "abc ");
  EXPECT_EQ(checker.append(kText, "S", 2).text, "ST");  // "STS": only the last "S" may begin it
  const auto update = checker.append(kText, "ART", 3);
  EXPECT_EQ(update.text, "SART");
  EXPECT_FALSE(update.finish);
}

TEST(StopChecker, EarliestStartingStopStringWins) {
  StopChecker checker(with_stop({"world", "lo w"}), {kEos});
  const auto update = checker.append(kText, "hello world", 1);
  EXPECT_EQ(update.text, "hel");
  EXPECT_EQ(update.stop_reason, StopReason(std::string("lo w")));
  for (const auto& [stop, expected] :
       {std::pair{std::vector<std::string>{"ab", "abc"}, "ab"}, {{"abc", "ab"}, "abc"}}) {
    StopChecker tied(with_stop(stop), {kEos});  // same start: the first listed
    const auto tie = tied.append(kText, "xabcx", 1);
    EXPECT_EQ(tie.text, "x");
    EXPECT_EQ(tie.stop_reason, StopReason(std::string(expected)));
  }
}

TEST(StopChecker, EosStopsUnlessIgnoredAndItsTextIsNotReleased) {
  StopChecker checker(with_stop({"STOP"}), {kEos});
  EXPECT_EQ(checker.append(kText, "a S", 1).text, "a ");
  const auto update = checker.append(kEos, "</s>", 2);
  EXPECT_EQ(update.finish, FinishReason::kStop);
  EXPECT_EQ(update.stop_reason, StopReason(kEos));
  EXPECT_EQ(update.text, "S");  // held back, now final

  auto params = with_stop({});
  params.ignore_eos = true;
  StopChecker ignoring(params, {kEos});
  const auto ignored = ignoring.append(kEos, "</s>", 1);
  EXPECT_FALSE(ignored.finish);
  EXPECT_EQ(ignored.text, "</s>");
}

TEST(StopChecker, StopTokenIdsStopEvenWithIgnoreEos) {
  auto params = with_stop({});
  params.stop_token_ids = {7, 8};
  params.ignore_eos = true;
  StopChecker checker(params, {kEos});
  EXPECT_FALSE(checker.append(kText, "x", 1).finish);
  const auto update = checker.append(8, "<stop>", 2);
  EXPECT_EQ(update.finish, FinishReason::kStop);
  EXPECT_EQ(update.stop_reason, StopReason(std::int32_t{8}));
  EXPECT_EQ(update.text, "");
}

TEST(StopChecker, MinTokensDelaysEveryStop) {
  auto params = with_stop({"STOP"});
  params.min_tokens = 4;
  params.stop_token_ids = {7};
  StopChecker checker(params, {kEos});
  EXPECT_FALSE(checker.append(kEos, "", 1).finish);
  EXPECT_FALSE(checker.append(7, "", 2).finish);
  const auto inside = checker.append(kText, "a STOP b ST", 3);  // wholly before min_tokens
  EXPECT_FALSE(inside.finish);
  EXPECT_EQ(inside.text, "a STOP b ");
  const auto update = checker.append(kText, "OP", 4);  // ends in a checked token
  EXPECT_EQ(update.finish, FinishReason::kStop);
  EXPECT_EQ(update.text, "");

  StopChecker eos_later(params, {kEos});
  EXPECT_FALSE(eos_later.append(kText, "x", 3).finish);
  EXPECT_EQ(eos_later.append(kEos, "", 4).stop_reason, StopReason(kEos));
}

TEST(StopChecker, MaxTokensGivesLengthAndReleasesHeldBackText) {
  StopChecker checker(with_stop({"STOP"}, 2), {kEos});
  EXPECT_EQ(checker.append(kText, "ab", 1).text, "ab");
  const auto update = checker.append(kText, "c ST", 2);
  EXPECT_EQ(update.finish, FinishReason::kLength);
  EXPECT_EQ(update.text, "c ST");
  EXPECT_TRUE(std::holds_alternative<std::monostate>(update.stop_reason));
}

TEST(StopChecker, FlushReturnsHeldBackTextOnce) {
  StopChecker checker(with_stop({"STOP"}), {kEos});
  EXPECT_EQ(checker.append(kText, "abc STO", 1).text, "abc ");
  EXPECT_EQ(checker.flush(), "STO");
  EXPECT_EQ(checker.flush(), "");
  EXPECT_EQ(checker.append(kText, "P", 2).text, "P");  // the flushed prefix is gone
}

// Independent reference: after each token, the first checked token whose text completes an
// occurrence of a stop string stops the sequence; the cut is the earliest occurrence ending in
// that token.
struct Expected {
  std::string released;
  std::optional<std::string> stop;
};

Expected reference(const std::vector<std::string>& pieces, const std::vector<std::string>& stops,
                   std::size_t min_tokens) {
  std::string text;
  for (std::size_t k = 0; k < pieces.size(); ++k) {
    const auto before = text.size();
    text += pieces[k];
    if (k + 1 < min_tokens) continue;
    std::optional<std::pair<std::size_t, std::string>> first;
    for (const auto& stop : stops) {
      const auto from = before + 1 >= stop.size() ? before + 1 - stop.size() : 0;
      const auto at = text.find(stop, from);
      if (at != std::string::npos && (!first || at < first->first)) first = {at, stop};
    }
    if (first) return {text.substr(0, first->first), first->second};
  }
  return {text, std::nullopt};
}

// The longest suffix of `text` that is a proper prefix of a stop string: what must be held.
std::size_t must_hold(const std::string& text, const std::vector<std::string>& stops) {
  std::size_t hold = 0;
  for (const auto& stop : stops) {
    for (std::size_t n = std::min(text.size(), stop.size() - 1); n > hold; --n) {
      if (text.compare(text.size() - n, n, stop, 0, n) == 0) {
        hold = n;
        break;
      }
    }
  }
  return hold;
}

// Feeds `pieces` as tokens and compares everything released, the hold-back after each token and
// the outcome with the reference. Returns whether a stop string stopped the sequence.
bool expect_reference(const std::vector<std::string>& stops, const std::vector<std::string>& pieces,
                      std::size_t min_tokens) {
  auto params = with_stop(stops);
  params.min_tokens = static_cast<std::int32_t>(min_tokens);
  StopChecker checker(params, {kEos});
  Transcript run;
  std::string text;
  for (const auto& piece : pieces) {
    text += piece;
    run.last = checker.append(kText, piece, ++run.tokens);
    run.released += run.last.text;
    if (run.last.finish) break;
    EXPECT_EQ(text.size() - run.released.size(), must_hold(text, stops)) << text;
  }
  if (!run.last.finish) run.released += checker.flush();
  const auto expected = reference(pieces, stops, min_tokens);
  EXPECT_EQ(run.released, expected.released) << text;
  if (min_tokens == 0) {
    for (const auto& stop : stops) EXPECT_EQ(run.released.find(stop), std::string::npos) << text;
  }
  if (expected.stop) {
    EXPECT_EQ(run.last.finish, FinishReason::kStop) << text;
    EXPECT_EQ(run.last.stop_reason, StopReason(*expected.stop)) << text;
  } else {
    EXPECT_FALSE(run.last.finish) << text;
  }
  return expected.stop.has_value();
}

TEST(StopChecker, RandomTextMatchesTheReference) {
  std::mt19937 rng(23);
  int letters = 3;  // two letters make periodic stop strings, which exercise partial matches
  auto random_string = [&](std::size_t min, std::size_t max) {
    std::string s(std::uniform_int_distribution<std::size_t>(min, max)(rng), ' ');
    for (auto& c : s) c = "abc"[std::uniform_int_distribution<int>(0, letters - 1)(rng)];
    return s;
  };
  int stopped = 0;
  for (int trial = 0; trial < 3000 && !HasFailure(); ++trial) {
    letters = 2 + trial % 2;
    std::vector<std::string> stops;
    for (int i = std::uniform_int_distribution<int>(1, 3)(rng); i > 0; --i) {
      stops.push_back(random_string(1, 8));
    }
    std::vector<std::string> pieces;
    for (int i = std::uniform_int_distribution<int>(1, 16)(rng); i > 0; --i) {
      pieces.push_back(random_string(0, 5));
    }
    stopped +=
        expect_reference(stops, pieces, std::uniform_int_distribution<std::size_t>(0, 4)(rng));
  }
  EXPECT_GT(stopped, 1000);  // both outcomes well represented
  EXPECT_LT(stopped, 2900);
}

// Stop strings with nested borders (a partial match that fails must fall back to a shorter
// one, not to nothing), against every two-letter text of 11 characters cut into 1-3 letter
// tokens.
TEST(StopChecker, PeriodicStopStringsOnEveryShortText) {
  const std::vector<std::vector<std::string>> stop_sets = {{"aabaaaa", "abab"},
                                                           {"aabaaaab", "bbabbbb"}};
  std::mt19937 rng(29);
  for (const auto& stops : stop_sets) {
    for (unsigned bits = 0; bits < (1u << 11) && !HasFailure(); ++bits) {
      std::string text;
      for (int i = 0; i < 11; ++i) text += (bits >> i) & 1 ? 'b' : 'a';
      std::vector<std::string> pieces;
      for (std::size_t at = 0; at < text.size();) {
        const auto size = std::uniform_int_distribution<std::size_t>(1, 3)(rng);
        pieces.push_back(text.substr(at, size));
        at += size;
      }
      expect_reference(stops, pieces, 0);
    }
  }
}

}  // namespace
}  // namespace llmserve::engine
