#pragma once
// The real `llmserve serve` in a child process on a free loopback port, for integration tests:
// started with the given flags, its port read from the startup log line, stopped with a signal.
// A thread drains the child's stderr for its whole life: a server that logs every request must
// never block on a full pipe while the test waits for its answer.
#include <sys/types.h>

#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace llmserve::testing {

class ServerProcess {
 public:
  // Starts `binary serve --port 0 <args>` and waits for its "listening on" line. Throws
  // std::runtime_error with the server's output when it exits first or does not start in time.
  ServerProcess(const std::string& binary, const std::vector<std::string>& args);
  ~ServerProcess();  // SIGKILL if still running

  std::uint16_t port() const { return port_; }
  // Sends `signal` and waits for the exit; returns the exit code (-signal if killed). A server
  // that has not exited 60 s later is killed and kHung is returned, so a test fails, not hangs.
  int stop(int signal);
  static constexpr int kHung = -1000;
  // Sends `signal` without waiting.
  void signal(int signal);
  // Everything the server wrote to stderr so far.
  std::string log();

 private:
  void drain(int fd);

  pid_t pid_ = -1;
  std::uint16_t port_ = 0;
  std::mutex mutex_;
  std::condition_variable changed_;
  std::string log_;             // guarded by mutex_
  bool stderr_closed_ = false;  // guarded by mutex_
  std::jthread reader_;
};

}  // namespace llmserve::testing
