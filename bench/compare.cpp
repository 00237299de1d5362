// kase against a PostgreSQL build of the same eKase rules, side by side on
// one seeded workload (issue 9). Driven by bench/compare, which starts
// PostgreSQL and the Kafka broker; see bench/README.md.
//
// One run builds one workload (bench/world.h, grown by --scale) and sends it
// through each system named by --systems, in the same order per client:
//   embedded  kase on the embedded log: Ledger::submit_pipelined over a fresh
//             RocksDB store, fsync of the WAL per batch (the durable default);
//   kafka     kase through a real broker: the channel producer (acks=all) →
//             kase.requests → the engine node (one Kafka transaction per batch)
//             → kase.decisions → a read_committed consumer;
//   postgres  bench/compare_pg.sql over libpq in pipeline mode: one connection
//             per group of clients (a client's requests stay in order on its
//             connection), one transaction per request, synchronous commit.
// Every system gets the setup untimed, then the payment-order stream timed
// with at most --window requests in flight. The decisions (outcome and reason
// code) must be equal request by request across the systems, and kase's must
// match the plan wherever the plan knows the answer (the over-limit and
// wrong-mode requests); any difference fails the run (exit status 1).
#include <libpq-fe.h>
#include <librdkafka/rdkafkacpp.h>
#include <malloc.h>
#include <poll.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "kase/adapters/kafka.h"
#include "kase/adapters/ledger.h"
#include "kase/engine/engine.h"
#include "kase/engine/reasons.h"
#include "kase/projections/store.h"
#include "world.h"

namespace kase::bench {
namespace {

using Clock = std::chrono::steady_clock;
namespace fs = std::filesystem;
namespace r = engine::reason;

constexpr const char* kUsage = R"(Usage: kase_compare [OPTIONS]

Runs one seeded eKase workload through kase (embedded log, Kafka) and a
PostgreSQL implementation of the same rules, checks that every decision is
equal, and prints throughput and latency. bench/compare starts the servers
and runs this binary; run it by hand only against servers you started.

Options:
  --systems LIST     comma-separated: embedded, kafka, postgres, postgres_wide
                     (default: embedded,postgres,kafka). postgres keeps each
                     client's requests in order on one connection (at most
                     one connection per client); postgres_wide keeps each
                     account's in order (every request of the workload
                     touches one account's rows, so the decisions must be
                     the same, with more connections for group commit)
  --requests N       payment-order requests in the timed flood (default 100000)
  --scale K          users and accounts K times the base world of 8 clients,
                     32 payment accounts, 232 users and 288 grants (default 1)
  --window N         requests in flight at most, for every system (default 8192)
  --paced-requests N requests after the flood offered at a fixed rate, for the
                     latency below every system's capacity (default 4000)
  --paced-rate R     their rate per second (default 200)
  --data DIR         scratch directory for RocksDB stores (required for
                     embedded and kafka; must not exist or be empty)
  --pg CONNINFO      libpq connection string (required for postgres); the run
                     drops and recreates schema "ekase" there
  --pg-sql FILE      the schema and functions (default: bench/compare_pg.sql
                     of this source tree)
  --pg-connections N connections to PostgreSQL (default 8, at most the number
                     of clients, or of accounts with --pg-order account)
  --pg-wide-connections N
                     connections of the postgres_wide system (default 32)
  --brokers B        Kafka bootstrap servers (required for kafka); the topics
                     must not exist yet (a fresh broker)
  --partitions P     partitions of kase.requests (default 4)
  --memory           also measure bytes per grant and per open order
  --seed S           workload seed (default 7)
  --out FILE         write the results as JSON
  --tiny             a test-size run (2,000 requests, 256 in flight, 200 paced)
  --help             this text

Exit status: 0 when every system answered every request and all decisions
agree; 1 on a disagreement or a failed system; 2 on bad options.
)";

struct Options {
  std::vector<std::string> systems{"embedded", "postgres", "kafka"};
  size_t requests = 100'000;
  int scale = 1;
  size_t window = 8192;
  size_t paced_requests = 4'000;
  double paced_rate = 200;
  std::string data, pg, pg_sql = KASE_COMPARE_SQL, brokers, out;
  int pg_connections = 8;
  int pg_wide_connections = 32;
  int partitions = 4;
  bool memory = false;
  bool tiny = false;
  uint64_t seed = 7;
};

[[noreturn]] void die(const std::string& what) {
  std::fprintf(stderr, "kase_compare: %s\n", what.c_str());
  std::exit(1);
}

// ---- The workload ----------------------------------------------------------

/// What the plan knows about a request's decision: "" = not predicted (the
/// first of a daily-limit pair may or may not fit), else the reason code.
struct Workload {
  std::vector<std::string> setup, stream;  // binary requests, log order
  std::vector<std::string> expect;         // per stream request
  std::vector<int> client_of_setup, client_of_stream;  // client index
  std::vector<int> account_of_stream;                  // payment account index
  size_t paced_from = 0;  // stream[paced_from..] is offered at --paced-rate
  int clients = 0;
  size_t accounts = 0, users = 0, grants = 0, orders = 0;
};

Workload build_workload(size_t target_requests, size_t paced_requests, int scale, uint64_t seed) {
  World w(kClients * scale);
  Workload wl;
  wl.clients = static_cast<int>(w.clients().size());
  wl.accounts = w.payment_accounts();
  std::unordered_map<std::string, int> client_index;
  for (int i = 0; i < wl.clients; ++i) client_index[w.clients()[static_cast<size_t>(i)].id] = i;
  wl.setup = w.setup(/*under_applications=*/false);  // schema version 1 grants: the PostgreSQL subset (R42)
  // R9: one more signature-2 user per account with a small daily limit, who
  // prepares the daily-limit pairs below.
  constexpr int64_t kSmallDaily = 6'000 * kEur;
  const int64_t t_setup = riga_eet(20261102, 7 * 60);
  for (const Client& c : w.clients()) {
    for (const PaymentAccount& a : c.accounts) {
      wl.setup.push_back(events::with_schema_version(
          events::rights_granted(
              events::Envelope{w.next_id("treasury"), c.id, "treasury-operator-1", Channel::treasury, t_setup},
              a.sig2[0] + "-small", a.iban, AccessMode::signature_2, kPerOrderLimit, kSmallDaily),
          1));
    }
  }
  std::unordered_map<std::string, int> users;
  for (const std::string& b : wl.setup) {
    const fb::Request* q = events::verify_request(events::bytes_of(b));
    if (q == nullptr) die("a built setup request does not verify");
    wl.client_of_setup.push_back(client_index.at(q->client_id()->str()));
    if (q->payload_type() == fb::Payload::RightsGranted) {
      ++wl.grants;
      users[q->payload_as_RightsGranted()->user()->str()] = 1;
    }
  }
  wl.users = users.size();

  struct Planned {
    int64_t t;
    int client, account;
    std::string bytes, expect;
  };
  std::vector<Planned> plan;
  SplitMix rng{seed};
  // About 2.6 requests per order with the mix below.
  const size_t orders = std::max<size_t>(1, (target_requests + paced_requests) * 10 / 26);
  wl.orders = orders;
  plan.reserve(orders * 3);
  for (size_t i = 0; i < orders; ++i) {
    const size_t ai = rng.below(wl.accounts);
    const int ci = static_cast<int>(ai / kAccountsPerClient);
    const Client& c = w.clients()[static_cast<size_t>(ci)];
    const PaymentAccount& acc = c.accounts[ai % kAccountsPerClient];
    const std::string order = c.id + "-PO-" + std::to_string(i + 1);
    int64_t amount = static_cast<int64_t>(50 + rng.below(3'950)) * kEur + static_cast<int64_t>(rng.below(100));
    const int64_t t0 = w.order_time(i, orders);
    const int64_t t1 = t0 + 5 * kUsPerMinute;
    const int64_t t2 = t0 + 9 * kUsPerMinute;
    auto add = [&](int64_t t, const std::string& actor, const char* expect, auto&& build) {
      plan.push_back({t, ci, static_cast<int>(ai), build(events::Envelope{w.next_id("portal"), c.id, actor, Channel::portal, t}), expect});
    };
    auto prepare = [&](int64_t t, const std::string& who, const std::string& ord, int64_t amt, const char* expect) {
      add(t, who, expect, [&](const auto& e) { return events::po_prepare(e, ord, acc.iban, amt, "LV00HABA0551000000001"); });
    };
    auto sign = [&](int64_t t, const std::string& who, const char* expect) {
      add(t, who, expect, [&](const auto& e) { return events::po_sign(e, order); });
    };
    const std::string& sig2 = acc.sig2[rng.below(2)];
    const std::string& sig1 = acc.sig1[rng.below(2)];
    const uint64_t kind = rng.below(1000);
    if (kind < 590) {  // R8.6 then R8.5 submits
      prepare(t0, sig2, order, amount, r::kOk);
      sign(t1, sig2, r::kOk);
      sign(t2, sig1, r::kOk);
    } else if (kind < 730) {  // R8.4 prepares, R8.6 then R8.8
      prepare(t0, acc.manage, order, amount, r::kOk);
      sign(t1, sig2, r::kOk);
      sign(t2, c.head, r::kOk);
    } else if (kind < 870) {  // R8.8 alone
      prepare(t0, sig2, order, amount, r::kOk);
      sign(t1, c.head, r::kOk);
    } else if (kind < 910) {  // signed once, then cancelled: R9 releases the amount
      prepare(t0, sig2, order, amount, r::kOk);
      sign(t1, sig2, r::kOk);
      add(t2, sig2, r::kOk, [&](const auto& e) { return events::po_cancel(e, order); });
    } else if (kind < 920) {  // R8.3: a view user tries to prepare
      prepare(t0, acc.viewer, order, amount, r::kModeViewOnly);
    } else if (kind < 930) {  // R8.5: signature-1 cannot prepare
      prepare(t0, sig1, order, amount, r::kModeCannotPrepare);
    } else if (kind < 940) {  // R8.4: manage-PO cannot sign; the order stays open
      prepare(t0, sig2, order, amount, r::kOk);
      sign(t1, acc.manage, r::kModeCannotSign);
    } else if (kind < 950) {  // R8: signature-1 before signature-2; the order stays open
      prepare(t0, sig2, order, amount, r::kOk);
      sign(t1, sig1, r::kOutOfOrder);
    } else if (kind < 975) {  // R9: over the per-order limit
      amount = kPerOrderLimit + static_cast<int64_t>(1 + rng.below(5'000)) * kEur;
      prepare(t0, sig2, order, amount, r::kPerOrderExceeded);
    } else {  // R9: two orders of 4,000 a minute apart against a daily limit of 6,000
      const std::string& small = acc.sig2[0] + "-small";
      prepare(t0, small, order, 4'000 * kEur, "");  // fits unless an earlier pair filled the day
      prepare(t0 + kUsPerMinute, small, order + "-B", 4'000 * kEur, r::kDailyExceeded);
    }
  }
  std::stable_sort(plan.begin(), plan.end(), [](const Planned& x, const Planned& y) { return x.t < y.t; });
  for (Planned& p : plan) {
    wl.stream.push_back(std::move(p.bytes));
    wl.expect.push_back(std::move(p.expect));
    wl.client_of_stream.push_back(p.client);
    wl.account_of_stream.push_back(p.account);
  }
  (void)verified(wl.stream);
  wl.paced_from = wl.stream.size() - std::min(wl.stream.size(), paced_requests);
  return wl;
}

// ---- Results ---------------------------------------------------------------

struct RunResult {
  std::string system;
  bool ok = false;
  std::string error;
  double seconds = 0, per_second = 0, p50_ms = 0, p99_ms = 0, max_ms = 0;
  double paced_per_second = 0, paced_p50_ms = 0, paced_p99_ms = 0;
  std::vector<std::string> setup_reasons, reasons;  // per request; "" = no answer
  std::map<std::string, double> extra;              // memory and the like
};

double pct(std::vector<double> v, double q) {
  if (v.empty()) return 0;
  const size_t i = std::min(v.size() - 1, static_cast<size_t>(q * static_cast<double>(v.size() - 1) + 0.5));
  std::nth_element(v.begin(), v.begin() + static_cast<long>(i), v.end());
  return v[i];
}

void finish(RunResult* r, size_t requests, const std::vector<double>& latency_ms, Clock::time_point start,
            Clock::time_point end) {
  r->seconds = std::chrono::duration<double>(end - start).count();
  r->per_second = static_cast<double>(requests) / std::max(r->seconds, 1e-9);
  r->p50_ms = pct(latency_ms, 0.50);
  r->p99_ms = pct(latency_ms, 0.99);
  r->max_ms = latency_ms.empty() ? 0 : *std::max_element(latency_ms.begin(), latency_ms.end());
}

void finish_paced(RunResult* r, size_t requests, const std::vector<double>& latency_ms, Clock::time_point start,
                  Clock::time_point end) {
  r->paced_per_second = static_cast<double>(requests) / std::max(1e-9, std::chrono::duration<double>(end - start).count());
  r->paced_p50_ms = pct(latency_ms, 0.50);
  r->paced_p99_ms = pct(latency_ms, 0.99);
}

/// When the i-th paced request is due.
Clock::time_point due_at(Clock::time_point start, size_t i, double rate) {
  return start + std::chrono::nanoseconds(static_cast<int64_t>(1e9 * static_cast<double>(i) / rate));
}

std::vector<std::span<const uint8_t>> spans(const std::vector<std::string>& bytes) {
  std::vector<std::span<const uint8_t>> out;
  out.reserve(bytes.size());
  for (const auto& b : bytes) out.push_back(events::bytes_of(b));
  return out;
}

// ---- kase, embedded log --------------------------------------------------------

RunResult run_embedded(const Options& o, const Workload& wl) {
  RunResult res;
  res.system = "kase_embedded";
  const fs::path dir = fs::path(o.data) / ("embedded-x" + std::to_string(o.scale));
  std::unique_ptr<projections::Store> store;
  std::unique_ptr<adapters::Ledger> ledger;
  projections::RocksOptions ro;
  ro.sync = true;  // fsync of the WAL per batch: the durable default
  if (Status s = projections::open_rocks_store(dir.string(), ro, &store); !s.ok()) {
    res.error = "open store: " + s.to_string();
    return res;
  }
  if (Status s = adapters::Ledger::open(store.get(), &ledger); !s.ok()) {
    res.error = "open ledger: " + s.to_string();
    return res;
  }
  const auto setup = spans(wl.setup);
  std::vector<adapters::Answer> answers;
  for (size_t i = 0; i < setup.size(); i += adapters::kBatchRequestsMax) {
    const auto b = std::span(setup).subspan(i, std::min(adapters::kBatchRequestsMax, setup.size() - i));
    if (Status s = ledger->submit(b, &answers); !s.ok()) {
      res.error = "setup: " + s.to_string();
      return res;
    }
    for (const auto& a : answers) res.setup_reasons.push_back(a.decision()->reason()->str());
  }
  // Timed: batches of window/2, pipelined (batch N's fsync overlaps the fold
  // of N+1), so at most `window` requests are in flight. A request's latency
  // runs from its batch's hand-over to the return of its durable answer.
  const auto stream = spans(wl.stream);
  const auto all = std::span(stream).first(wl.paced_from);
  const size_t batch = std::clamp<size_t>(o.window / 2, 1, adapters::kBatchRequestsMax);
  std::vector<double> latency_ms;
  latency_ms.reserve(all.size());
  res.reasons.reserve(all.size());
  const Clock::time_point start = Clock::now();
  Clock::time_point previous_start = start;
  size_t previous_size = 0;
  auto take = [&](Clock::time_point handed) {
    const Clock::time_point now = Clock::now();
    for (const auto& a : answers) {
      res.reasons.push_back(a.decision()->reason()->str());
      latency_ms.push_back(std::chrono::duration<double, std::milli>(now - handed).count());
    }
  };
  for (size_t next = 0; next < all.size(); next += batch) {
    const auto b = std::span(all).subspan(next, std::min(batch, all.size() - next));
    const Clock::time_point handed = Clock::now();
    answers.clear();
    if (Status s = ledger->submit_pipelined(b, &answers); !s.ok()) {
      res.error = "submit: " + s.to_string();
      return res;
    }
    if (answers.size() != previous_size) {
      res.error = "submit_pipelined answered " + std::to_string(answers.size()) + " of " + std::to_string(previous_size);
      return res;
    }
    take(previous_start);
    previous_start = handed;
    previous_size = b.size();
  }
  answers.clear();
  if (Status s = ledger->drain(&answers); !s.ok()) {
    res.error = "drain: " + s.to_string();
    return res;
  }
  take(previous_start);
  finish(&res, all.size(), latency_ms, start, Clock::now());
  // Paced: like a node's intake loop, each batch takes what has arrived (up to
  // `batch`) and is committed and answered before the next; latency runs
  // from a request's arrival (its due time) to its durable answer.
  const auto paced = std::span(stream).subspan(wl.paced_from);
  latency_ms.clear();
  const Clock::time_point paced_start = Clock::now();
  for (size_t next = 0; next < paced.size();) {
    std::this_thread::sleep_until(due_at(paced_start, next, o.paced_rate));
    const Clock::time_point now = Clock::now();
    size_t n = 0;
    while (next + n < paced.size() && n < batch && due_at(paced_start, next + n, o.paced_rate) <= now) ++n;
    answers.clear();
    if (Status s = ledger->submit(paced.subspan(next, n), &answers); !s.ok()) {
      res.error = "submit: " + s.to_string();
      return res;
    }
    const Clock::time_point answered = Clock::now();
    for (size_t i = 0; i < answers.size(); ++i) {
      res.reasons.push_back(answers[i].decision()->reason()->str());
      latency_ms.push_back(
          std::chrono::duration<double, std::milli>(answered - due_at(paced_start, next + i, o.paced_rate)).count());
    }
    next += n;
  }
  finish_paced(&res, paced.size(), latency_ms, paced_start, Clock::now());
  res.ok = res.reasons.size() == stream.size();
  if (!res.ok) res.error = "answered " + std::to_string(res.reasons.size()) + " of " + std::to_string(stream.size());
  ledger.reset();
  store.reset();
  std::error_code ec;
  fs::remove_all(dir, ec);
  return res;
}

// ---- kase through Kafka ------------------------------------------------------

/// Produces `bytes` with at most `window` in flight while a read_committed
/// consumer collects every decision; fills reasons (and latency when timed).
bool kafka_round(const Options& o, adapters::kafka::RequestProducer& producer, const std::vector<std::string>& bytes,
                 size_t window, double rate, std::vector<std::string>* reasons, std::vector<double>* latency_ms,
                 Clock::time_point* start, Clock::time_point* end, std::string* error) {
  std::unordered_map<std::string, size_t> index;
  index.reserve(bytes.size() * 2);
  for (size_t i = 0; i < bytes.size(); ++i)
    index.emplace(events::verify_request(events::bytes_of(bytes[i]))->request_id()->str(), i);
  reasons->assign(bytes.size(), "");
  std::vector<Clock::time_point> sent(bytes.size());
  std::string err;
  std::unique_ptr<RdKafka::Conf> conf(RdKafka::Conf::create(RdKafka::Conf::CONF_GLOBAL));
  conf->set("bootstrap.servers", o.brokers, err);
  conf->set("group.id", "kase-compare-reader", err);
  conf->set("enable.auto.commit", "false", err);
  conf->set("isolation.level", "read_committed", err);
  conf->set("fetch.wait.max.ms", "5", err);
  std::unique_ptr<RdKafka::KafkaConsumer> c(RdKafka::KafkaConsumer::create(conf.get(), err));
  if (!c) {
    *error = "consumer: " + err;
    return false;
  }
  std::vector<RdKafka::TopicPartition*> tps;
  for (int p = 0; p < o.partitions; ++p) {
    int64_t low = 0, high = 0;
    if (c->query_watermark_offsets(adapters::kafka::kDecisionsTopic, p, &low, &high, 10'000) != RdKafka::ERR_NO_ERROR)
      high = RdKafka::Topic::OFFSET_BEGINNING;
    tps.push_back(RdKafka::TopicPartition::create(adapters::kafka::kDecisionsTopic, p, high));
  }
  c->assign(tps);
  RdKafka::TopicPartition::destroy(tps);
  std::atomic<size_t> seen{0};
  std::atomic<bool> produce_failed{false};
  *start = Clock::now();
  std::thread feeder([&] {
    for (size_t i = 0; i < bytes.size(); ++i) {
      while (i - seen.load(std::memory_order_relaxed) >= window && !produce_failed)
        std::this_thread::sleep_for(std::chrono::microseconds(200));
      if (rate > 0) {
        // Paced: latency from the due time, as for the other systems.
        sent[i] = due_at(*start, i, rate);
        std::this_thread::sleep_until(sent[i]);
      } else {
        sent[i] = Clock::now();
      }
      if (!producer.produce(events::bytes_of(bytes[i])).ok()) {
        produce_failed = true;
        return;
      }
    }
    if (!producer.flush(120'000).ok()) produce_failed = true;
  });
  const auto deadline = *start + std::chrono::seconds(900);
  std::string aligned;
  while (seen < bytes.size() && Clock::now() < deadline && !produce_failed) {
    std::unique_ptr<RdKafka::Message> m(c->consume(100));
    if (!m || m->err() != RdKafka::ERR_NO_ERROR) continue;
    const Clock::time_point now = Clock::now();
    aligned.assign(static_cast<const char*>(m->payload()), m->len());
    const fb::LogRecord* rec = events::verify_log_record(events::bytes_of(aligned));
    if (rec == nullptr || rec->decision() == nullptr || rec->decision()->request_id() == nullptr) continue;
    auto it = index.find(rec->decision()->request_id()->str());
    if (it == index.end() || !(*reasons)[it->second].empty()) continue;
    (*reasons)[it->second] = rec->decision()->reason()->str();
    if (latency_ms != nullptr) latency_ms->push_back(std::chrono::duration<double, std::milli>(now - sent[it->second]).count());
    *end = now;
    seen.fetch_add(1, std::memory_order_relaxed);
  }
  produce_failed = produce_failed || seen < bytes.size();
  feeder.join();
  c->close();
  if (seen < bytes.size()) {
    *error = "only " + std::to_string(seen.load()) + " of " + std::to_string(bytes.size()) + " decisions seen";
    return false;
  }
  return true;
}

RunResult run_kafka(const Options& o, const Workload& wl) {
  RunResult res;
  res.system = "kase_kafka";
  std::string report;
  adapters::kafka::TopicSettings ts;
  ts.partitions = o.partitions;
  if (Status s = adapters::kafka::init_topics(o.brokers, ts, &report); !s.ok()) {
    res.error = "topics: " + s.to_string();
    return res;
  }
  std::unique_ptr<adapters::kafka::RequestProducer> producer;
  if (Status s = adapters::kafka::RequestProducer::open(o.brokers, &producer); !s.ok()) {
    res.error = "producer: " + s.to_string();
    return res;
  }
  std::atomic<bool> stop{false};
  adapters::kafka::NodeOptions no;
  no.brokers = o.brokers;
  no.data_dir = (fs::path(o.data) / ("kafka-x" + std::to_string(o.scale))).string();
  no.batch_max = 2048;
  no.batch_ms = 5;
  no.stop = &stop;
  no.verbose = false;
  adapters::kafka::NodeStats stats;
  Status node_status;
  std::thread node([&] { node_status = adapters::kafka::run_node(no, &stats); });
  Clock::time_point start, end;
  std::vector<double> latency_ms;
  // Untimed: the node joins its group and decides the setup.
  bool ok = kafka_round(o, *producer, wl.setup, o.window, 0, &res.setup_reasons, nullptr, &start, &end, &res.error);
  const std::vector<std::string> flood(wl.stream.begin(), wl.stream.begin() + static_cast<long>(wl.paced_from));
  const std::vector<std::string> paced(wl.stream.begin() + static_cast<long>(wl.paced_from), wl.stream.end());
  std::vector<std::string> paced_reasons;
  if (ok) ok = kafka_round(o, *producer, flood, o.window, 0, &res.reasons, &latency_ms, &start, &end, &res.error);
  if (ok) finish(&res, flood.size(), latency_ms, start, end);
  latency_ms.clear();
  if (ok) ok = kafka_round(o, *producer, paced, o.window, o.paced_rate, &paced_reasons, &latency_ms, &start, &end, &res.error);
  if (ok) {
    finish_paced(&res, paced.size(), latency_ms, start, end);
    res.reasons.insert(res.reasons.end(), paced_reasons.begin(), paced_reasons.end());
  }
  stop = true;
  node.join();
  if (!node_status.ok()) {
    res.error = "node: " + node_status.to_string();
    ok = false;
  }
  res.extra["transactions"] = static_cast<double>(stats.transactions.load());
  res.extra["aborted_transactions"] = static_cast<double>(stats.aborted.load());
  res.ok = ok;
  return res;
}

// ---- PostgreSQL ----------------------------------------------------------------

/// One prepared call: the statement name and its text parameters.
struct PgCall {
  const char* statement = nullptr;
  std::vector<std::string> params;
};

struct PgStatement {
  const char* name;
  const char* sql;
  int params;
};
constexpr PgStatement kStatements[] = {
    {"po_prepare", "SELECT ekase.po_prepare($1,$2,$3,$4::smallint,$5,$6,$7,$8,$9)", 9},
    {"po_sign", "SELECT ekase.po_sign($1,$2,$3,$4::smallint,$5,$6)", 6},
    {"po_cancel", "SELECT ekase.po_cancel($1,$2,$3,$4::smallint,$5,$6)", 6},
    {"account_opened", "SELECT ekase.account_opened($1,$2,$3,$4::smallint,$5,$6,$7,$8,$9)", 9},
    {"representative", "SELECT ekase.representative_registered($1,$2,$3,$4::smallint,$5,$6,$7,$8)", 8},
    {"rights_granted", "SELECT ekase.rights_granted($1,$2,$3,$4::smallint,$5,$6,$7,$8::smallint,$9,$10,$11)", 11},
    {"limit_change", "SELECT ekase.limit_change_one_day($1,$2,$3,$4::smallint,$5,$6,$7,$8,$9,$10)", 10},
};

std::string str(const flatbuffers::String* s) { return s == nullptr ? std::string() : s->str(); }
const char* boolean(bool b) { return b ? "true" : "false"; }

/// The SQL call for a request; dies on a kind outside the PostgreSQL subset.
PgCall pg_call(const std::string& bytes) {
  const fb::Request* q = events::verify_request(events::bytes_of(bytes));
  PgCall c;
  c.params = {q->request_id()->str(), str(q->client_id()), str(q->actor()),
              std::to_string(static_cast<int>(q->channel())), std::to_string(q->intake_us())};
  auto add = [&](std::string v) { c.params.push_back(std::move(v)); };
  switch (q->payload_type()) {
    case fb::Payload::PaymentOrderPrepare: {
      const auto* p = q->payload_as_PaymentOrderPrepare();
      c.statement = "po_prepare";
      add(str(p->order()));
      add(str(p->account()));
      add(std::to_string(p->amount_cents()));
      add(str(p->beneficiary()));
      break;
    }
    case fb::Payload::PaymentOrderSign:
      c.statement = "po_sign";
      add(str(q->payload_as_PaymentOrderSign()->order()));
      break;
    case fb::Payload::PaymentOrderCancel:
      c.statement = "po_cancel";
      add(str(q->payload_as_PaymentOrderCancel()->order()));
      break;
    case fb::Payload::AccountOpened: {
      const auto* p = q->payload_as_AccountOpened();
      c.statement = "account_opened";
      add(str(p->account()));
      add(str(p->owner_client()));
      add(boolean(p->deposit()));
      add(std::to_string(p->fiscal_year()));
      break;
    }
    case fb::Payload::RepresentativeRegistered: {
      const auto* p = q->payload_as_RepresentativeRegistered();
      c.statement = "representative";
      add(str(p->person()));
      add(boolean(p->head()));
      add(boolean(p->specimen_card()));
      break;
    }
    case fb::Payload::RightsGranted: {
      const auto* p = q->payload_as_RightsGranted();
      if (p->application() != nullptr && p->application()->size() > 0)
        die("rights under an application (R7) are outside the PostgreSQL subset");
      c.statement = "rights_granted";
      add(str(p->user()));
      add(str(p->account()));
      add(std::to_string(static_cast<int>(p->mode())));
      add(std::to_string(p->per_order_limit_cents()));
      add(std::to_string(p->daily_limit_cents()));
      add(str(p->owner_permission()));
      break;
    }
    case fb::Payload::LimitChangeOneDay: {
      const auto* p = q->payload_as_LimitChangeOneDay();
      c.statement = "limit_change";
      add(str(p->user()));
      add(str(p->account()));
      add(std::to_string(p->date()));
      add(std::to_string(p->per_order_limit_cents()));
      add(std::to_string(p->daily_limit_cents()));
      break;
    }
    default:
      die(std::string("payload ") + fb::EnumNamePayload(q->payload_type()) + " is outside the PostgreSQL subset");
  }
  // Means (R22) decide nothing while no person's means are recorded, and
  // MeansRegistered is outside the subset: a request's stated means are moot.
  return c;
}

struct PgConn {
  PGconn* conn = nullptr;
  ~PgConn() {
    if (conn != nullptr) PQfinish(conn);
  }
};

bool pg_exec(PGconn* conn, const std::string& sql, std::string* error) {
  PGresult* res = PQexec(conn, sql.c_str());
  const ExecStatusType st = PQresultStatus(res);
  const bool ok = st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK;
  if (!ok) *error = PQresultErrorMessage(res);
  PQclear(res);
  return ok;
}

/// Connects and, with `prepare`, prepares the calls (the schema must exist).
bool pg_connect(const std::string& conninfo, PgConn* c, std::string* error, bool prepare = true) {
  c->conn = PQconnectdb(conninfo.c_str());
  if (PQstatus(c->conn) != CONNECTION_OK) {
    *error = std::string("connect: ") + PQerrorMessage(c->conn);
    return false;
  }
  if (!prepare) return true;
  for (const PgStatement& s : kStatements) {
    PGresult* res = PQprepare(c->conn, s.name, s.sql, s.params, nullptr);
    const bool ok = PQresultStatus(res) == PGRES_COMMAND_OK;
    if (!ok) *error = std::string("prepare ") + s.name + ": " + PQresultErrorMessage(res);
    PQclear(res);
    if (!ok) return false;
  }
  return true;
}

/// Sends `calls` (indexes into `all`) in pipeline mode, one transaction per
/// call (a Sync after each), at most `depth` in flight; answers in order.
bool pg_pipeline(PGconn* conn, const std::vector<PgCall>& all, const std::vector<size_t>& calls, size_t depth,
                 const std::vector<Clock::time_point>* due, std::vector<std::string>* reasons,
                 std::vector<double>* latency_ms, std::string* error) {
  if (PQenterPipelineMode(conn) != 1 || PQsetnonblocking(conn, 1) != 0) {
    *error = std::string("pipeline mode: ") + PQerrorMessage(conn);
    return false;
  }
  std::vector<Clock::time_point> sent(calls.size());
  std::vector<const char*> values;
  size_t next = 0, done = 0;
  int phase = 0;  // of the call being answered: 0 its tuples, 1 its end (NULL), 2 its Sync
  std::string reason;
  while (done < calls.size()) {
    int wait_ms = 1000;
    while (next < calls.size() && next - done < depth) {
      if (due != nullptr) {
        // Paced: send when due; latency from the due time.
        const auto until = (*due)[calls[next]] - Clock::now();
        if (until > std::chrono::nanoseconds(0)) {
          wait_ms = std::clamp(static_cast<int>(std::chrono::duration_cast<std::chrono::milliseconds>(until).count()), 0, 1000);
          if (done == next) {
            std::this_thread::sleep_until((*due)[calls[next]]);
            continue;
          }
          break;
        }
        sent[next] = (*due)[calls[next]];
      } else {
        sent[next] = Clock::now();
      }
      const PgCall& c = all[calls[next]];
      values.clear();
      for (const auto& p : c.params) values.push_back(p.c_str());
      if (PQsendQueryPrepared(conn, c.statement, static_cast<int>(values.size()), values.data(), nullptr, nullptr, 0) != 1 ||
          PQpipelineSync(conn) != 1) {
        *error = std::string("send: ") + PQerrorMessage(conn);
        return false;
      }
      ++next;
    }
    const int flushed = PQflush(conn);
    if (flushed < 0) {
      *error = std::string("flush: ") + PQerrorMessage(conn);
      return false;
    }
    pollfd pfd{PQsocket(conn), static_cast<short>(POLLIN | (flushed == 1 ? POLLOUT : 0)), 0};
    if (::poll(&pfd, 1, wait_ms) < 0) {
      *error = "poll failed";
      return false;
    }
    if (PQconsumeInput(conn) != 1) {
      *error = std::string("receive: ") + PQerrorMessage(conn);
      return false;
    }
    while (done < next && PQisBusy(conn) == 0) {
      PGresult* res = PQgetResult(conn);
      if (phase == 1) {
        if (res != nullptr) {
          *error = "unexpected second result of a call";
          PQclear(res);
          return false;
        }
        phase = 2;
        continue;
      }
      if (res == nullptr) break;
      const ExecStatusType st = PQresultStatus(res);
      if (phase == 0 && st == PGRES_TUPLES_OK && PQntuples(res) == 1) {
        reason = PQgetvalue(res, 0, 0);
        phase = 1;
      } else if (phase == 2 && st == PGRES_PIPELINE_SYNC) {
        // The Sync's answer: the transaction committed (and, with
        // synchronous_commit, its WAL record is flushed).
        (*reasons)[calls[done]] = reason;
        if (latency_ms != nullptr)
          latency_ms->push_back(std::chrono::duration<double, std::milli>(Clock::now() - sent[done]).count());
        ++done;
        phase = 0;
      } else {
        *error = std::string("call ") + all[calls[done]].statement + " (request " + all[calls[done]].params[0] +
                 "): " + PQresStatus(st) + " " + PQresultErrorMessage(res);
        PQclear(res);
        return false;
      }
      PQclear(res);
    }
  }
  PQsetnonblocking(conn, 0);
  if (PQexitPipelineMode(conn) != 1) {
    *error = std::string("exit pipeline mode: ") + PQerrorMessage(conn);
    return false;
  }
  return true;
}

std::string read_text(const std::string& path) {
  std::ifstream in(path);
  if (!in) die("cannot read " + path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

/// Sends `calls` over the connections: those with the same key (client or
/// account) on the same connection, in order.
bool pg_round(std::vector<PgConn>& conns, const std::vector<PgCall>& calls, const std::vector<int>& client_of,
              size_t window, double rate, std::vector<std::string>* reasons, std::vector<double>* latency_ms,
              std::string* error) {
  const size_t n = conns.size();
  std::vector<std::vector<size_t>> per(n);
  for (size_t i = 0; i < calls.size(); ++i) per[static_cast<size_t>(client_of[i]) % n].push_back(i);
  reasons->assign(calls.size(), "");
  std::vector<std::vector<double>> lat(n);
  std::vector<std::string> errors(n);
  std::vector<char> oks(n, 0);
  std::vector<std::thread> threads;
  const size_t depth = std::max<size_t>(1, window / n);
  std::vector<Clock::time_point> due;
  if (rate > 0) {
    const Clock::time_point start = Clock::now();
    for (size_t i = 0; i < calls.size(); ++i) due.push_back(due_at(start, i, rate));
  }
  for (size_t k = 0; k < n; ++k) {
    threads.emplace_back([&, k] {
      oks[k] = pg_pipeline(conns[k].conn, calls, per[k], depth, rate > 0 ? &due : nullptr, reasons,
                           latency_ms ? &lat[k] : nullptr, &errors[k]);
    });
  }
  for (auto& t : threads) t.join();
  for (size_t k = 0; k < n; ++k) {
    if (!oks[k]) {
      *error = "connection " + std::to_string(k) + ": " + errors[k];
      return false;
    }
    if (latency_ms != nullptr) latency_ms->insert(latency_ms->end(), lat[k].begin(), lat[k].end());
  }
  return true;
}

RunResult run_postgres(const Options& o, const Workload& wl, bool by_account) {
  RunResult res;
  res.system = by_account ? "postgres_wide" : "postgres";
  PgConn admin;
  if (!pg_connect(o.pg, &admin, &res.error, false)) return res;
  if (!pg_exec(admin.conn, "SET client_min_messages = warning; " + read_text(o.pg_sql), &res.error)) {
    res.error = "schema: " + res.error;
    return res;
  }
  // R32: the public holidays from kase's calendar (a user would load the published list).
  engine::BusinessCalendar calendar;
  std::string holidays = "INSERT INTO ekase.holiday VALUES ";
  bool first = true;
  for (int64_t days = engine::days_from_ymd(20250101); days <= engine::days_from_ymd(20271231); ++days) {
    const engine::DateYmd d = engine::ymd_from_days(days);
    const int64_t weekday = ((days % 7) + 7 + 3) % 7;  // 1970-01-01 was a Thursday: 0 = Monday
    if (weekday < 5 && !calendar.is_business_day(d)) {
      char buf[32];
      std::snprintf(buf, sizeof buf, "%s('%04d-%02d-%02d')", first ? "" : ",", d / 10000, d / 100 % 100, d % 100);
      holidays += buf;
      first = false;
    }
  }
  if (!pg_exec(admin.conn, holidays, &res.error)) {
    res.error = "holidays: " + res.error;
    return res;
  }
  {
    std::string e;
    PGresult* q = PQexec(admin.conn, "SHOW synchronous_commit");
    res.extra["synchronous_commit_on"] = std::string(PQgetvalue(q, 0, 0)) == "on" ? 1 : 0;
    PQclear(q);
    q = PQexec(admin.conn, "SHOW fsync");
    res.extra["fsync_on"] = std::string(PQgetvalue(q, 0, 0)) == "on" ? 1 : 0;
    PQclear(q);
  }
  const int keys = by_account ? static_cast<int>(wl.accounts) : wl.clients;
  const int conns_n = std::max(1, std::min(by_account ? o.pg_wide_connections : o.pg_connections, keys));
  std::vector<PgConn> conns(static_cast<size_t>(conns_n));
  for (auto& c : conns)
    if (!pg_connect(o.pg, &c, &res.error)) return res;
  std::vector<PgCall> setup, flood, paced;
  for (const auto& b : wl.setup) setup.push_back(pg_call(b));
  for (size_t i = 0; i < wl.stream.size(); ++i) (i < wl.paced_from ? flood : paced).push_back(pg_call(wl.stream[i]));
  const std::vector<int>& key = by_account ? wl.account_of_stream : wl.client_of_stream;
  const std::vector<int> flood_key(key.begin(), key.begin() + static_cast<long>(wl.paced_from));
  const std::vector<int> paced_key(key.begin() + static_cast<long>(wl.paced_from), key.end());
  if (!pg_round(conns, setup, wl.client_of_setup, o.window, 0, &res.setup_reasons, nullptr, &res.error)) return res;
  std::vector<double> latency_ms;
  Clock::time_point start = Clock::now();
  if (!pg_round(conns, flood, flood_key, o.window, 0, &res.reasons, &latency_ms, &res.error)) return res;
  finish(&res, flood.size(), latency_ms, start, Clock::now());
  std::vector<std::string> paced_reasons;
  latency_ms.clear();
  start = Clock::now();
  if (!pg_round(conns, paced, paced_key, o.window, o.paced_rate, &paced_reasons, &latency_ms, &res.error)) return res;
  finish_paced(&res, paced.size(), latency_ms, start, Clock::now());
  res.reasons.insert(res.reasons.end(), paced_reasons.begin(), paced_reasons.end());
  res.extra["connections"] = conns_n;
  res.extra["ordered_by_account"] = by_account ? 1 : 0;
  res.ok = true;
  return res;
}

// ---- Memory per grant and per open order ------------------------------------

size_t heap_bytes() { return mallinfo2().uordblks; }

/// kase holds its state in memory (the engine's tables) and persists it in
/// RocksDB; this measures the heap the engine's state takes: the setup per
/// grant, then `orders` prepared (open) orders per order.
void kase_memory(const Workload& wl, size_t orders, RunResult* out) {
  World w(kClients);
  std::vector<std::string> opens;
  opens.reserve(orders);
  const Client& c = w.clients()[0];
  for (size_t i = 0; i < orders; ++i) {
    const PaymentAccount& a = c.accounts[i % kAccountsPerClient];
    const int64_t t = w.order_time(i, orders);
    opens.push_back(events::po_prepare(events::Envelope{w.next_id("mem"), c.id, a.sig2[0], Channel::portal, t},
                                       c.id + "-OPEN-" + std::to_string(i), a.iban, 100 * kEur, "LV00HABA0551000000001"));
  }
  const auto setup = verified(wl.setup);
  const auto open = verified(opens);
  const size_t h0 = heap_bytes();
  auto engine = std::make_unique<engine::Engine>();
  for (const fb::Request* q : setup) {
    if (!engine->apply(*q).accepted) die("memory: a setup request was rejected");
  }
  (void)engine->take_dirty();
  const size_t h1 = heap_bytes();
  for (size_t i = 0; i < open.size(); ++i) {
    if (!engine->apply(*open[i]).accepted) die("memory: an open order was rejected");
    if (i % 4096 == 4095) (void)engine->take_dirty();
  }
  (void)engine->take_dirty();
  const size_t h2 = heap_bytes();
  if (h1 <= h0 || h2 <= h1) {
    // Sanitizer builds allocate outside glibc's arenas, where mallinfo2 does not look.
    std::fprintf(stderr, "kase_compare: the heap did not grow as seen by mallinfo2 (a sanitizer build?): "
                         "no kase memory figures\n");
    return;
  }
  out->extra["bytes_per_grant"] = static_cast<double>(h1 - h0) / static_cast<double>(wl.grants);
  out->extra["bytes_per_open_order"] = static_cast<double>(h2 - h1) / static_cast<double>(orders);
  out->extra["memory_orders"] = static_cast<double>(orders);
}

/// PostgreSQL: the tables' total size (heap, TOAST, indexes) over their rows,
/// after the run (grants: grants + limit changes; orders: payment orders + day totals).
void pg_memory(const Options& o, RunResult* out) {
  PgConn c;
  std::string e;
  if (!pg_connect(o.pg, &c, &e, false)) die("memory: " + e);
  PGresult* q = PQexec(c.conn,
                       "VACUUM ANALYZE ekase.grants; VACUUM ANALYZE ekase.payment_order; VACUUM ANALYZE ekase.day_total; "
                       "VACUUM ANALYZE ekase.limit_change");
  PQclear(q);
  q = PQexec(c.conn,
             "SELECT (pg_total_relation_size('ekase.grants') + pg_total_relation_size('ekase.limit_change'))::float8 / "
             "(SELECT count(*) FROM ekase.grants), "
             "(pg_total_relation_size('ekase.payment_order') + pg_total_relation_size('ekase.day_total'))::float8 / "
             "(SELECT count(*) FROM ekase.payment_order), "
             "(SELECT count(*) FROM ekase.payment_order WHERE status = 0)");
  if (PQresultStatus(q) != PGRES_TUPLES_OK) die(std::string("memory: ") + PQresultErrorMessage(q));
  out->extra["bytes_per_grant"] = std::stod(PQgetvalue(q, 0, 0));
  out->extra["bytes_per_order"] = std::stod(PQgetvalue(q, 0, 1));
  out->extra["open_orders_at_end"] = std::stod(PQgetvalue(q, 0, 2));
  PQclear(q);
}

// ---- Main ------------------------------------------------------------------------

std::string json_escape(const std::string& s) {
  std::string out;
  for (char ch : s) {
    if (ch == '"' || ch == '\\') out.push_back('\\');
    if (static_cast<unsigned char>(ch) < 0x20) continue;
    out.push_back(ch);
  }
  return out;
}

Options parse(int argc, char** argv) {
  Options o;
  bool requests_set = false, window_set = false;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "kase_compare: %s needs a value\n%s", a.c_str(), kUsage);
        std::exit(2);
      }
      return argv[++i];
    };
    auto number = [&](const std::string& v) -> unsigned long {
      try {
        size_t used = 0;
        const unsigned long n = std::stoul(v, &used);
        if (used == v.size() && n > 0) return n;
      } catch (const std::exception&) {
      }
      std::fprintf(stderr, "kase_compare: %s wants a positive number, not '%s'\n", a.c_str(), v.c_str());
      std::exit(2);
    };
    if (a == "--help" || a == "-h") {
      std::fputs(kUsage, stdout);
      std::exit(0);
    } else if (a == "--systems") {
      o.systems.clear();
      std::stringstream ss(next());
      for (std::string s; std::getline(ss, s, ',');) {
        if (s != "embedded" && s != "kafka" && s != "postgres" && s != "postgres_wide") {
          std::fprintf(stderr, "kase_compare: unknown system '%s' (embedded, kafka, postgres, postgres_wide)\n",
                       s.c_str());
          std::exit(2);
        }
        o.systems.push_back(s);
      }
    } else if (a == "--requests") {
      o.requests = number(next());
      requests_set = true;
    } else if (a == "--paced-requests") {
      o.paced_requests = number(next());
    } else if (a == "--paced-rate") {
      o.paced_rate = static_cast<double>(number(next()));
    } else if (a == "--scale") {
      o.scale = static_cast<int>(number(next()));
    } else if (a == "--window") {
      o.window = number(next());
      window_set = true;
    } else if (a == "--data") {
      o.data = next();
    } else if (a == "--pg") {
      o.pg = next();
    } else if (a == "--pg-sql") {
      o.pg_sql = next();
    } else if (a == "--pg-connections") {
      o.pg_connections = static_cast<int>(number(next()));
    } else if (a == "--pg-wide-connections") {
      o.pg_wide_connections = static_cast<int>(number(next()));
    } else if (a == "--brokers") {
      o.brokers = next();
    } else if (a == "--partitions") {
      o.partitions = static_cast<int>(number(next()));
    } else if (a == "--memory") {
      o.memory = true;
    } else if (a == "--seed") {
      o.seed = number(next());
    } else if (a == "--out") {
      o.out = next();
    } else if (a == "--tiny") {
      o.tiny = true;
    } else {
      std::fprintf(stderr, "kase_compare: unknown option '%s'\n\n%s", a.c_str(), kUsage);
      std::exit(2);
    }
  }
  if (o.tiny) {
    if (!requests_set) o.requests = 2'000;
    if (!window_set) o.window = 256;
    o.paced_requests = std::min<size_t>(o.paced_requests, 200);
  }
  auto wants = [&](const char* s) { return std::find(o.systems.begin(), o.systems.end(), s) != o.systems.end(); };
  if ((wants("embedded") || wants("kafka")) && o.data.empty()) {
    std::fprintf(stderr, "kase_compare: --data DIR is required for embedded and kafka\n");
    std::exit(2);
  }
  if ((wants("postgres") || wants("postgres_wide")) && o.pg.empty()) {
    std::fprintf(stderr, "kase_compare: --pg CONNINFO is required for postgres (bench/compare starts one)\n");
    std::exit(2);
  }
  if (wants("kafka") && o.brokers.empty()) {
    std::fprintf(stderr, "kase_compare: --brokers B is required for kafka (bench/compare starts one)\n");
    std::exit(2);
  }
  if (o.systems.empty()) {
    std::fprintf(stderr, "kase_compare: --systems names no system\n");
    std::exit(2);
  }
  return o;
}

int main_(int argc, char** argv) {
  const Options o = parse(argc, argv);
  if (!o.data.empty()) fs::create_directories(o.data);
  std::fprintf(stderr, "kase_compare: building the workload (scale %d, %zu requests, seed %llu)\n", o.scale,
               o.requests, static_cast<unsigned long long>(o.seed));
  const Workload wl = build_workload(o.requests, o.paced_requests, o.scale, o.seed);
  std::fprintf(stderr,
               "kase_compare: %d clients, %zu payment accounts, %zu users, %zu grants, %zu setup + %zu timed requests\n",
               wl.clients, wl.accounts, wl.users, wl.grants, wl.setup.size(), wl.stream.size());

  std::vector<RunResult> results;
  for (const std::string& s : o.systems) {
    std::fprintf(stderr, "kase_compare: running %s\n", s.c_str());
    RunResult r = s == "embedded" ? run_embedded(o, wl)
                  : s == "kafka"  ? run_kafka(o, wl)
                                  : run_postgres(o, wl, s == "postgres_wide");
    if (r.ok && o.memory && s == "embedded") kase_memory(wl, o.tiny ? 2'000 : 200'000, &r);
    if (r.ok && o.memory && s.starts_with("postgres")) pg_memory(o, &r);
    if (!r.ok) std::fprintf(stderr, "kase_compare: %s failed: %s\n", s.c_str(), r.error.c_str());
    results.push_back(std::move(r));
  }

  // Decisions: each system against the first, request by request; kase's
  // against the plan.
  bool ok = true;
  size_t disagreements = 0;
  std::map<std::string, size_t> by_reason;
  for (const RunResult& r : results) ok = ok && r.ok;
  if (ok) {
    const RunResult& base = results.front();
    for (size_t k = 1; k < results.size(); ++k) {
      const RunResult& other = results[k];
      for (size_t i = 0; i < wl.setup.size(); ++i) {
        if (base.setup_reasons[i] != other.setup_reasons[i] && disagreements++ < 10)
          std::fprintf(stderr, "kase_compare: setup request %zu: %s says %s, %s says %s\n", i, base.system.c_str(),
                       base.setup_reasons[i].c_str(), other.system.c_str(), other.setup_reasons[i].c_str());
      }
      for (size_t i = 0; i < wl.stream.size(); ++i) {
        if (base.reasons[i] != other.reasons[i] && disagreements++ < 10) {
          const fb::Request* q = events::verify_request(events::bytes_of(wl.stream[i]));
          std::fprintf(stderr, "kase_compare: request %s (%s by %s): %s says %s, %s says %s\n",
                       q->request_id()->c_str(), fb::EnumNamePayload(q->payload_type()), q->actor()->c_str(),
                       base.system.c_str(), base.reasons[i].c_str(), other.system.c_str(), other.reasons[i].c_str());
        }
      }
    }
    for (const RunResult& r : results) {
      if (r.system.starts_with("postgres")) continue;  // kase's decisions against the plan
      for (size_t i = 0; i < wl.setup.size(); ++i) {
        if (r.setup_reasons[i] != r::kOk && disagreements++ < 10)
          std::fprintf(stderr, "kase_compare: %s rejected setup request %zu: %s\n", r.system.c_str(), i,
                       r.setup_reasons[i].c_str());
      }
      for (size_t i = 0; i < wl.stream.size(); ++i) {
        if (!wl.expect[i].empty() && r.reasons[i] != wl.expect[i] && disagreements++ < 10) {
          const fb::Request* q = events::verify_request(events::bytes_of(wl.stream[i]));
          std::fprintf(stderr, "kase_compare: %s: request %s (%s by %s) decided %s, planned %s\n", r.system.c_str(),
                       q->request_id()->c_str(), fb::EnumNamePayload(q->payload_type()), q->actor()->c_str(),
                       r.reasons[i].c_str(), wl.expect[i].c_str());
        }
      }
    }
    for (const std::string& reason : base.reasons) ++by_reason[reason];
    if (disagreements > 0) {
      std::fprintf(stderr, "kase_compare: %zu decisions differ\n", disagreements);
      ok = false;
    }
    // The plan's rejections must be there: R9 both ways and the modes.
    for (const char* code : {r::kPerOrderExceeded, r::kDailyExceeded, r::kModeViewOnly, r::kModeCannotPrepare,
                             r::kModeCannotSign, r::kOutOfOrder}) {
      if (by_reason[code] == 0 && wl.stream.size() >= 2'000) {
        std::fprintf(stderr, "kase_compare: no %s decision in the stream\n", code);
        ok = false;
      }
    }
  }

  const RunResult* pg = nullptr;
  for (const RunResult& r : results)
    if (r.system == "postgres" && r.ok) pg = &r;
  size_t rejected = 0;
  for (const auto& [reason, n] : by_reason)
    if (reason != r::kOk) rejected += n;
  std::printf("scale %dx: %d clients, %zu accounts, %zu grants; %zu requests (%.1f%% rejected); %s\n", o.scale,
              wl.clients, wl.accounts, wl.grants, wl.stream.size(),
              wl.stream.empty() ? 0.0 : 100.0 * static_cast<double>(rejected) / static_cast<double>(wl.stream.size()),
              ok ? "all decisions equal" : "DECISIONS DIFFER OR A SYSTEM FAILED");
  for (const RunResult& r : results) {
    if (!r.ok) {
      std::printf("  %-14s failed: %s\n", r.system.c_str(), r.error.c_str());
      continue;
    }
    std::printf("  %-14s %9.0f requests/s  p50 %8.2f ms  p99 %8.2f ms | paced %5.0f/s: p50 %7.2f ms  p99 %7.2f ms",
                r.system.c_str(), r.per_second, r.p50_ms, r.p99_ms, r.paced_per_second, r.paced_p50_ms, r.paced_p99_ms);
    if (pg != nullptr && r.system.starts_with("kase")) std::printf("  %6.1fx PostgreSQL", r.per_second / pg->per_second);
    std::printf("\n");
  }

  if (!o.out.empty()) {
    std::string j = "{\n  \"scale\": " + std::to_string(o.scale) + ", \"clients\": " + std::to_string(wl.clients) +
                    ", \"payment_accounts\": " + std::to_string(wl.accounts) + ", \"users\": " +
                    std::to_string(wl.users) + ", \"grants\": " +
                    std::to_string(wl.grants) + ",\n  \"setup_requests\": " + std::to_string(wl.setup.size()) +
                    ", \"requests\": " + std::to_string(wl.paced_from) + ", \"paced_requests\": " +
                    std::to_string(wl.stream.size() - wl.paced_from) + ", \"window\": " +
                    std::to_string(o.window) + ", \"seed\": " + std::to_string(o.seed) +
                    ", \"decisions_equal\": " + (ok ? "true" : "false") + ",\n  \"decisions\": {";
    bool first = true;
    for (const auto& [reason, n] : by_reason) {
      j += std::string(first ? "" : ", ") + "\"" + json_escape(reason) + "\": " + std::to_string(n);
      first = false;
    }
    j += "},\n  \"systems\": [\n";
    for (size_t k = 0; k < results.size(); ++k) {
      const RunResult& r = results[k];
      char line[1024];
      std::snprintf(line, sizeof line,
                    "    {\"system\": \"%s\", \"ok\": %s, \"error\": \"%s\", \"seconds\": %.3f, "
                    "\"requests_per_second\": %.0f, \"p50_ms\": %.3f, \"p99_ms\": %.3f, \"max_ms\": %.3f, "
                    "\"ratio_to_postgres\": %.2f, \"paced_offered_per_second\": %.0f, \"paced_per_second\": %.0f, "
                    "\"paced_p50_ms\": %.3f, \"paced_p99_ms\": %.3f",
                    r.system.c_str(), r.ok ? "true" : "false", json_escape(r.error).c_str(), r.seconds, r.per_second,
                    r.p50_ms, r.p99_ms, r.max_ms, pg != nullptr && r.ok ? r.per_second / pg->per_second : 0.0,
                    o.paced_rate, r.paced_per_second, r.paced_p50_ms, r.paced_p99_ms);
      j += line;
      for (const auto& [key, v] : r.extra) {
        std::snprintf(line, sizeof line, ", \"%s\": %.1f", key.c_str(), v);
        j += line;
      }
      j += std::string("}") + (k + 1 < results.size() ? "," : "") + "\n";
    }
    j += "  ]\n}\n";
    std::ofstream(o.out) << j;
  }
  return ok ? 0 : 1;
}

}  // namespace
}  // namespace kase::bench

int main(int argc, char** argv) { return kase::bench::main_(argc, argv); }
