// Infrastructure results: storage and log failures are
// returned, never thrown; business outcomes are decisions, not Status.
#pragma once

#include <string>
#include <utility>

namespace kase {

enum class Errc : int {
  ok = 0,
  io_error,       // the store or log failed; the caller should stop or retry
  corruption,     // persisted bytes do not decode or do not match
  invalid_argument,
  not_found,
  failed_state,   // an earlier write failed; reopen to continue
};

const char* errc_name(Errc e) noexcept;

class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(Errc code, std::string message) : code_(code), message_(std::move(message)) {}
  static Status Ok() { return {}; }
  [[nodiscard]] bool ok() const noexcept { return code_ == Errc::ok; }
  [[nodiscard]] Errc code() const noexcept { return code_; }
  [[nodiscard]] const std::string& message() const noexcept { return message_; }
  [[nodiscard]] std::string to_string() const {
    return ok() ? "ok" : std::string(errc_name(code_)) + ": " + message_;
  }

 private:
  Errc code_ = Errc::ok;
  std::string message_;
};

}  // namespace kase

/// Always-on invariant check: logs and traps (broken invariants stop the process).
#define KASE_ASSERT(cond, msg)                                                        \
  do {                                                                                \
    if (!(cond)) [[unlikely]] {                                                       \
      ::kase::assert_failed(#cond, msg, __FILE__, __LINE__);                          \
    }                                                                                 \
  } while (0)

namespace kase {
[[noreturn]] void assert_failed(const char* cond, const char* msg, const char* file, int line);
}
