// HTTPS with keep-alive on the embedded log (issue 6): requests per second and
// latency percentiles of POST /v1/requests through the real server (Beast,
// OpenSSL, mutual TLS with a channel certificate) over a durable RocksDB data
// directory (the log in segment files, fsynced per group commit).
//
// The world of bench/world.h is set up untimed through a Ledger; then
// `connections` clients, each on its own thread and its own keep-alive TLS
// connection, walk payment orders through prepare → sign 2 → sign 1 (three
// requests per order, each waiting for its decision). The clients and the
// server share the machine's cores (nothing is pinned): the number is what a
// front-end channel sees on this machine, not the engine's one-core rate.
// Every answer must be 200 with an accepted decision of its own request id,
// else the run fails (and the ctest run at --tiny size).
#include <benchmark/benchmark.h>

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "../tests/tls_pki.h"
#include "kase/adapters/http.h"
#include "kase/adapters/ledger.h"
#include "kase/projections/store.h"
#include "gbench.h"
#include "world.h"

namespace kase::bench {
namespace {

namespace fs = std::filesystem;
namespace bhttp = boost::beast::http;
using Clock = std::chrono::steady_clock;


size_t connections() { return tiny_mode() ? 2 : 16; }
size_t orders_per_connection() { return tiny_mode() ? 10 : 400; }

/// The request's JSON form for the HTTP intake: the builders' binary, without
/// an intake time stamp (the server stamps it).
std::string json_of(events::JsonCodec& codec, const std::string& bytes) {
  const fb::Request* r = events::verify_request(events::bytes_of(bytes));
  return r == nullptr ? std::string() : codec.request_to_json(*r);
}

void BM_Https(benchmark::State& state) {
  static uint64_t round = 0;
  const fs::path dir = bench_dir_base() / ("kase-bench-http-" + std::to_string(::getpid()) + "-" +
                                           std::to_string(++round));
  std::error_code ec;
  fs::remove_all(dir, ec);
  std::unique_ptr<testing::Pki> pki;
  try {
    pki = std::make_unique<testing::Pki>(dir / "pki");
  } catch (const std::exception& e) {
    fail(state, std::string("test PKI: ") + e.what());
    return;
  }
  World w;
  std::unique_ptr<projections::Store> store;
  if (Status s = projections::open_rocks_store((dir / "data").string(), {}, &store); !s.ok()) {
    fail(state, "open store: " + s.to_string());
    return;
  }
  {  // the world's accounts, representatives and rights, untimed
    std::unique_ptr<adapters::Ledger> ledger;
    if (Status s = adapters::Ledger::open(store.get(), &ledger); !s.ok()) {
      fail(state, "open ledger: " + s.to_string());
      return;
    }
    const std::vector<std::string> setup = w.setup();
    std::vector<std::span<const uint8_t>> spans;
    for (const auto& b : setup) spans.push_back(events::bytes_of(b));
    std::vector<adapters::Answer> answers;
    if (Status s = ledger->submit(spans, &answers); !s.ok()) {
      fail(state, "setup: " + s.to_string());
      return;
    }
    for (const auto& a : answers) {
      if (a.decision()->outcome() != fb::Outcome::accepted) {
        fail(state, "setup request rejected: " + a.decision()->reason()->str());
        return;
      }
    }
  }
  adapters::http::ServerOptions o;
  o.port = 0;
  o.tls_cert_file = pki->cert("server");
  o.tls_key_file = pki->key("server");
  o.client_ca_file = pki->ca();
  // 10:00 in Riga on the world's first business day, a microsecond per request.
  auto now = std::make_shared<std::atomic<int64_t>>(riga_eet(w.days()[0], 10 * 60));
  o.clock_us = [now] { return now->fetch_add(1); };
  std::unique_ptr<adapters::http::Server> server;
  if (Status s = adapters::http::Server::start(store.get(), o, &server); !s.ok()) {
    fail(state, "start server: " + s.to_string());
    return;
  }

  // Each connection's orders, as JSON, built untimed: connection k works on
  // payment account k (mod the world's accounts).
  const size_t n = connections();
  const size_t per = orders_per_connection();
  std::vector<std::vector<std::pair<std::string, std::string>>> work(n);  // (request id, JSON)
  {
    events::JsonCodec codec;
    for (size_t k = 0; k < n; ++k) {
      const size_t a = k % w.payment_accounts();
      const Client& c = w.clients()[a / kAccountsPerClient];
      const PaymentAccount& acc = c.accounts[a % kAccountsPerClient];
      for (size_t i = 0; i < per; ++i) {
        const std::string order = c.id + "-HTTP-" + std::to_string(k) + "-" + std::to_string(i);
        auto add = [&](const std::string& actor, auto&& build) {
          const std::string id = w.next_id("portal");
          work[k].emplace_back(id, json_of(codec, build(events::Envelope{id, c.id, actor, Channel::portal, 0})));
        };
        add(acc.sig2[0], [&](const auto& e) {
          return events::po_prepare(e, order, acc.iban, 120 * kEur + static_cast<int64_t>(i), "LV00HABA0551000000001");
        });
        add(acc.sig2[0], [&](const auto& e) { return events::po_sign(e, order); });
        add(acc.sig1[0], [&](const auto& e) { return events::po_sign(e, order); });
      }
    }
  }

  std::vector<std::vector<double>> latencies(n);
  std::atomic<size_t> bad{0};
  std::string first_bad;
  std::mutex bad_mu;
  for (auto _ : state) {
    std::vector<std::unique_ptr<testing::Client>> clients;
    for (size_t k = 0; k < n; ++k) {  // connected and handshaken untimed
      clients.push_back(std::make_unique<testing::Client>(*pki, server->port(), "portal"));
      if (auto e = clients.back()->connect(); e) {
        fail(state, "connect: " + e.message());
        return;
      }
    }
    const auto start = Clock::now();
    std::vector<std::thread> threads;
    for (size_t k = 0; k < n; ++k) {
      threads.emplace_back([&, k] {
        latencies[k].reserve(work[k].size());
        for (const auto& [id, json] : work[k]) {
          const auto t0 = Clock::now();
          const testing::Reply r = clients[k]->send(bhttp::verb::post, "/v1/requests", json);
          latencies[k].push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
          if (r.status != 200 || r.body.find("\"request_id\": \"" + id + "\"") == std::string::npos ||
              r.body.find("\"outcome\": \"accepted\"") == std::string::npos) {
            if (bad.fetch_add(1) == 0) {
              std::lock_guard lk(bad_mu);
              first_bad = std::to_string(r.status) + " " + r.body;
            }
          }
        }
      });
    }
    for (auto& t : threads) t.join();
    state.SetIterationTime(std::chrono::duration<double>(Clock::now() - start).count());
  }
  server->stop();
  if (bad.load() != 0) {
    fail(state, std::to_string(bad.load()) + " answers not an accepted decision of their request; first: " + first_bad);
    return;
  }
  std::vector<double> all;
  for (const auto& l : latencies) all.insert(all.end(), l.begin(), l.end());
  std::sort(all.begin(), all.end());
  const auto pct = [&](double p) {
    if (all.empty()) return 0.0;
    return all[std::min(all.size() - 1, static_cast<size_t>(p * static_cast<double>(all.size())))];
  };
  state.SetItemsProcessed(static_cast<int64_t>(all.size()));
  state.counters["connections"] = static_cast<double>(n);
  state.counters["p50_ms"] = pct(0.50);
  state.counters["p99_ms"] = pct(0.99);
  state.counters["max_ms"] = all.empty() ? 0.0 : all.back();
  server.reset();
  store.reset();
  fs::remove_all(dir, ec);
}

}  // namespace
}  // namespace kase::bench

int main(int argc, char** argv) {
  using namespace kase::bench;
  if (!init_bench(&argc, argv)) return 1;
  benchmark::AddCustomContext("kase_connections", std::to_string(connections()));
  benchmark::AddCustomContext("kase_orders_per_connection", std::to_string(orders_per_connection()));
  // One iteration per repetition: a fresh data directory and server each time.
  benchmark::RegisterBenchmark("http_embedded/post_keepalive_tls", BM_Https)
      ->UseManualTime()
      ->Iterations(1)
      ->Unit(benchmark::kMillisecond);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return run_failed() ? 1 : 0;
}
