#pragma once
// The real `llmserve serve` in a child process on a free loopback port, for integration tests:
// started with the given flags, its port read from the startup log line, stopped with SIGTERM.
#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

namespace llmserve::testing {

class ServerProcess {
 public:
  // Starts `binary serve --port 0 <args>` and waits for its "listening on" line. Throws
  // std::runtime_error with the server's output when it exits first.
  ServerProcess(const std::string& binary, const std::vector<std::string>& args);
  ~ServerProcess();  // SIGKILL if still running

  std::uint16_t port() const { return port_; }
  // Sends `signal` and waits for the exit; returns the exit code (-signal if killed).
  int stop(int signal);
  // Sends `signal` without waiting.
  void signal(int signal);
  // Everything the server wrote to stderr so far.
  const std::string& log();

 private:
  void read_available(int timeout_ms);

  pid_t pid_ = -1;
  int stderr_fd_ = -1;
  std::uint16_t port_ = 0;
  std::string log_;
};

}  // namespace llmserve::testing
