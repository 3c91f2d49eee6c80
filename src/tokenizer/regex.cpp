#include "regex.h"

#include <array>
#include <string>

#include "llmserve/common/error.h"

namespace llmserve::tokenizer {
namespace {

// JIT stack per thread: PCRE2's default (32 KiB on the machine stack) is too small for some
// patterns on long runs of one character class; 1 MiB is reserved, and used only as needed.
constexpr std::size_t kJitStackStartBytes = 32 * 1024;
constexpr std::size_t kJitStackMaxBytes = 1024 * 1024;

// Per-thread matching state, shared by every Regex (only ovector pair 0, the whole match, is
// read, so one pair suits any pattern).
class ThreadMatchState {
 public:
  ThreadMatchState()
      : match_data_(pcre2_match_data_create(1, nullptr)),
        context_(pcre2_match_context_create(nullptr)),
        jit_stack_(pcre2_jit_stack_create(kJitStackStartBytes, kJitStackMaxBytes, nullptr)) {
    if (match_data_ == nullptr || context_ == nullptr || jit_stack_ == nullptr) {
      throw Error("PCRE2: out of memory creating match data");
    }
    pcre2_jit_stack_assign(context_, nullptr, jit_stack_);
  }
  ThreadMatchState(const ThreadMatchState&) = delete;
  ThreadMatchState& operator=(const ThreadMatchState&) = delete;
  ~ThreadMatchState() {
    pcre2_jit_stack_free(jit_stack_);
    pcre2_match_context_free(context_);
    pcre2_match_data_free(match_data_);
  }

  pcre2_match_data* match_data() const { return match_data_; }
  pcre2_match_context* context() const { return context_; }

 private:
  pcre2_match_data* match_data_;
  pcre2_match_context* context_;
  pcre2_jit_stack* jit_stack_;
};

std::string pcre2_message(int code) {
  std::array<PCRE2_UCHAR, 256> buffer{};
  pcre2_get_error_message(code, buffer.data(), buffer.size());
  return reinterpret_cast<const char*>(buffer.data());
}

}  // namespace

Regex::Regex(std::string_view pattern, bool literal) {
  const std::uint32_t options = PCRE2_UTF | PCRE2_UCP | (literal ? PCRE2_LITERAL : 0);
  int error_code = 0;
  PCRE2_SIZE error_offset = 0;
  code_.reset(pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(), options,
                            &error_code, &error_offset, nullptr));
  if (!code_) {
    throw Error("invalid regex \"{}\" at offset {}: {}", pattern, error_offset,
                pcre2_message(error_code));
  }
  // Without JIT (a PCRE2 built without it) pcre2_match falls back to the interpreter: slower,
  // same results.
  pcre2_jit_compile(code_.get(), PCRE2_JIT_COMPLETE);
}

std::optional<Regex::Match> Regex::find(std::string_view subject, std::size_t start) const {
  thread_local const ThreadMatchState state;
  const int rc =
      pcre2_match(code_.get(), reinterpret_cast<PCRE2_SPTR>(subject.data()), subject.size(), start,
                  PCRE2_NO_UTF_CHECK, state.match_data(), state.context());
  if (rc == PCRE2_ERROR_NOMATCH) return std::nullopt;
  if (rc < 0) throw Error("regex match failed: {}", pcre2_message(rc));
  const PCRE2_SIZE* ovector = pcre2_get_ovector_pointer(state.match_data());
  return Match{ovector[0], ovector[1]};
}

}  // namespace llmserve::tokenizer
