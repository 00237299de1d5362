// Embedded end to end with binary requests: log append, fold, RocksDB batch
// commit.
//
// A Ledger over a real RocksDB store (projections::open_rocks_store in a fresh
// temporary directory) takes pre-built binary requests with submit_quiet() in
// batches: verify, de-duplicate by request id, fold, chain (SHA-256), build
// the log record, and commit log + request ids + touched state + meta in one
// WriteBatch per batch, fsynced when sync = true. submit_quiet() is the
// pipelined group commit: batch N's fsync runs while batch N+1 is folded, and
// every batch's fsync is inside the timed region (the last one via drain()).
//
// The stream (bench/world.h) is mostly payment-order prepare and sign in log
// (intake) order, with a few cancellations and rejected attempts. Request ids
// are the idempotency key, so the pool is submitted once per round into a new
// store; opening and closing stores is untimed (manual timing). At the end of
// a round the state is checked against the plan; at --tiny size the log is
// also replayed and verified (chain, decisions, persisted state).
#include <benchmark/benchmark.h>
#include <unistd.h>

#include <chrono>
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

using Clock = std::chrono::steady_clock;
namespace fs = std::filesystem;


/// Requests per round (about) and per submitted batch.
size_t round_requests() { return tiny_mode() ? 2048 : 262144; }
size_t batch_requests() { return tiny_mode() ? 256 : 4096; }

const Pool& pool() {
  static const Pool p = build_pool(round_requests());
  return p;
}

/// One store and ledger in a fresh directory, with the setup submitted.
class Round {
 public:
  ~Round() { close(); }

  bool open(benchmark::State& state, const Pool& p, bool sync) {
    static uint64_t counter = 0;
    dir_ = bench_dir_base() / ("kase-bench-e2e-" + std::to_string(::getpid()) + "-" + std::to_string(++counter));
    std::error_code ec;
    fs::remove_all(dir_, ec);
    projections::RocksOptions opts;
    opts.sync = sync;
    if (Status s = projections::open_rocks_store(dir_.string(), opts, &store_); !s.ok()) {
      fail(state, "open store: " + s.to_string());
      return false;
    }
    if (Status s = adapters::Ledger::open(store_.get(), &ledger_); !s.ok()) {
      fail(state, "open ledger: " + s.to_string());
      return false;
    }
    std::vector<adapters::Answer> answers;
    for (size_t i = 0; i < p.setup.size(); i += adapters::kBatchRequestsMax) {
      const auto batch = std::span(p.setup).subspan(i, std::min(adapters::kBatchRequestsMax, p.setup.size() - i));
      if (Status s = ledger_->submit(batch, &answers); !s.ok()) {
        fail(state, "setup: " + s.to_string());
        return false;
      }
      for (const auto& a : answers) {
        if (a.decision()->outcome() != fb::Outcome::accepted) {
          fail(state, "setup request rejected: " + a.decision()->reason()->str());
          return false;
        }
      }
    }
    base_offset_ = ledger_->meta().next_offset;
    return true;
  }

  [[nodiscard]] adapters::Ledger& ledger() { return *ledger_; }

  /// After the whole pool: the state and the log match the plan.
  bool check(benchmark::State& state, const Pool& p) {
    size_t submitted = 0, cancelled = 0, prepared = 0;
    for (const auto& [k, o] : ledger_->state().orders) {
      if (o.status == engine::OrderStatus::submitted) ++submitted;
      if (o.status == engine::OrderStatus::cancelled) ++cancelled;
      if (o.status == engine::OrderStatus::prepared) ++prepared;
    }
    const uint64_t logged = ledger_->meta().next_offset - base_offset_;
    if (submitted != p.orders_submitted || cancelled != p.orders_cancelled || prepared != 0 ||
        logged != p.requests.size()) {
      fail(state, "round ended with " + std::to_string(submitted) + "/" + std::to_string(p.orders_submitted) +
                      " submitted, " + std::to_string(cancelled) + "/" + std::to_string(p.orders_cancelled) +
                      " cancelled, " + std::to_string(prepared) + " still prepared, " + std::to_string(logged) +
                      "/" + std::to_string(p.requests.size()) + " logged");
      return false;
    }
    if (tiny_mode()) {
      adapters::ReplayResult r;
      if (Status s = adapters::replay(store_.get(), true, &r); !s.ok() || !r.intact) {
        fail(state, "replay: " + (s.ok() ? r.error : s.to_string()));
        return false;
      }
      if (r.rejected != p.planned_rejections) {
        fail(state, "replay found " + std::to_string(r.rejected) + " rejections, planned " +
                        std::to_string(p.planned_rejections));
        return false;
      }
    }
    return true;
  }

  void close() {
    ledger_.reset();
    store_.reset();
    if (!dir_.empty()) {
      std::error_code ec;
      fs::remove_all(dir_, ec);
      dir_.clear();
    }
  }

 private:
  fs::path dir_;
  std::unique_ptr<projections::Store> store_;
  std::unique_ptr<adapters::Ledger> ledger_;
  uint64_t base_offset_ = 0;
};

void BM_E2E_Submit(benchmark::State& state, bool sync) {
  const Pool& p = pool();
  const size_t batch = batch_requests();
  const std::span<const std::span<const uint8_t>> all(p.requests);
  std::unique_ptr<Round> round;
  size_t next = all.size();  // start with a fresh round
  int64_t requests = 0;
  for (auto _ : state) {
    if (next == all.size()) {
      if (round != nullptr && !round->check(state, p)) return;
      round.reset();
      round = std::make_unique<Round>();
      if (!round->open(state, p, sync)) return;
      next = 0;
    }
    const auto b = all.subspan(next, std::min(batch, all.size() - next));
    const auto start = Clock::now();
    Status s = round->ledger().submit_quiet(b);
    // The last batch of a round waits for its own fsync inside the timer too.
    if (s.ok() && next + b.size() == all.size()) s = round->ledger().drain(nullptr);
    const auto stop = Clock::now();
    state.SetIterationTime(std::chrono::duration<double>(stop - start).count());
    if (!s.ok()) {
      fail(state, "submit: " + s.to_string());
      return;
    }
    next += b.size();
    requests += static_cast<int64_t>(b.size());
  }
  state.SetItemsProcessed(requests);
  if (tiny_mode() && round != nullptr) {
    // At test size, finish the round untimed and check it.
    for (; next < all.size(); next += batch) {
      if (Status s = round->ledger().submit_quiet(all.subspan(next, std::min(batch, all.size() - next)));
          !s.ok()) {
        fail(state, "submit: " + s.to_string());
        return;
      }
    }
    if (Status s = round->ledger().drain(nullptr); !s.ok()) {
      fail(state, "drain: " + s.to_string());
      return;
    }
    (void)round->check(state, p);
  }
}

}  // namespace
}  // namespace kase::bench

int main(int argc, char** argv) {
  using namespace kase::bench;
  if (!init_bench(&argc, argv)) return 1;
  const Pool& p = pool();  // built before any timing
  benchmark::AddCustomContext("kase_requests_per_round", std::to_string(p.requests.size()));
  benchmark::AddCustomContext("kase_requests_per_batch", std::to_string(batch_requests()));
  benchmark::AddCustomContext("kase_store_dir", bench_dir_base().string());
  for (const bool sync : {true, false}) {
    auto* b = benchmark::RegisterBenchmark(sync ? "e2e_embedded/submit_quiet_sync" : "e2e_embedded/submit_quiet_nosync",
                                           BM_E2E_Submit, sync);
    b->UseManualTime()->Unit(benchmark::kMillisecond);
    // About a round at full size: memtable flushes and a store switch included.
    if (!tiny_mode()) b->MinTime(3.0);
  }
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return run_failed() ? 1 : 0;
}
