// Audit replay from the embedded log, on one core (issue 7): how fast
// `kase audit verify` and `kase audit state` re-fold a data directory.
//
// Untimed, once: the world's setup and a pool of payment-order traffic
// (bench/world.h) are submitted through a Ledger into a fresh RocksDB store
// (durable, as `kase submit` and `kase run` write it: the log in segment
// files; the store is closed and reopened read-only, as an audit opens it). Timed, per iteration: one whole replay of that log —
//   replay_embedded/verify: scan the log segments, verify each LogRecord and
//     its nested request (FlatBuffers verifier), re-fold with the engine,
//     recompute and compare every decision and the SHA-256 chain
//     (adapters::Refold with verify, what `kase audit verify` does per record);
//   replay_embedded/fold: scan, verify the records and fold, without the
//     decision comparison and the chain check (`kase replay` without
//     --verify; the chain is still computed, for the chain head it prints);
//   replay_embedded/state: scan, verify the records and fold, no chain
//     (what `kase audit state` and `kase audit history` do per record);
//   replay_embedded/scan: scan and verify only, the floor under all of them;
//   replay_embedded/verify_two_threads: /verify as `kase audit verify` runs
//     it where there is a second core (Refold::run): the chain is checked on
//     a second thread (bench/run.sh gives it two CPUs; the others one).
// Items are log records. At --tiny size every replay is checked: all records,
// no divergence, the state hash of the live ledger.
#include <benchmark/benchmark.h>
#include <unistd.h>

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "kase/adapters/ledger.h"
#include "kase/projections/store.h"
#include "gbench.h"
#include "world.h"

namespace kase::bench {
namespace {

namespace fs = std::filesystem;


size_t pool_requests() { return tiny_mode() ? 2048 : 1'048'576; }

/// The store every iteration replays, built once before any timing.
struct Built {
  fs::path dir;
  std::unique_ptr<projections::Store> store;  // read-only
  uint64_t records = 0;
  events::Hash state_hash{};
  std::string error;
  ~Built() {
    store.reset();
    std::error_code ec;
    fs::remove_all(dir, ec);
  }
};

void build(Built& out) {
  {
    out.dir = bench_dir_base() / ("kase-bench-replay-" + std::to_string(::getpid()));
    std::error_code ec;
    fs::remove_all(out.dir, ec);
    const Pool p = build_pool(pool_requests());
    {
      std::unique_ptr<projections::Store> store;
      projections::RocksOptions o;  // durable, as `kase submit` and `kase run` write: the log in segment files
      if (Status s = projections::open_rocks_store(out.dir.string(), o, &store); !s.ok()) {
        out.error = s.to_string();
        return;
      }
      std::unique_ptr<adapters::Ledger> ledger;
      if (Status s = adapters::Ledger::open(store.get(), &ledger); !s.ok()) {
        out.error = s.to_string();
        return;
      }
      for (const auto* part : {&p.setup, &p.requests}) {
        for (size_t i = 0; i < part->size(); i += adapters::kBatchRequestsMax) {
          const auto batch = std::span(*part).subspan(i, std::min(adapters::kBatchRequestsMax, part->size() - i));
          if (Status s = ledger->submit_quiet(batch); !s.ok()) {
            out.error = s.to_string();
            return;
          }
        }
      }
      if (Status s = ledger->drain(nullptr); !s.ok()) out.error = s.to_string();
      out.records = ledger->meta().next_offset;
      out.state_hash = projections::state_hash(ledger->state());
    }
    // Reopened read-only, as `kase audit` opens a data directory.
    projections::RocksOptions ro;
    ro.read_only = true;
    if (Status s = projections::open_rocks_store(out.dir.string(), ro, &out.store); !s.ok()) out.error = s.to_string();
  }
}

Built& built() {
  static Built b;
  static const bool done = (build(b), true);
  (void)done;
  return b;
}

/// The checks of a finished replay: no divergence, every record, and (at
/// --tiny size) the ledger's state. Returns false after failing `state`.
bool replayed_all(benchmark::State& state, const Built& b, adapters::Refold& refold) {
  std::string error;
  if (!refold.divergence().what.empty())
    error = "divergence: " + refold.divergence().what;
  else if (refold.records() != b.records)
    error = "replayed " + std::to_string(refold.records()) + " of " + std::to_string(b.records);
  else if (tiny_mode() && projections::state_hash(refold.engine().state()) != b.state_hash)
    error = "replayed state differs from the ledger's";
  if (error.empty()) return true;
  fail(state, error);
  return false;
}

/// `threads` 1: the log scanned on this thread, each record fed to
/// Refold::add (`verify` true: what `kase audit verify` does on one core;
/// false: the fold and chain without the comparison). `threads` 2: what it
/// does on a machine with a second core (Refold::run): the fold and the
/// decision comparison on this thread, the SHA-256 chain on another that
/// reads the log on its own; timed in wall-clock time.
void BM_Replay(benchmark::State& state, bool verify, int threads) {
  Built& b = built();
  if (!b.error.empty()) return fail(state, "build: " + b.error);
  int64_t records = 0;
  for (auto _ : state) {
    adapters::Refold refold(verify);
    Status s = threads > 1 ? refold.run(b.store.get(), threads)
                           : b.store->scan_log(0, [&](uint64_t offset, std::span<const uint8_t> bytes) {
                               return refold.add(offset, bytes);
                             });
    if (!s.ok()) return fail(state, (threads > 1 ? "run: " : "scan: ") + s.to_string());
    if (!replayed_all(state, b, refold)) return;
    records += static_cast<int64_t>(refold.records());
  }
  state.SetItemsProcessed(records);
}

/// What `kase audit state` and `kase audit history` do per record (and the
/// floor under every replay with `fold` false): scan the segments, verify
/// each LogRecord with its nested request, and with `fold` fold it; no chain.
void BM_State(benchmark::State& state, bool fold) {
  Built& b = built();
  if (!b.error.empty()) return fail(state, "build: " + b.error);
  int64_t records = 0;
  constexpr uint64_t kDirtyDropEvery = 4096;  // as Refold: nothing persists the touched entries
  for (auto _ : state) {
    engine::Engine e;
    uint64_t n = 0;
    Status s = b.store->scan_log(0, [&](uint64_t, std::span<const uint8_t> bytes) {
      const fb::LogRecord* rec = events::verify_log_record(bytes);
      const fb::Request* req = rec != nullptr ? events::nested_request(*rec) : nullptr;
      if (req == nullptr) return false;
      if (fold) benchmark::DoNotOptimize(e.apply(*req));
      if (++n % kDirtyDropEvery == 0) (void)e.take_dirty();
      return true;
    });
    if (!s.ok()) return fail(state, "scan: " + s.to_string());
    if (n != b.records) return fail(state, "scanned " + std::to_string(n) + " of " + std::to_string(b.records));
    if (fold && tiny_mode() && projections::state_hash(e.state()) != b.state_hash)
      return fail(state, "replayed state differs from the ledger's");
    records += static_cast<int64_t>(n);
  }
  state.SetItemsProcessed(records);
}

}  // namespace
}  // namespace kase::bench

int main(int argc, char** argv) {
  using namespace kase::bench;
  namespace fs = std::filesystem;
  if (!init_bench(&argc, argv)) return 1;
  const Built& b = built();  // before any timing
  benchmark::AddCustomContext("kase_log_records", std::to_string(b.records));
  benchmark::RegisterBenchmark("replay_embedded/verify", BM_Replay, true, 1)->Unit(benchmark::kMillisecond);
  benchmark::RegisterBenchmark("replay_embedded/fold", BM_Replay, false, 1)->Unit(benchmark::kMillisecond);
  benchmark::RegisterBenchmark("replay_embedded/state", BM_State, true)->Unit(benchmark::kMillisecond);
  benchmark::RegisterBenchmark("replay_embedded/scan", BM_State, false)->Unit(benchmark::kMillisecond);
  benchmark::RegisterBenchmark("replay_embedded/verify_two_threads", BM_Replay, true, 2)
      ->Unit(benchmark::kMillisecond)
      ->UseRealTime();
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  // Close RocksDB before static destruction tears down its environment.
  built().store.reset();
  std::error_code ec;
  fs::remove_all(built().dir, ec);
  return run_failed() ? 1 : 0;
}
