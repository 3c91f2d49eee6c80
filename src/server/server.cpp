#include "llmserve/server/server.h"

#include <spdlog/spdlog.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <csignal>
#include <thread>

#include "llmserve/common/error.h"
#include "server_context.h"
#include "session.h"

namespace llmserve::server {

namespace asio = boost::asio;
using asio::ip::tcp;

struct Server::Impl {
  Impl(const config::ServerConfig& config, engine::Engine& engine,
       const tokenizer::Tokenizer& tokenizer, const ModelInfo& model)
      : ctx(config, engine, tokenizer, model),
        io(config.http_threads),
        acceptor(io),
        signals(io, SIGINT, SIGTERM) {}

  asio::awaitable<void> accept_loop() {
    while (true) {
      auto [ec, socket] = co_await acceptor.async_accept(asio::make_strand(io),
                                                         asio::as_tuple(asio::use_awaitable));
      if (ec == asio::error::operation_aborted || !acceptor.is_open()) co_return;
      if (ec) {  // e.g. out of file descriptors: keep serving the others
        spdlog::warn("accept: {}", ec.message());
        continue;
      }
      socket.set_option(tcp::no_delay(true));
      auto executor = socket.get_executor();
      asio::co_spawn(executor, run_session(std::move(socket), ctx), asio::detached);
    }
  }

  // Let requests in flight finish until the deadline, abort the rest, then stop.
  asio::awaitable<void> drain() {
    const auto deadline = std::chrono::steady_clock::now() + ctx.config.shutdown_timeout;
    asio::steady_timer tick(io);
    bool aborted = false;
    while (ctx.admission.in_flight() > 0) {
      if (!aborted && std::chrono::steady_clock::now() >= deadline) {
        spdlog::warn("shutdown timeout: aborting {} requests", ctx.admission.in_flight());
        ctx.active.abort_all();
        aborted = true;
      }
      tick.expires_after(std::chrono::milliseconds(10));
      co_await tick.async_wait(asio::use_awaitable);
    }
    boost::system::error_code ignored;
    acceptor.close(ignored);
    io.stop();
  }

  void begin_shutdown() {
    if (ctx.draining.exchange(true)) return;
    spdlog::info("shutting down: {} requests in flight", ctx.admission.in_flight());
    // The listener stays open while draining, so that health checks see 503 and new work gets
    // a clear 503 instead of a refused connection.
    boost::system::error_code ignored;
    signals.cancel(ignored);
    asio::co_spawn(io, drain(), asio::detached);
  }

  ServerContext ctx;
  asio::io_context io;
  tcp::acceptor acceptor;
  asio::signal_set signals;
};

Server::Server(const config::ServerConfig& config, engine::Engine& engine,
               const tokenizer::Tokenizer& tokenizer, const ModelInfo& model)
    : impl_(std::make_unique<Impl>(config, engine, tokenizer, model)) {
  boost::system::error_code ec;
  const auto address = asio::ip::make_address(config.host, ec);
  if (ec) throw Error("--host {}: {}", config.host, ec.message());
  const tcp::endpoint endpoint(address, config.port);
  auto& acceptor = impl_->acceptor;
  acceptor.open(endpoint.protocol(), ec);
  if (!ec) acceptor.set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec) acceptor.bind(endpoint, ec);
  if (!ec) acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) throw Error("cannot listen on {}:{}: {}", config.host, config.port, ec.message());
}

Server::~Server() = default;

std::uint16_t Server::port() const { return impl_->acceptor.local_endpoint().port(); }

void Server::run() {
  Impl& s = *impl_;
  asio::co_spawn(s.io, s.accept_loop(), asio::detached);
  s.signals.async_wait([&s](const boost::system::error_code& ec, int signal) {
    if (ec) return;
    spdlog::info("signal {}", signal);
    s.begin_shutdown();
  });
  std::vector<std::jthread> threads;
  for (int i = 1; i < s.ctx.config.http_threads; ++i) threads.emplace_back([&s] { s.io.run(); });
  s.io.run();
}

void Server::stop() {
  asio::post(impl_->io, [this] { impl_->begin_shutdown(); });
}

}  // namespace llmserve::server
