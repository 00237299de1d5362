// Hashes for the engine's tables: integer ids and short strings.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>

namespace kase::engine {

/// A fast mix for integer keys (splitmix64 finaliser).
struct IdHash {
  size_t operator()(uint64_t k) const noexcept {
    k ^= k >> 30;
    k *= 0xbf58476d1ce4e5b9ULL;
    k ^= k >> 27;
    k *= 0x94d049bb133111ebULL;
    return static_cast<size_t>(k ^ (k >> 31));
  }
};

/// A fast hash for short strings (names, order keys): 8 bytes per step and
/// the splitmix64 finaliser. Not for untrusted keys where flooding matters:
/// every key here comes from an authenticated channel.
struct NameHash {
  size_t operator()(std::string_view s) const noexcept {
    uint64_t h = 0x9e3779b97f4a7c15ULL ^ s.size();
    size_t i = 0;
    for (; i + 8 <= s.size(); i += 8) {
      uint64_t w;
      std::memcpy(&w, s.data() + i, 8);
      h = (h ^ w) * 0xff51afd7ed558ccdULL;
      h ^= h >> 32;
    }
    uint64_t tail = 0;
    std::memcpy(&tail, s.data() + i, s.size() - i);
    return IdHash{}(h ^ tail);
  }
};

}  // namespace kase::engine
