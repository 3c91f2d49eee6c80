#pragma once
// The in-flight cap (--max-concurrent-requests): a generation request holds a Ticket from
// admission to its last byte; without one it is answered 429 at once.
#include <atomic>
#include <cstdint>
#include <optional>
#include <utility>

namespace llmserve::server {

class Admission {
 public:
  explicit Admission(std::int32_t max_in_flight) : max_(max_in_flight) {}

  class Ticket {
   public:
    explicit Ticket(Admission& a) : admission_(&a) {}
    Ticket(Ticket&& other) noexcept : admission_(std::exchange(other.admission_, nullptr)) {}
    Ticket(const Ticket&) = delete;
    Ticket& operator=(const Ticket&) = delete;
    Ticket& operator=(Ticket&&) = delete;
    ~Ticket() {
      if (admission_ != nullptr) admission_->in_flight_.fetch_sub(1);
    }

   private:
    Admission* admission_;
  };

  std::optional<Ticket> try_admit() {
    if (in_flight_.fetch_add(1) >= max_) {
      in_flight_.fetch_sub(1);
      return std::nullopt;
    }
    return Ticket(*this);
  }
  std::int32_t in_flight() const { return in_flight_.load(); }

 private:
  const std::int32_t max_;
  std::atomic<std::int32_t> in_flight_{0};
};

}  // namespace llmserve::server
