// Private to engine/src: small checks shared by the fold's source files.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <type_traits>

#include "kase/engine/engine.h"
#include "kase/events/codec.h"

namespace kase::engine::detail {

[[noreturn]] inline void engine_assert_failed(const char* cond, const char* file, int line) {
  std::fprintf(stderr, "kase engine: invariant broken at %s:%d: %s\n", file, line, cond);
  std::fflush(stderr);
  std::abort();
}

using events::sv;

/// A name that can become part of a persisted key: not empty, no separator.
inline bool valid_name(std::string_view s) { return !s.empty() && s.find(kKeySep) == std::string_view::npos; }

/// Trace policies for the templated checks (Engine::set_trace). NoTrace
/// compiles every KASE_TRACE away: the untraced hot path holds no trace code.
/// Tracing records into `sink` when it is not null.
struct NoTrace {
  static constexpr bool kOn = false;
  Trace* sink = nullptr;
};
struct Tracing {
  static constexpr bool kOn = true;
  Trace* sink = nullptr;
};

/// "a <= b" or "a > b" with a label for each side, money formatted.
inline std::string compare_cents(const char* a_label, Cents a, const char* b_label, Cents b) {
  return std::string(a_label) + " " + format_cents(a) + (a <= b ? " <= " : " > ") + b_label + " " +
         format_cents(b);
}

}  // namespace kase::engine::detail

/// Records one check when the policy traces; `detail` is evaluated only then.
#define KASE_TRACE(tr, check, rule, passed, detail)                                       \
  do {                                                                                  \
    if constexpr (std::decay_t<decltype(tr)>::kOn) {                                    \
      if ((tr).sink != nullptr) (tr).sink->add((check), (rule), (passed), (detail));   \
    }                                                                                   \
  } while (0)

#define KASE_ENGINE_ASSERT(cond)                                               \
  do {                                                                         \
    if (!(cond)) [[unlikely]]                                                  \
      ::kase::engine::detail::engine_assert_failed(#cond, __FILE__, __LINE__); \
  } while (0)
