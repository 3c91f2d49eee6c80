#include "server_process.h"

#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <stdexcept>
#include <string_view>

namespace llmserve::testing {

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
  stderr_fd_ = fds[0];
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (std::chrono::steady_clock::now() < deadline) {
    read_available(100);
    // "... listening on http://127.0.0.1:PORT"
    constexpr std::string_view kListening = "listening on http://";
    if (const auto at = log_.find(kListening); at != std::string::npos) {
      const auto colon = log_.find(':', at + kListening.size());
      const auto end = log_.find_first_not_of("0123456789", colon + 1);
      if (colon != std::string::npos && end != std::string::npos && end > colon + 1) {
        port_ = static_cast<std::uint16_t>(std::stoi(log_.substr(colon + 1, end - colon - 1)));
        return;
      }
    }
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      read_available(0);
      throw std::runtime_error("llmserve serve exited at startup:\n" + log_);
    }
  }
  throw std::runtime_error("llmserve serve did not start listening:\n" + log_);
}

ServerProcess::~ServerProcess() {
  if (pid_ > 0) stop(SIGKILL);
  if (stderr_fd_ >= 0) ::close(stderr_fd_);
}

void ServerProcess::read_available(int timeout_ms) {
  pollfd pfd{stderr_fd_, POLLIN, 0};
  while (::poll(&pfd, 1, timeout_ms) > 0) {
    char buf[4096];
    const auto n = ::read(stderr_fd_, buf, sizeof buf);
    if (n <= 0) return;
    log_.append(buf, static_cast<std::size_t>(n));
    timeout_ms = 0;
  }
}

const std::string& ServerProcess::log() {
  read_available(0);
  return log_;
}

void ServerProcess::signal(int signal) {
  if (pid_ > 0) ::kill(pid_, signal);
}

int ServerProcess::stop(int signal) {
  if (pid_ <= 0) return -1;
  ::kill(pid_, signal);
  int status = 0;
  // Keep draining its stderr so that a chatty shutdown never blocks on a full pipe.
  while (::waitpid(pid_, &status, WNOHANG) == 0) read_available(50);
  pid_ = -1;
  read_available(0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status);
}

}  // namespace llmserve::testing
