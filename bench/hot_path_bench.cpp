// Hot path: authorise a payment-order signature with limit checks, in memory.
//
// Engine::apply on PaymentOrderSign requests against a realistic state
// (bench/world.h): orders already prepared by a signature-2 user, most of them
// also signed first by a signature-2 user; the timed signatures are the last
// ones of the chain, by signature-1 (2 then 1) or signature-4 (2 then 4, or 4
// alone), each checking access mode, the chain, the per-order and daily
// limits (with the one-day override lookup), counting the day total and
// submitting the order.
//
// A signature needs an order that is not yet signed, so the state is built
// in rounds: a fresh Engine gets the setup and every prepare/first signature
// untimed, then the final signatures are timed in chunks with manual timing
// (no PauseTiming in the loop). Every verdict is checked: one rejection fails
// the run (and the ctest run at --tiny size).
#include <benchmark/benchmark.h>

#include <chrono>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "kase/engine/engine.h"
#include "gbench.h"
#include "world.h"

namespace kase::bench {
namespace {

using Clock = std::chrono::steady_clock;


/// Orders per round and signatures per timed chunk.
constexpr size_t kPrefetchAhead = 8;

size_t round_orders() { return tiny_mode() ? 2048 : 131072; }
size_t chunk_signs() { return tiny_mode() ? 256 : 4096; }

struct Pool {
  std::vector<std::string> setup_bytes, prepared_bytes;
  // The timed signatures lie one after another in one buffer, in log order,
  // as a batch does that the Ledger reads from a log segment or a Kafka
  // fetch (not each in its own heap block, scattered among the prepares).
  std::string sign_arena;
  std::vector<std::span<const uint8_t>> sign_bytes;
  std::vector<const fb::Request*> setup, prepared, signs;
};

/// Lays `requests` out back to back in `arena`, each at an 8-byte boundary
/// (FlatBuffers' alignment), and returns each one's bytes.
std::vector<std::span<const uint8_t>> lay_out(const std::vector<std::string>& requests, std::string& arena) {
  std::vector<size_t> at;
  for (const std::string& r : requests) {
    arena.resize((arena.size() + 7) & ~size_t{7});
    at.push_back(arena.size());
    arena += r;
  }
  std::vector<std::span<const uint8_t>> out;
  for (size_t i = 0; i < requests.size(); ++i)
    out.emplace_back(reinterpret_cast<const uint8_t*>(arena.data()) + at[i], requests[i].size());
  return out;
}

Pool build_pool(size_t orders) {
  World w;
  Pool p;
  p.setup_bytes = w.setup();
  SplitMix rng{42};
  const size_t accounts = w.payment_accounts();
  std::vector<std::pair<int64_t, std::string>> prepared;  // (intake, bytes): sorted into log order
  prepared.reserve(orders * 2);
  std::vector<std::string> signs;
  signs.reserve(orders);
  for (size_t i = 0; i < orders; ++i) {
    const size_t a = i % accounts;
    const Client& c = w.clients()[a / kAccountsPerClient];
    const PaymentAccount& acc = c.accounts[a % kAccountsPerClient];
    const std::string order = c.id + "-PO-" + std::to_string(i + 1);
    const int64_t amount = static_cast<int64_t>(50 + rng.below(3'950)) * kEur + static_cast<int64_t>(rng.below(100));
    const int64_t t0 = w.order_time(i, orders);
    const std::string& preparer = acc.sig2[rng.below(2)];
    auto env = [&](const std::string& id, const std::string& actor, int64_t t) {
      return events::Envelope{id, c.id, actor, Channel::portal, t};
    };
    prepared.emplace_back(t0, events::po_prepare(env(w.next_id("portal"), preparer, t0), order, acc.iban,
                                                 amount, "LV00HABA0551000000001"));
    const uint64_t path = rng.below(4);
    const int64_t t1 = t0 + 5 * kUsPerMinute;
    const int64_t t2 = t0 + 9 * kUsPerMinute;
    if (path != 0) {  // 2 first; path 0: 4 alone
      prepared.emplace_back(t1, events::po_sign(env(w.next_id("portal"), preparer, t1), order));
    }
    const std::string& last = path <= 1 ? c.head : acc.sig1[rng.below(2)];
    signs.push_back(events::po_sign(env(w.next_id("portal"), last, t2), order));
  }
  std::stable_sort(prepared.begin(), prepared.end(),
                   [](const auto& x, const auto& y) { return x.first < y.first; });
  for (auto& [t, b] : prepared) p.prepared_bytes.push_back(std::move(b));
  p.setup = verified(p.setup_bytes);
  p.prepared = verified(p.prepared_bytes);
  p.sign_bytes = lay_out(signs, p.sign_arena);
  p.signs = verified(p.sign_bytes);
  return p;
}

const Pool& pool() {
  static const Pool p = build_pool(round_orders());
  return p;
}

bool apply_all(benchmark::State& state, engine::Engine& e, const std::vector<const fb::Request*>& reqs,
               const char* what) {
  for (size_t i = 0; i < reqs.size(); ++i) {
    const engine::Verdict v = e.apply(*reqs[i]);
    if (!v.accepted) {
      fail(state, std::string(what) + " request " + std::to_string(i) + " rejected: " + v.reason + " (" +
                      v.rule + ")");
      return false;
    }
  }
  (void)e.take_dirty();
  return true;
}

/// A fresh engine with the setup applied and every order prepared (untimed).
std::unique_ptr<engine::Engine> fresh_engine(benchmark::State& state, const Pool& p) {
  auto e = std::make_unique<engine::Engine>();
  if (!apply_all(state, *e, p.setup, "setup") || !apply_all(state, *e, p.prepared, "prepare")) return nullptr;
  return e;
}

/// Checks that every order of the round was submitted.
bool check_round(benchmark::State& state, const engine::Engine& e, const Pool& p) {
  size_t submitted = 0;
  for (const auto& [k, o] : e.state().orders) {
    if (o.status == engine::OrderStatus::submitted) ++submitted;
  }
  if (submitted != p.signs.size()) {
    fail(state, "round ended with " + std::to_string(submitted) + " of " + std::to_string(p.signs.size()) +
                    " orders submitted");
    return false;
  }
  return true;
}

template <bool kVerify>
void BM_HotPath_Sign(benchmark::State& state) {
  const Pool& p = pool();
  const size_t chunk = chunk_signs();
  std::unique_ptr<engine::Engine> e;
  size_t next = p.signs.size();  // start with a fresh round
  int64_t decisions = 0;
  for (auto _ : state) {
    if (next + chunk > p.signs.size()) {
      if (e != nullptr && !check_round(state, *e, p)) return;
      e.reset();
      e = fresh_engine(state, p);
      if (e == nullptr) return;
      next = 0;
    }
    size_t rejected = 0;
    engine::Verdict first_rejection;
    const auto start = Clock::now();
    for (size_t i = next; i < next + chunk; ++i) {
      // As a Ledger does over its batch: start loading the state a request a
      // few places ahead will touch (Engine::prefetch, a hint).
      if (i + kPrefetchAhead < next + chunk) e->prefetch(*p.signs[i + kPrefetchAhead]);
      const fb::Request* req = p.signs[i];
      if constexpr (kVerify) {
        req = events::verify_request(p.sign_bytes[i]);
        if (req == nullptr) {
          ++rejected;
          continue;
        }
      }
      const engine::Verdict v = e->apply(*req);
      if (!v.accepted) {
        if (rejected++ == 0) first_rejection = v;
      }
    }
    (void)e->take_dirty();  // the per-batch hand-over a Ledger does
    const auto stop = Clock::now();
    state.SetIterationTime(std::chrono::duration<double>(stop - start).count());
    if (rejected != 0) {
      fail(state, std::to_string(rejected) + " signatures rejected, first: " + first_rejection.reason + " (" +
                      first_rejection.rule + ")");
      return;
    }
    next += chunk;
    decisions += static_cast<int64_t>(chunk);
  }
  state.SetItemsProcessed(decisions);
  state.counters["orders_per_round"] = static_cast<double>(p.signs.size());
  if (tiny_mode() && e != nullptr) {
    // At test size, finish the round untimed and check the final state.
    for (size_t i = next; i < p.signs.size(); ++i) {
      const engine::Verdict v = e->apply(*p.signs[i]);
      if (!v.accepted) {
        fail(state, std::string("signature rejected: ") + v.reason + " (" + v.rule + ")");
        return;
      }
    }
    (void)check_round(state, *e, p);
  }
}

}  // namespace
}  // namespace kase::bench

int main(int argc, char** argv) {
  using namespace kase::bench;
  if (!init_bench(&argc, argv)) return 1;
  benchmark::AddCustomContext("kase_orders_per_round", std::to_string(round_orders()));
  benchmark::AddCustomContext("kase_signs_per_chunk", std::to_string(chunk_signs()));
  benchmark::RegisterBenchmark("hot_path/sign_preverified", BM_HotPath_Sign<false>)
      ->UseManualTime()
      ->Unit(benchmark::kMicrosecond);
  benchmark::RegisterBenchmark("hot_path/sign_with_verifier", BM_HotPath_Sign<true>)
      ->UseManualTime()
      ->Unit(benchmark::kMicrosecond);
  (void)pool();  // built before any timing
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return run_failed() ? 1 : 0;
}
