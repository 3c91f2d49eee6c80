#include "server_process.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <optional>
#include <stdexcept>
#include <string_view>

namespace llmserve::testing {

namespace {

constexpr auto kStartTimeout = std::chrono::seconds(60);
constexpr auto kStopTimeout = std::chrono::seconds(60);

// "... listening on http://127.0.0.1:PORT"
std::optional<std::uint16_t> listening_port(const std::string& log) {
  constexpr std::string_view kListening = "listening on http://";
  const auto at = log.find(kListening);
  if (at == std::string::npos) return std::nullopt;
  const auto colon = log.find(':', at + kListening.size());
  if (colon == std::string::npos) return std::nullopt;
  const auto end = log.find_first_not_of("0123456789", colon + 1);
  if (end == std::string::npos || end == colon + 1) return std::nullopt;
  return static_cast<std::uint16_t>(std::stoi(log.substr(colon + 1, end - colon - 1)));
}

}  // namespace

ServerProcess::ServerProcess(const std::string& binary, const std::vector<std::string>& args) {
  int fds[2];
  if (::pipe(fds) != 0) throw std::runtime_error("pipe failed");
  std::vector<std::string> argv_storage{binary, "serve", "--port", "0"};
  argv_storage.insert(argv_storage.end(), args.begin(), args.end());
  pid_ = ::fork();
  if (pid_ == 0) {
    ::dup2(fds[1], STDERR_FILENO);
    ::close(fds[0]);
    ::close(fds[1]);
    std::vector<char*> argv;
    for (auto& a : argv_storage) argv.push_back(a.data());
    argv.push_back(nullptr);
    ::execv(binary.c_str(), argv.data());
    ::_exit(127);
  }
  ::close(fds[1]);
  reader_ = std::jthread([this, fd = fds[0]] { drain(fd); });

  std::unique_lock lock(mutex_);
  std::optional<std::uint16_t> port;
  const bool started = changed_.wait_for(lock, kStartTimeout, [&] {
    port = listening_port(log_);
    return port || stderr_closed_;
  });
  if (port) {
    port_ = *port;
    return;
  }
  const std::string log = log_;
  lock.unlock();
  stop(SIGKILL);
  throw std::runtime_error(std::string(started ? "llmserve serve exited at startup:\n"
                                               : "llmserve serve did not start listening:\n") +
                           log);
}

ServerProcess::~ServerProcess() {
  if (pid_ > 0) stop(SIGKILL);
}

void ServerProcess::drain(int fd) {
  char buf[4096];
  while (true) {
    const auto n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    std::lock_guard lock(mutex_);
    if (n <= 0) {
      stderr_closed_ = true;
      changed_.notify_all();
      break;
    }
    log_.append(buf, static_cast<std::size_t>(n));
    changed_.notify_all();
  }
  ::close(fd);
}

std::string ServerProcess::log() {
  std::lock_guard lock(mutex_);
  return log_;
}

void ServerProcess::signal(int signal) {
  if (pid_ > 0) ::kill(pid_, signal);
}

int ServerProcess::stop(int signal) {
  if (pid_ <= 0) return -1;
  ::kill(pid_, signal);
  // The pipe closes when the server exits: wait for that with a bound, then reap it.
  bool exited = false;
  {
    std::unique_lock lock(mutex_);
    exited = changed_.wait_for(lock, kStopTimeout, [&] { return stderr_closed_; });
  }
  if (!exited) ::kill(pid_, SIGKILL);
  int status = 0;
  ::waitpid(pid_, &status, 0);
  pid_ = -1;
  if (reader_.joinable()) reader_.join();
  if (!exited) return kHung;
  return WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status);
}

}  // namespace llmserve::testing
