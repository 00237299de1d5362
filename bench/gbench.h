// What the Google Benchmark binaries share: failing a run (every verdict is
// checked; one unexpected outcome fails the run and its exit status), and
// where scratch data directories go.
#pragma once

#include <benchmark/benchmark.h>

#include <cstdlib>
#include <filesystem>
#include <string>

#include "world.h"

namespace kase::bench {

/// True once fail() was called: main() returns 1 then.
inline bool& run_failed() {
  static bool failed = false;
  return failed;
}

/// Marks the benchmark skipped with `what` and the whole run failed.
inline void fail(benchmark::State& state, const std::string& what) {
  run_failed() = true;
  state.SkipWithError(what.c_str());
}

/// Scratch RocksDB directories: $KASE_BENCH_DIR, else the system's temporary directory.
inline std::filesystem::path bench_dir_base() {
  if (const char* d = std::getenv("KASE_BENCH_DIR"); d != nullptr && d[0] != '\0') return d;
  return std::filesystem::temp_directory_path();
}

/// The start of every benchmark's main(): takes `--tiny` out of argv, hands
/// the rest to Google Benchmark and records the size in the context. False
/// when an argument is not understood (main returns 1).
inline bool init_bench(int* argc, char** argv) {
  parse_tiny_flag(argc, argv);
  benchmark::Initialize(argc, argv);
  if (benchmark::ReportUnrecognizedArguments(*argc, argv)) return false;
  benchmark::AddCustomContext("kase_tiny", tiny_mode() ? "1" : "0");
  return true;
}

}  // namespace kase::bench
