// Little-endian integers in persisted bytes: log segments, state values and
// the decisions index all write their lengths, counts and offsets this way,
// whatever the host's byte order. One definition, so that the formats cannot
// drift apart.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace kase::projections::le {

/// Appends the low `bytes` bytes of `v` to `out`, least significant first.
inline void put(std::string* out, uint64_t v, int bytes) {
  for (int i = 0; i < bytes; ++i) out->push_back(static_cast<char>(v >> (8 * i)));
}

/// Writes the low `bytes` bytes of `v` at `at`, least significant first.
inline void store(char* at, uint64_t v, int bytes) {
  for (int i = 0; i < bytes; ++i) at[i] = static_cast<char>(v >> (8 * i));
}

/// Reads `bytes` bytes at `pos` of `s`; the caller has checked that they are there.
inline uint64_t get(std::string_view s, size_t pos, int bytes) {
  uint64_t v = 0;
  for (int i = 0; i < bytes; ++i) v |= static_cast<uint64_t>(static_cast<uint8_t>(s[pos + static_cast<size_t>(i)])) << (8 * i);
  return v;
}

}  // namespace kase::projections::le
