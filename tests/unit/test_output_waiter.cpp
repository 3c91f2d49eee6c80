// The bridge from the engine thread to a session's strand: outputs wake the waiting coroutine,
// a deadline ends the wait, and a request that outlives its waiter and the io_context (aborted
// just before the server shut down) is finished by the engine without touching either.
#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/this_coro.hpp>
#include <chrono>

#include "engine_harness.h"
#include "llmserve/engine/engine.h"
#include "output_waiter.h"

namespace llmserve::server {
namespace {

namespace asio = boost::asio;
using engine::Clock;

class OutputWaiterTest : public ::testing::Test, public engine::testing::EngineTestBase {
 public:
  OutputWaiterTest() : EngineTestBase("gpt2-f32") { config.kv_cache_memory = kv_bytes(16, 16); }
  engine::EngineRequest request(std::int32_t max_tokens) {
    return {{464, 2068, 7586, 21831}, greedy(max_tokens)};
  }
  config::EngineConfig config;
};

// Two requests of one call (two prompts): every output arrives tagged with its request, until
// both have finished.
TEST_F(OutputWaiterTest, EngineOutputsWakeTheCoroutineUntilEveryRequestEnds) {
  engine::Engine engine(*runner, *tokenizer, config);
  asio::io_context io;
  std::size_t tokens[2] = {0, 0};
  int finished = 0;
  asio::co_spawn(
      asio::make_strand(io),
      [&]() -> asio::awaitable<void> {
        std::vector<engine::RequestHandle> handles{engine.submit(request(12)),
                                                   engine.submit(request(5))};
        OutputWaiter waiter(co_await asio::this_coro::executor, std::move(handles));
        const auto far = Clock::now() + std::chrono::seconds(60);
        while (finished < 2) {
          auto tagged = co_await waiter.next(far);
          if (!tagged) break;  // the deadline: fails below
          for (const auto& choice : tagged->output.choices) {
            tokens[tagged->source] += choice.token_ids.size();
          }
          finished += tagged->output.finished ? 1 : 0;
        }
      },
      asio::detached);
  io.run();
  EXPECT_EQ(finished, 2);
  EXPECT_EQ(tokens[0], 12u);
  EXPECT_EQ(tokens[1], 5u);
}

TEST_F(OutputWaiterTest, DeadlineEndsTheWaitWithoutOutput) {
  engine::EngineCore core(*runner, *tokenizer, config);  // never stepped: no output comes
  asio::io_context io;
  bool timed_out = false;
  asio::co_spawn(
      asio::make_strand(io),
      [&]() -> asio::awaitable<void> {
        std::vector<engine::RequestHandle> handles{core.submit(request(4))};
        OutputWaiter waiter(co_await asio::this_coro::executor, std::move(handles));
        timed_out = !(co_await waiter.next(Clock::now() + std::chrono::milliseconds(20)));
      },
      asio::detached);
  io.run();
  EXPECT_TRUE(timed_out);
}

// Under AddressSanitizer this was a use-after-free of the strand when the notification still
// held the session's executor.
TEST_F(OutputWaiterTest, RequestMayOutliveTheWaiterAndTheIoContext) {
  engine::EngineCore core(*runner, *tokenizer, config);
  std::optional<engine::RequestHandle> handle;
  {
    asio::io_context io;
    OutputWaiter waiter(asio::make_strand(io), {core.submit(request(8))});
    handle = waiter.handles().front();
    ASSERT_TRUE(core.step());  // the prompt: blocks held, a notification posted to the strand
    EXPECT_GT(core.block_manager().num_used_blocks(), 0);
    waiter.abort();
  }
  while (core.step()) {
  }
  EXPECT_EQ(core.block_manager().num_used_blocks(), 0);
  auto last = handle->poll();
  ASSERT_TRUE(last.has_value());
  EXPECT_TRUE(last->finished);
  EXPECT_EQ(last->choices.front().finish_reason, engine::FinishReason::kAbort);
}

}  // namespace
}  // namespace llmserve::server
