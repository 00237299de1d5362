// Private to engine/src: small checks shared by the fold's source files.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <string_view>

#include "kase/engine/engine.h"

namespace kase::engine::detail {

[[noreturn]] inline void engine_assert_failed(const char* cond, const char* file, int line) {
  std::fprintf(stderr, "kase engine: invariant broken at %s:%d: %s\n", file, line, cond);
  std::fflush(stderr);
  std::abort();
}

inline std::string_view sv(const flatbuffers::String* s) {
  return s == nullptr ? std::string_view{} : std::string_view{s->data(), s->size()};
}

/// A name that can become part of a persisted key: not empty, no separator.
inline bool valid_name(std::string_view s) { return !s.empty() && s.find(kKeySep) == std::string_view::npos; }

}  // namespace kase::engine::detail

#define KASE_ENGINE_ASSERT(cond)                                               \
  do {                                                                         \
    if (!(cond)) [[unlikely]]                                                  \
      ::kase::engine::detail::engine_assert_failed(#cond, __FILE__, __LINE__); \
  } while (0)
