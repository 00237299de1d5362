// End to end through a real Kafka broker: intake (channel producer) →
// kase.requests → engine node (fold, transaction with the decisions and the
// input offsets, RocksDB state) → kase.decisions → a read_committed consumer.
//
// Latency is per request: from the moment the channel hands it to the
// producer to the moment its decision is visible to a read_committed
// consumer. Throughput is requests over the time from the first send to the
// last decision seen. After an untimed warm-up, three runs:
//   flood      — every request offered at once (the node's capacity);
//   paced      — offered at a fixed rate (default 50,000/s, the target);
//   paced_low  — offered at a lower rate (default 5,000/s), below this
//                machine's capacity: the latency a channel sees there.
// The engine node runs in this process on its own thread, like `kase run`.
//
// Usage: kase_kafka_bench --brokers B --data DIR [--requests N] [--warmup N] [--rate R]
//                          [--low-requests N] [--low-rate R] [--batch N] [--batch-ms MS]
//                          [--partitions P] [--out FILE.json] [--tiny]
// The topics must not exist yet (a fresh broker): the run creates them.
#include <librdkafka/rdkafkacpp.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "kase/adapters/kafka.h"
#include "world.h"

namespace {

using namespace kase;
using Clock = std::chrono::steady_clock;

struct Options {
  std::string brokers, data, out;
  size_t requests = 200'000;
  double rate = 50'000;
  size_t warmup = 50'000;
  size_t low_requests = 15'000;
  double low_rate = 5'000;
  int partitions = 4;
  size_t batch_max = adapters::kafka::NodeOptions{}.batch_max;  // `kase run`'s defaults
  int batch_ms = adapters::kafka::NodeOptions{}.batch_ms;
};

// The paced feeder sleeps at least this long when it is ahead of the
// schedule and then sends everything due: one wake-up per tick, not one per
// request (at 50,000/s a sleep per request cost more CPU than the producer).
constexpr auto kPaceTick = std::chrono::milliseconds(1);

struct Result {
  std::string name;
  size_t requests = 0;
  double seconds = 0, per_second = 0, p50_ms = 0, p99_ms = 0, max_ms = 0, offered = 0;
  std::vector<double> p99_ms_per_second;  // paced runs: by the second a request was sent in
  bool ok = false;
};

double pct(std::vector<double>& v, double q) {
  if (v.empty()) return 0;
  const size_t i = std::min(v.size() - 1, static_cast<size_t>(q * static_cast<double>(v.size() - 1) + 0.5));
  std::nth_element(v.begin(), v.begin() + static_cast<long>(i), v.end());
  return v[i];
}

/// The channel's side of the runs: one long-lived producer (a channel keeps
/// its producer open) and one read_committed consumer of every partition of
/// kase.decisions, both opened before the warm-up, so that no timed run pays
/// for a connection, a metadata request, InitProducerId or a consumer's first
/// offset lookup, which a channel in service has long done.
struct Channel {
  std::unique_ptr<adapters::kafka::RequestProducer> producer;
  std::unique_ptr<RdKafka::KafkaConsumer> consumer;

  Status open(const Options& o) {
    if (Status s = adapters::kafka::RequestProducer::open(o.brokers, &producer); !s.ok()) return s;
    std::string err;
    std::unique_ptr<RdKafka::Conf> conf(RdKafka::Conf::create(RdKafka::Conf::CONF_GLOBAL));
    for (const auto& [k, v] : std::vector<std::pair<std::string, std::string>>{
             {"bootstrap.servers", o.brokers},
             {"group.id", "kase-bench-reader"},
             {"enable.auto.commit", "false"},
             {"isolation.level", "read_committed"},
             {"fetch.wait.max.ms", "5"},
             {"socket.nagle.disable", "true"}})
      if (conf->set(k, v, err) != RdKafka::Conf::CONF_OK) return {Errc::invalid_argument, k + ": " + err};
    consumer.reset(RdKafka::KafkaConsumer::create(conf.get(), err));
    if (!consumer) return {Errc::io_error, "create consumer: " + err};
    // From the current end: decisions of an earlier bench are not ours.
    std::vector<RdKafka::TopicPartition*> tps;
    for (int p = 0; p < o.partitions; ++p) {
      int64_t low = 0, high = 0;
      if (consumer->query_watermark_offsets(adapters::kafka::kDecisionsTopic, p, &low, &high, 10'000) !=
          RdKafka::ERR_NO_ERROR)
        high = RdKafka::Topic::OFFSET_BEGINNING;
      tps.push_back(RdKafka::TopicPartition::create(adapters::kafka::kDecisionsTopic, p, high));
    }
    const RdKafka::ErrorCode e = consumer->assign(tps);
    RdKafka::TopicPartition::destroy(tps);
    if (e != RdKafka::ERR_NO_ERROR) return {Errc::io_error, "assign: " + RdKafka::err2str(e)};
    return {};
  }
  ~Channel() {
    if (consumer) consumer->close();
  }
};

/// Produces `bytes` (paced at `rate` per second, 0 = all at once) through the
/// channel while its consumer waits for every decision; returns the numbers.
/// Every earlier run's decisions have been seen, so whatever the consumer
/// reads next belongs to this run.
Result run(Channel& ch, const std::string& name, const std::vector<std::string>& bytes, double rate) {
  Result r;
  r.name = name;
  r.requests = bytes.size();
  r.offered = rate;
  std::unordered_map<std::string, size_t> index;
  index.reserve(bytes.size() * 2);
  for (size_t i = 0; i < bytes.size(); ++i) {
    const fb::Request* req = events::verify_request(events::bytes_of(bytes[i]));
    index.emplace(req->request_id()->str(), i);
  }
  std::vector<Clock::time_point> sent(bytes.size());
  std::vector<double> latency_ms;
  latency_ms.reserve(bytes.size());
  // Paced runs: the latencies by the second their requests were sent in,
  // so that a start-up tail and the steady state can be told apart.
  std::vector<std::vector<double>> by_second(
      rate > 0 ? std::max<size_t>(1, static_cast<size_t>(static_cast<double>(bytes.size()) / rate + 0.999)) : 1);
  adapters::kafka::RequestProducer* producer = ch.producer.get();
  RdKafka::KafkaConsumer* c = ch.consumer.get();
  std::atomic<bool> produce_failed{false};
  const Clock::time_point start = Clock::now();
  std::thread feeder([&] {
    for (size_t i = 0; i < bytes.size(); ++i) {
      if (rate > 0) {
        const auto due = start + std::chrono::nanoseconds(static_cast<int64_t>(1e9 * static_cast<double>(i) / rate));
        if (const auto now = Clock::now(); now < due)
          std::this_thread::sleep_until(std::max(due, now + kPaceTick));
      }
      sent[i] = Clock::now();
      if (!producer->produce(events::bytes_of(bytes[i])).ok()) {
        produce_failed = true;
        return;
      }
    }
    if (!producer->flush(120'000).ok()) produce_failed = true;
  });

  size_t seen = 0;
  Clock::time_point last = start;
  const auto deadline = start + std::chrono::seconds(600);
  std::string aligned;
  while (seen < bytes.size() && Clock::now() < deadline && !produce_failed) {
    std::unique_ptr<RdKafka::Message> m(c->consume(100));
    if (!m || m->err() != RdKafka::ERR_NO_ERROR) continue;
    const Clock::time_point now = Clock::now();
    aligned.assign(static_cast<const char*>(m->payload()), m->len());
    const fb::LogRecord* rec = events::verify_log_record(events::bytes_of(aligned));
    if (rec == nullptr || rec->decision() == nullptr || rec->decision()->request_id() == nullptr) continue;
    auto it = index.find(rec->decision()->request_id()->str());
    if (it == index.end()) continue;
    latency_ms.push_back(std::chrono::duration<double, std::milli>(now - sent[it->second]).count());
    by_second[std::min(by_second.size() - 1,
                       static_cast<size_t>(std::chrono::duration<double>(sent[it->second] - start).count()))]
        .push_back(latency_ms.back());
    ++seen;
    last = now;
  }
  feeder.join();
  r.ok = seen == bytes.size() && !produce_failed;
  r.seconds = std::chrono::duration<double>(last - start).count();
  r.per_second = static_cast<double>(seen) / std::max(r.seconds, 1e-9);
  r.p50_ms = pct(latency_ms, 0.50);
  r.p99_ms = pct(latency_ms, 0.99);
  if (rate > 0)
    for (auto& v : by_second) r.p99_ms_per_second.push_back(pct(v, 0.99));
  r.max_ms = latency_ms.empty() ? 0 : *std::max_element(latency_ms.begin(), latency_ms.end());
  if (!r.ok) std::fprintf(stderr, "kafka_bench: %s: only %zu of %zu decisions seen\n", name.c_str(), seen, bytes.size());
  return r;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "kafka_bench: %s needs a value\n", a.c_str());
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--brokers") o.brokers = next();
    else if (a == "--data") o.data = next();
    else if (a == "--out") o.out = next();
    else if (a == "--requests") o.requests = std::stoul(next());
    else if (a == "--rate") o.rate = std::stod(next());
    else if (a == "--partitions") o.partitions = std::stoi(next());
    else if (a == "--warmup") o.warmup = std::stoul(next());
    else if (a == "--low-requests") o.low_requests = std::stoul(next());
    else if (a == "--low-rate") o.low_rate = std::stod(next());
    else if (a == "--batch") o.batch_max = std::stoul(next());
    else if (a == "--batch-ms") o.batch_ms = std::stoi(next());
    else if (a == "--tiny") {
      o.requests = 3'000;
      o.warmup = 1'000;
      o.low_requests = 1'000;
    }
    else {
      std::fprintf(stderr, "usage: kase_kafka_bench --brokers B --data DIR [--requests N] [--rate R] "
                           "[--warmup N] [--low-requests N] [--low-rate R] [--batch N] [--batch-ms MS] "
                           "[--partitions P] [--out FILE.json] [--tiny]\n");
      return 2;
    }
  }
  if (o.brokers.empty() || o.data.empty()) {
    std::fprintf(stderr, "kafka_bench: --brokers and --data are required\n");
    return 2;
  }
  std::string report;
  adapters::kafka::TopicSettings ts;
  ts.partitions = o.partitions;
  if (Status s = adapters::kafka::init_topics(o.brokers, ts, &report); !s.ok()) {
    std::fprintf(stderr, "kafka_bench: %s\n", s.to_string().c_str());
    return 1;
  }
  // One stream in parts (request ids are the idempotency key): an untimed
  // warm-up, so that a fresh broker's JIT compilation (about half of its CPU
  // in its first seconds, measured with perf) is not taken for the steady
  // state; then the flood run's half of --requests, the paced run's half, and
  // the low-rate run's --low-requests.
  bench::Pool pool = bench::build_pool(o.requests + o.warmup + o.low_requests);
  const size_t total = pool.bytes.size();
  const size_t warm = std::min(o.warmup, total);
  const size_t low = std::min(o.low_requests, total - warm);
  const size_t half = (total - warm - low) / 2;
  const auto at = [&](size_t i) { return pool.bytes.begin() + static_cast<long>(i); };
  std::vector<std::string> warmup(at(0), at(warm));
  std::vector<std::string> flood(at(warm), at(warm + half));
  std::vector<std::string> paced(at(warm + half), at(warm + 2 * half));
  std::vector<std::string> paced_low(at(warm + 2 * half), pool.bytes.end());

  std::atomic<bool> stop{false};
  adapters::kafka::NodeOptions no;
  no.brokers = o.brokers;
  no.data_dir = o.data;
  no.batch_max = o.batch_max;
  no.batch_ms = o.batch_ms;
  no.stop = &stop;
  no.verbose = false;
  adapters::kafka::NodeStats stats;
  Status node_status;
  std::thread node([&] { node_status = adapters::kafka::run_node(no, &stats); });

  Channel ch;
  if (Status s = ch.open(o); !s.ok()) {
    stop = true;
    node.join();
    std::fprintf(stderr, "kafka_bench: %s\n", s.to_string().c_str());
    return 1;
  }
  // Warm-up, untimed: the node joins its group and decides the setup.
  if (const Result w = run(ch, "setup", pool.setup_bytes, 0); !w.ok) {
    stop = true;
    node.join();
    std::fprintf(stderr, "kafka_bench: the setup was not decided\n");
    return 1;
  }
  if (!warmup.empty() && !run(ch, "warm-up", warmup, 0).ok) {
    stop = true;
    node.join();
    std::fprintf(stderr, "kafka_bench: the warm-up was not decided\n");
    return 1;
  }
  std::vector<Result> results;
  results.push_back(run(ch, "kafka_e2e/flood", flood, 0));
  results.push_back(run(ch, "kafka_e2e/paced", paced, o.rate));
  if (!paced_low.empty()) results.push_back(run(ch, "kafka_e2e/paced_low", paced_low, o.low_rate));
  stop = true;
  node.join();
  bool ok = node_status.ok();
  if (!node_status.ok()) std::fprintf(stderr, "kafka_bench: node: %s\n", node_status.to_string().c_str());

  std::string json = "{\n  \"context\": {\"partitions\": " + std::to_string(o.partitions) +
                     ", \"transactions\": " + std::to_string(stats.transactions.load()) +
                     ", \"aborted\": " + std::to_string(stats.aborted.load()) + "},\n  \"benchmarks\": [\n";
  for (size_t i = 0; i < results.size(); ++i) {
    const Result& r = results[i];
    ok = ok && r.ok;
    std::printf("%-16s %8zu requests  %9.0f requests/s  p50 %7.1f ms  p99 %7.1f ms  max %7.1f ms%s\n",
                r.name.c_str(), r.requests, r.per_second, r.p50_ms, r.p99_ms, r.max_ms,
                r.offered > 0 ? ("  (offered " + std::to_string(static_cast<long>(r.offered)) + "/s)").c_str() : "");
    char line[512];
    std::snprintf(line, sizeof line,
                  "    {\"name\": \"%s\", \"requests\": %zu, \"seconds\": %.3f, \"requests_per_second\": %.0f, "
                  "\"offered_per_second\": %.0f, \"p50_ms\": %.2f, \"p99_ms\": %.2f, \"max_ms\": %.2f, \"ok\": %s, "
                  "\"p99_ms_per_second\": [",
                  r.name.c_str(), r.requests, r.seconds, r.per_second, r.offered, r.p50_ms, r.p99_ms, r.max_ms,
                  r.ok ? "true" : "false");
    json += line;
    std::string by;
    for (const double v : r.p99_ms_per_second) {
      std::snprintf(line, sizeof line, "%s%.1f", by.empty() ? "" : ", ", v);
      by += line;
    }
    json += by + "]}" + (i + 1 < results.size() ? ",\n" : "\n");
    if (!by.empty()) std::printf("%-16s p99 by second sent: %s ms\n", "", by.c_str());
  }
  json += "  ]\n}\n";
  if (!o.out.empty()) std::ofstream(o.out) << json;
  return ok ? 0 : 1;
}
