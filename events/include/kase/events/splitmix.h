// SplitMix64: the deterministic choices of the demo, the benchmarks and the
// tests' stream generators. The engine never sees randomness, only the
// streams these produce.
#pragma once

#include <cstdint>

namespace kase::events {

struct SplitMix {
  uint64_t s;
  uint64_t next() {
    uint64_t z = (s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  uint64_t below(uint64_t n) { return next() % n; }
};

}  // namespace kase::events
