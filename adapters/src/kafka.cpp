#include "kase/adapters/kafka.h"

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafkacpp.h>

#include <chrono>
#include <cstring>
#include <cstdio>
#include <filesystem>
#include <future>
#include <map>
#include <optional>
#include <thread>

#include "kase/adapters/ledger.h"
#include "kase/adapters/metrics.h"
#include "kase/events/build.h"
#include "kase/events/codec.h"
#include "kase/projections/store.h"

namespace kase::adapters::kafka {
namespace {

using Clock = std::chrono::steady_clock;

// Named limits and timeouts.
constexpr int kAdminTimeoutMs = 30'000;
constexpr int kInitTransactionsTimeoutMs = 60'000;
constexpr int kCommittedTimeoutMs = 30'000;
constexpr int kSeekTimeoutMs = 10'000;
constexpr int kAbortTimeoutMs = 10'000;
constexpr int kIdlePollMs = 100;
constexpr int kRetryBackoffMs = 500;
/// One metadata request's bound. librdkafka sends it to a single broker; when
/// that broker dies with the request in flight the call waits out its whole
/// timeout, where a new request would go to a broker that is up. So metadata
/// is asked in short attempts until kAdminTimeoutMs has passed.
constexpr int kMetadataAttemptMs = 5'000;

Status kafka_error(const std::string& what, const std::string& detail) {
  return {Errc::io_error, what + ": " + detail};
}

/// Sets every key of a configuration; the first failure is the error.
Status configure(RdKafka::Conf* conf, std::initializer_list<std::pair<const char*, std::string>> kv) {
  std::string err;
  for (const auto& [k, v] : kv) {
    if (conf->set(k, v, err) != RdKafka::Conf::CONF_OK)
      return {Errc::invalid_argument, std::string("kafka setting ") + k + "=" + v + ": " + err};
  }
  return {};
}

/// Small requests (AddOffsetsToTxn, TxnOffsetCommit, EndTxn) go out at once
/// instead of waiting behind Nagle for the ACK of a large produce request on
/// the same connection: measured, a send_offsets_to_transaction took about
/// 120 ms per transaction with Nagle and about 85 ms without (bench/README.md).
constexpr const char* kNagleDisable = "true";

/// The channel producer keeps at most two produce requests in flight per
/// connection (librdkafka's default is five). Measured on 2026-11-30 with
/// librdkafka 2.0.2 against a broker whose round trip had grown to 10-40 ms
/// (paced at 5,000 requests/s on the shared two-core machine): with five in
/// flight and linger.ms 5, the producer's broker thread polled with a zero
/// timeout and used a whole core (gdb: poll(..., timeout=0) in rdk:broker),
/// taking that core from the broker itself; with one or two in flight the
/// process used about a seventh of it, each produce request carried more
/// messages, and the latency to a visible decision fell from 250-350 ms to
/// 120-190 ms at the median (bench/README.md, "The channel producer's spin").
constexpr const char* kChannelMaxInFlight = "2";

/// Kafka's Java-compatible partitioner, so that every client agrees on the
/// partition of a client id.
constexpr const char* kPartitioner = "murmur2_random";


using events::sv;

/// Calls `attempt(timeout_ms)` with kMetadataAttemptMs until it returns `ok`
/// or kAdminTimeoutMs has passed; the last error otherwise.
template <class Err, class Attempt>
Err metadata_with_retry(Attempt&& attempt, Err ok) {
  const auto deadline = Clock::now() + std::chrono::milliseconds(kAdminTimeoutMs);
  for (;;) {
    const Err e = attempt(kMetadataAttemptMs);
    if (e == ok || Clock::now() >= deadline) return e;
    std::this_thread::sleep_for(std::chrono::milliseconds(kRetryBackoffMs));
  }
}

std::string client_of(const fb::Request& r) {
  const auto* c = r.client_id();
  return c == nullptr ? std::string() : c->str();
}

/// The partition count of `topic`. A broker may not know a just-created
/// topic yet, or be down: asks again for a while before giving up.
Status partition_count(RdKafka::Handle* h, const char* topic, int32_t* out) {
  std::string err;
  std::unique_ptr<RdKafka::Topic> t(RdKafka::Topic::create(h, topic, nullptr, err));
  if (!t) return kafka_error("topic " + std::string(topic), err);
  const auto deadline = Clock::now() + std::chrono::milliseconds(kAdminTimeoutMs);
  for (;;) {
    RdKafka::Metadata* md_raw = nullptr;
    const auto me = h->metadata(false, t.get(), &md_raw, kMetadataAttemptMs);
    std::unique_ptr<RdKafka::Metadata> md(md_raw);
    Status st;
    *out = 0;
    if (me != RdKafka::ERR_NO_ERROR) {
      st = kafka_error("metadata of " + std::string(topic), RdKafka::err2str(me));
    } else {
      for (const auto* tm : *md->topics()) {
        if (tm->topic() != topic) continue;
        if (tm->err() != RdKafka::ERR_NO_ERROR) {
          st = {Errc::not_found, std::string(topic) + ": " + RdKafka::err2str(tm->err()) +
                                     " (run 'kase kafka init --brokers B' first)"};
        } else {
          *out = static_cast<int32_t>(tm->partitions()->size());
        }
      }
      if (st.ok() && *out <= 0) st = {Errc::not_found, std::string(topic) + " has no partitions"};
    }
    if (st.ok()) return {};
    if (Clock::now() >= deadline) return st;
    std::this_thread::sleep_for(std::chrono::milliseconds(kRetryBackoffMs));
  }
}

// ---- topics -----------------------------------------------------------------

struct TopicSpec {
  const char* name;
  std::vector<std::pair<const char*, std::string>> config;
};

}  // namespace

Status init_topics(const std::string& brokers, const TopicSettings& settings, std::string* report) {
  if (settings.partitions < 1) return {Errc::invalid_argument, "partitions must be at least 1"};
  if (settings.replication < 1) return {Errc::invalid_argument, "replication must be at least 1"};
  char err[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  if (rd_kafka_conf_set(conf, "bootstrap.servers", brokers.c_str(), err, sizeof err) != RD_KAFKA_CONF_OK) {
    rd_kafka_conf_destroy(conf);
    return {Errc::invalid_argument, std::string("bootstrap.servers: ") + err};
  }
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
  if (rk == nullptr) return kafka_error("kafka client", err);
  const std::string min_isr = settings.replication >= 3 ? "2" : "1";
  // Requests and decisions are the log of record: kept forever, never
  // compacted. Dead letters are kept for 30 days.
  const std::vector<TopicSpec> specs = {
      {kRequestsTopic, {{"retention.ms", "-1"}, {"min.insync.replicas", min_isr}, {"cleanup.policy", "delete"}}},
      {kDecisionsTopic, {{"retention.ms", "-1"}, {"min.insync.replicas", min_isr}, {"cleanup.policy", "delete"}}},
      {kDeadLetterTopic, {{"retention.ms", "2592000000"}, {"min.insync.replicas", min_isr}}},
  };
  std::vector<rd_kafka_NewTopic_t*> topics;
  Status st;
  for (const auto& spec : specs) {
    rd_kafka_NewTopic_t* t =
        rd_kafka_NewTopic_new(spec.name, settings.partitions, settings.replication, err, sizeof err);
    if (t == nullptr) {
      st = {Errc::invalid_argument, std::string(spec.name) + ": " + err};
      break;
    }
    for (const auto& [k, v] : spec.config) (void)rd_kafka_NewTopic_set_config(t, k, v.c_str());
    topics.push_back(t);
  }
  if (st.ok()) {
    rd_kafka_queue_t* q = rd_kafka_queue_new(rk);
    rd_kafka_AdminOptions_t* opts = rd_kafka_AdminOptions_new(rk, RD_KAFKA_ADMIN_OP_CREATETOPICS);
    (void)rd_kafka_AdminOptions_set_request_timeout(opts, kAdminTimeoutMs, err, sizeof err);
    (void)rd_kafka_AdminOptions_set_operation_timeout(opts, kAdminTimeoutMs, err, sizeof err);
    rd_kafka_CreateTopics(rk, topics.data(), topics.size(), opts, q);
    rd_kafka_event_t* ev = rd_kafka_queue_poll(q, kAdminTimeoutMs + 5000);
    if (ev == nullptr) {
      st = kafka_error("create topics", "no answer from " + brokers + " within the timeout");
    } else if (rd_kafka_event_error(ev) != RD_KAFKA_RESP_ERR_NO_ERROR) {
      st = kafka_error("create topics", rd_kafka_event_error_string(ev));
    } else {
      const rd_kafka_CreateTopics_result_t* res = rd_kafka_event_CreateTopics_result(ev);
      size_t n = 0;
      const rd_kafka_topic_result_t** results = rd_kafka_CreateTopics_result_topics(res, &n);
      for (size_t i = 0; i < n; ++i) {
        const std::string name = rd_kafka_topic_result_name(results[i]);
        const rd_kafka_resp_err_t e = rd_kafka_topic_result_error(results[i]);
        if (e == RD_KAFKA_RESP_ERR_NO_ERROR) {
          *report += "created " + name + " (" + std::to_string(settings.partitions) + " partitions, replication " +
                     std::to_string(settings.replication) + ")\n";
        } else if (e == RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS) {
          *report += "exists  " + name + "\n";
        } else if (st.ok()) {
          const char* msg = rd_kafka_topic_result_error_string(results[i]);
          st = kafka_error("create " + name, msg != nullptr ? msg : rd_kafka_err2str(e));
        }
      }
    }
    if (ev != nullptr) rd_kafka_event_destroy(ev);
    rd_kafka_AdminOptions_destroy(opts);
    rd_kafka_queue_destroy(q);
  }
  // An existing topic must have the partition count asked for: the partition
  // of a client id depends on it.
  if (st.ok()) {
    const rd_kafka_metadata_t* md = nullptr;
    const rd_kafka_resp_err_t e = metadata_with_retry(
        [&](int timeout_ms) { return rd_kafka_metadata(rk, 1, nullptr, &md, timeout_ms); },
        RD_KAFKA_RESP_ERR_NO_ERROR);
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
      st = kafka_error("read metadata", rd_kafka_err2str(e));
    } else {
      for (int i = 0; i < md->topic_cnt; ++i) {
        const std::string name = md->topics[i].topic;
        const bool ours = name == kRequestsTopic || name == kDecisionsTopic || name == kDeadLetterTopic;
        if (ours && (name == kRequestsTopic || name == kDecisionsTopic) &&
            md->topics[i].partition_cnt != settings.partitions && st.ok()) {
          st = {Errc::invalid_argument, name + " exists with " + std::to_string(md->topics[i].partition_cnt) +
                                            " partitions, not " + std::to_string(settings.partitions)};
        }
      }
      rd_kafka_metadata_destroy(md);
    }
  }
  for (auto* t : topics) rd_kafka_NewTopic_destroy(t);
  rd_kafka_destroy(rk);
  return st;
}

// ---- channel producer ----------------------------------------------------------

namespace {

/// The copies of one request still in flight and whom to tell (a message's opaque).
struct InFlight {
  int remaining = 0;
  Status status;
  RequestProducer::Delivered done;
};

/// Reports may come on any thread that polls (produce() polls too): one at a time.
class DeliveryCounter : public RdKafka::DeliveryReportCb {
 public:
  void dr_cb(RdKafka::Message& m) override {
    std::lock_guard lk(mu);
    if (m.err() == RdKafka::ERR_NO_ERROR) {
      ++delivered;
    } else {
      ++failed;
      if (first_error.empty()) first_error = m.errstr();
    }
    if (auto* f = static_cast<InFlight*>(m.msg_opaque()); f != nullptr) {
      if (m.err() != RdKafka::ERR_NO_ERROR && f->status.ok()) f->status = kafka_error("delivery", m.errstr());
      if (--f->remaining == 0) {
        f->done(f->status);
        delete f;
      }
    }
  }
  std::mutex mu;
  std::atomic<uint64_t> delivered{0};
  std::atomic<uint64_t> failed{0};
  std::string first_error;
};

class RequestProducerImpl final : public RequestProducer {
 public:
  Status open(const std::string& brokers) {
    std::unique_ptr<RdKafka::Conf> conf(RdKafka::Conf::create(RdKafka::Conf::CONF_GLOBAL));
    if (Status s = configure(conf.get(), {{"bootstrap.servers", brokers},
                                          {"socket.nagle.disable", kNagleDisable},
                                          {"enable.idempotence", "true"},
                                          {"acks", "all"},
                                          {"partitioner", kPartitioner},
                                          {"max.in.flight.requests.per.connection", kChannelMaxInFlight},
                                          {"linger.ms", "5"},
                                          {"compression.type", "lz4"}});
        !s.ok())
      return s;
    std::string err;
    if (conf->set("dr_cb", &dr_, err) != RdKafka::Conf::CONF_OK) return {Errc::invalid_argument, err};
    producer_.reset(RdKafka::Producer::create(conf.get(), err));
    if (!producer_) return kafka_error("create producer", err);
    // The partition count, for Treasury-wide settings that every partition
    // needs and for identity requests (their person's identity partition).
    return partition_count(producer_.get(), kRequestsTopic, &partitions_);
  }
  Status produce(std::span<const uint8_t> request) override { return produce(request, nullptr); }
  Status produce(std::span<const uint8_t> request, Delivered done) override {
    const fb::Request* r = events::verify_request(request);
    if (r == nullptr) return {Errc::invalid_argument, "request bytes do not verify against the schema"};
    if (events::is_engine_fact(r->payload_type()) || r->channel() == fb::Channel::engine)
      return {Errc::invalid_argument,
              "identity and directory facts (channel engine) are written by kase itself (auth.engine_only)"};
    if (events::is_engine_fact_id(sv(r->request_id())))
      return {Errc::invalid_argument,
              "request ids containing /identity/ or /directory/ are kase's own, for its facts (auth.engine_only)"};
    const std::string key = client_of(*r);
    // Treasury-wide settings go to every partition: each partition's fold
    // must know the calendar, the service states and the identity policy.
    const bool everywhere = engine::treasury_wide(r->payload_type());
    const int32_t copies = everywhere ? partitions_ : 1;
    // A person's identity is decided in one partition, the person's own.
    const std::string_view person = everywhere ? std::string_view{} : engine::identity_subject(*r);
    const int32_t to = person.empty() ? RdKafka::Topic::PARTITION_UA : engine::identity_partition(person, partitions_);
    InFlight* f = nullptr;
    if (done) f = new InFlight{copies, {}, std::move(done)};
    for (int32_t p = 0; p < copies; ++p) {
      for (;;) {
        const auto e = producer_->produce(kRequestsTopic, everywhere ? p : to,
                                          RdKafka::Producer::RK_MSG_COPY, const_cast<uint8_t*>(request.data()),
                                          request.size(), key.data(), key.size(), 0, f);
        if (e == RdKafka::ERR_NO_ERROR) break;
        if (e != RdKafka::ERR__QUEUE_FULL) {
          if (f != nullptr) {
            if (p == 0) {
              delete f;  // nothing queued: no report will come
              return kafka_error("produce", RdKafka::err2str(e));
            }
            // Copies already queued will report: the rest count as failed.
            f->status = kafka_error("produce", RdKafka::err2str(e));
            f->remaining -= copies - p;
            if (f->remaining == 0) {
              f->done(f->status);
              delete f;
            }
            return {};
          }
          return kafka_error("produce", RdKafka::err2str(e));
        }
        producer_->poll(kIdlePollMs);
      }
    }
    producer_->poll(0);
    return {};
  }
  void poll(int timeout_ms) override { producer_->poll(timeout_ms); }
  Status flush(int timeout_ms) override {
    const auto e = producer_->flush(timeout_ms);
    if (e != RdKafka::ERR_NO_ERROR)
      return kafka_error("flush", std::string(RdKafka::err2str(e)) + " (" +
                                      std::to_string(producer_->outq_len()) + " requests not delivered)");
    if (dr_.failed.load() != 0) {
      std::lock_guard lk(dr_.mu);
      return kafka_error("delivery", std::to_string(dr_.failed.load()) + " requests not delivered: " + dr_.first_error);
    }
    return {};
  }
  [[nodiscard]] uint64_t delivered() const override { return dr_.delivered.load(); }

 private:
  DeliveryCounter dr_;
  std::unique_ptr<RdKafka::Producer> producer_;
  int32_t partitions_ = 0;
};

}  // namespace

Status RequestProducer::open(const std::string& brokers, std::unique_ptr<RequestProducer>* out) {
  auto p = std::make_unique<RequestProducerImpl>();
  if (Status s = p->open(brokers); !s.ok()) return s;
  *out = std::move(p);
  return {};
}

// ---- the engine node ------------------------------------------------------------

namespace {

/// One assigned partition: its store, its ledger and where it stands.
struct Partition {
  int32_t id = 0;
  std::unique_ptr<projections::Store> store;
  std::unique_ptr<Ledger> ledger;
  int64_t applied = 0;    // next offset to fold (RocksDB)
  int64_t live_from = 0;  // offsets below were already published (group's committed offset)
};

/// The transactional producer's delivery reports. Their content is not
/// needed (commit_transaction() fails when a delivery does), but without a
/// report callback librdkafka 2.0.2 queues no report, and the flush inside
/// commit_transaction() sleeps in its poll for up to 10 ms after the last
/// acknowledgement instead of waking on it: measured, about 5 ms of a 15 ms
/// transaction at 5,000 requests/s (bench/README.md, "The commit's flush").
class CommitWaker : public RdKafka::DeliveryReportCb {
 public:
  void dr_cb(RdKafka::Message&) override {}
};

class Node : public RdKafka::RebalanceCb {
 public:
  Node(const NodeOptions& o, NodeStats* stats) : o_(o), stats_(stats) {}
  ~Node() override { close(); }

  Status start();
  Status loop();
  void close();
  /// Runs the queries posted to o_.queries over the partitions held now
  /// (between batches, and once more before leaving).
  void serve_queries() {
    if (!o_.queries->wanted() || !settle().ok()) return;
    std::vector<const Ledger*> ledgers;
    std::vector<int32_t> ids;
    for (const auto& [p, part] : parts_) {
      if (!part.ledger) continue;
      ledgers.push_back(part.ledger.get());
      ids.push_back(p);
    }
    o_.queries->serve(ledgers, ids);
  }

  void rebalance_cb(RdKafka::KafkaConsumer* consumer, RdKafka::ErrorCode err,
                    std::vector<RdKafka::TopicPartition*>& partitions) override;

 private:
  void say(const std::string& line) const {
    if (o_.verbose) std::fprintf(stderr, "kase run: %s\n", line.c_str());
  }
  Status open_partition(int32_t p, Partition* out);
  Status create_producer();
  /// Committed offsets of the group for these partitions (-1 when none).
  Status committed(const std::vector<int32_t>& ids, std::map<int32_t, int64_t>* out);
  /// After a failed transaction: drop in-memory state, reopen every
  /// partition from RocksDB and seek back to its applied offset.
  Status reset_partitions();
  /// Waits for the last batch's RocksDB write, which runs beside the
  /// collection of the next batch; its status, and that of every earlier one.
  /// Everything that reads or closes a partition's ledger calls it first.
  Status settle() {
    if (writing_.valid()) {
      Status s = writing_.get();
      if (!s.ok() && write_error_.ok()) write_error_ = std::move(s);
    }
    return write_error_;
  }
  Status process(std::vector<std::unique_ptr<RdKafka::Message>>* batch);
  /// The metrics of this node and its partitions (on the node's thread).
  std::string render_metrics();
  const NodeOptions& o_;
  NodeStats* stats_;
  std::unique_ptr<RdKafka::KafkaConsumer> consumer_;
  CommitWaker commit_waker_;  // declared before producer_: outlives it
  std::unique_ptr<RdKafka::Producer> producer_;
  std::map<int32_t, Partition> parts_;
  std::vector<std::unique_ptr<RdKafka::Message>> pending_;  // the batch being collected
  std::future<Status> writing_;  // the last batch's RocksDB write (settle())
  Status write_error_;
  std::vector<uint64_t> arena_;                               // aligned copies of one partition's requests
  std::map<int32_t, size_t> per_partition_;                   // the batch being collected, by partition
  Status rebalance_error_;
  std::string txn_id_;
  int32_t partitions_ = 0;  // of kase.requests: each fold's engine::Topology
  Histogram commit_seconds_{kCommitSecondsBounds};
};

std::string Node::render_metrics() {
  (void)settle();
  metrics::View v;
  v.mode = "kafka";
  v.now_us = std::chrono::duration_cast<std::chrono::microseconds>(
                 std::chrono::system_clock::now().time_since_epoch())
                 .count();
  v.kafka = stats_;
  v.kafka_commit_seconds = &commit_seconds_;
  for (const auto& [p, part] : parts_) {
    if (!part.ledger) continue;
    // The high watermark librdkafka last saw (no broker round trip).
    int64_t low = 0, high = -1;
    int64_t lag = -1;
    if (consumer_ && consumer_->get_watermark_offsets(kRequestsTopic, p, &low, &high) == RdKafka::ERR_NO_ERROR &&
        high >= 0)
      lag = std::max<int64_t>(0, high - part.applied);
    v.partitions.push_back(metrics::PartitionView{std::to_string(p), part.ledger.get(), lag});
  }
  return metrics::render(v);
}

Status Node::open_partition(int32_t p, Partition* out) {
  out->id = p;
  const std::string dir = o_.data_dir + "/partition-" + std::to_string(p);
  projections::RocksOptions ro;
  ro.sync = false;  // Kafka is the durable log; RocksDB re-folds from it
  if (Status s = projections::open_rocks_store(dir, ro, &out->store); !s.ok()) return s;
  if (o_.wrap_store) out->store = o_.wrap_store(p, std::move(out->store));
  if (Status s = Ledger::open(out->store.get(), &out->ledger); !s.ok()) return s;
  out->ledger->set_topology({p, partitions_});
  out->applied = static_cast<int64_t>(out->ledger->meta().source_next);
  return {};
}

Status Node::committed(const std::vector<int32_t>& ids, std::map<int32_t, int64_t>* out) {
  std::vector<RdKafka::TopicPartition*> tps;
  for (int32_t p : ids) tps.push_back(RdKafka::TopicPartition::create(kRequestsTopic, p));
  Status st;
  for (int attempt = 0;; ++attempt) {
    const auto e = consumer_->committed(tps, kCommittedTimeoutMs);
    if (e == RdKafka::ERR_NO_ERROR) break;
    if (attempt >= 5) {
      st = kafka_error("read committed offsets", RdKafka::err2str(e));
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(kRetryBackoffMs));
  }
  for (auto* tp : tps) {
    if (st.ok()) (*out)[tp->partition()] = tp->offset() >= 0 ? tp->offset() : -1;
    delete tp;
  }
  return st;
}

void Node::rebalance_cb(RdKafka::KafkaConsumer* consumer, RdKafka::ErrorCode err,
                        std::vector<RdKafka::TopicPartition*>& partitions) {
  ++stats_->rebalances;
  // Partitions are opened and closed below: no write may be running.
  if (Status s = settle(); !s.ok() && rebalance_error_.ok()) rebalance_error_ = s;
  if (err == RdKafka::ERR__ASSIGN_PARTITIONS) {
    std::vector<int32_t> ids;
    for (auto* tp : partitions) ids.push_back(tp->partition());
    std::map<int32_t, int64_t> done;
    Status st = committed(ids, &done);
    std::string line = "assigned";
    for (auto* tp : partitions) {
      if (!st.ok()) break;
      Partition part;
      st = open_partition(tp->partition(), &part);
      if (!st.ok()) break;
      const int64_t c = done[tp->partition()];
      part.live_from = c < 0 ? 0 : c;
      // Start where RocksDB stands; anything below the committed offset was
      // published already and is folded silently.
      int64_t start = part.applied;
      if (c >= 0 && c < start) start = c;  // cannot happen when state is written after commit
      tp->set_offset(start);
      line += " " + std::to_string(tp->partition()) + "(from " + std::to_string(start) +
              (part.live_from > start ? ", silent to " + std::to_string(part.live_from) : "") + ")";
      parts_[tp->partition()] = std::move(part);
    }
    if (!st.ok()) {
      rebalance_error_ = st;
      return;
    }
    say(line);
    consumer->assign(partitions);
  } else {
    std::string line = "revoked";
    for (auto* tp : partitions) {
      line += " " + std::to_string(tp->partition());
      parts_.erase(tp->partition());
    }
    // Drop what was collected for them: the next owner reads it again.
    std::erase_if(pending_, [&](const auto& m) { return parts_.count(m->partition()) == 0; });
    say(line);
    consumer->unassign();
  }
}

Status Node::create_producer() {
  producer_.reset();
  std::unique_ptr<RdKafka::Conf> conf(RdKafka::Conf::create(RdKafka::Conf::CONF_GLOBAL));
  if (Status s = configure(conf.get(), {{"bootstrap.servers", o_.brokers},
                                        {"socket.nagle.disable", kNagleDisable},
                                        {"transactional.id", txn_id_},
                                        {"enable.idempotence", "true"},
                                        {"acks", "all"},
                                        // A batch's decisions leave together at commit: few
                                        // large compressed produce requests, not many small ones.
                                        {"linger.ms", "5"},
                                        {"batch.num.messages", "10000"},
                                        {"batch.size", "4000000"},
                                        {"compression.type", "lz4"},
                                        {"transaction.timeout.ms", "60000"},
                                        // A transaction begun right after the last one commits may
                                        // be answered CONCURRENT_TRANSACTIONS while the broker still
                                        // writes the last one's markers (a millisecond or two);
                                        // librdkafka retries after retry.backoff.ms, by default
                                        // 100 ms, which stalled every request waiting on it (seen
                                        // as a p99 of 110-210 ms at 5,000/s; bench/README.md).
                                        {"retry.backoff.ms", "10"}});
      !s.ok())
    return s;
  std::string err;
  if (conf->set("dr_cb", &commit_waker_, err) != RdKafka::Conf::CONF_OK) return {Errc::invalid_argument, err};
  producer_.reset(RdKafka::Producer::create(conf.get(), err));
  if (!producer_) return kafka_error("create transactional producer", err);
  for (;;) {
    std::unique_ptr<RdKafka::Error> e(producer_->init_transactions(kInitTransactionsTimeoutMs));
    if (!e) return {};
    if (e->is_fatal() || !e->is_retriable()) return kafka_error("init transactions", e->str());
    say("init transactions: " + e->str() + " (retrying)");
    if (o_.stop != nullptr && o_.stop->load()) return kafka_error("init transactions", "stopped");
  }
}

Status Node::start() {
  if (o_.brokers.empty()) return {Errc::invalid_argument, "no brokers given"};
  if (o_.data_dir.empty()) return {Errc::invalid_argument, "no data directory given"};
  std::error_code ec;
  std::filesystem::create_directories(o_.data_dir, ec);
  if (ec) return {Errc::io_error, "create " + o_.data_dir + ": " + ec.message()};
  txn_id_ = o_.transactional_id;
  if (txn_id_.empty()) {
    const std::string abs = std::filesystem::absolute(o_.data_dir).lexically_normal().string();
    txn_id_ = "kase-engine-" + std::to_string(std::hash<std::string>{}(abs));
  }
  std::unique_ptr<RdKafka::Conf> conf(RdKafka::Conf::create(RdKafka::Conf::CONF_GLOBAL));
  if (Status s = configure(conf.get(), {{"bootstrap.servers", o_.brokers},
                                        {"socket.nagle.disable", kNagleDisable},
                                        {"group.id", o_.group},
                                        // Static membership: a restarted node takes its
                                        // partitions back at once, without a rebalance.
                                        {"group.instance.id", txn_id_},
                                        {"enable.auto.commit", "false"},
                                        {"enable.auto.offset.store", "false"},
                                        {"isolation.level", "read_committed"},
                                        {"auto.offset.reset", "earliest"},
                                        {"partition.assignment.strategy", "range"},
                                        {"session.timeout.ms", "10000"},
                                        {"heartbeat.interval.ms", "1000"},
                                        {"max.poll.interval.ms", "120000"},
                                        // A request waits for its batch, not for a full fetch.
                                        {"fetch.wait.max.ms", "10"}});
      !s.ok())
    return s;
  std::string err;
  if (conf->set("rebalance_cb", static_cast<RdKafka::RebalanceCb*>(this), err) != RdKafka::Conf::CONF_OK)
    return {Errc::invalid_argument, err};
  consumer_.reset(RdKafka::KafkaConsumer::create(conf.get(), err));
  if (!consumer_) return kafka_error("create consumer", err);
  if (Status s = create_producer(); !s.ok()) return s;
  // Each partition's fold knows where it stands, for identity facts.
  if (Status s = partition_count(consumer_.get(), kRequestsTopic, &partitions_); !s.ok()) return s;
  const auto e = consumer_->subscribe({kRequestsTopic});
  if (e != RdKafka::ERR_NO_ERROR) return kafka_error("subscribe", RdKafka::err2str(e));
  say("consuming " + std::string(kRequestsTopic) + " in group " + o_.group + ", transactional id " + txn_id_ +
      ", state in " + o_.data_dir);
  return {};
}

Status Node::reset_partitions() {
  if (Status s = settle(); !s.ok()) return s;
  pending_.clear();
  std::vector<int32_t> ids;
  for (auto& [p, part] : parts_) ids.push_back(p);
  std::map<int32_t, int64_t> done;
  if (Status s = committed(ids, &done); !s.ok()) return s;
  for (auto& [p, part] : parts_) {
    part.ledger.reset();
    part.store.reset();
    if (Status s = open_partition(p, &part); !s.ok()) return s;
    part.live_from = done[p] < 0 ? 0 : done[p];
    std::unique_ptr<RdKafka::TopicPartition> tp(RdKafka::TopicPartition::create(kRequestsTopic, p, part.applied));
    for (int attempt = 0;; ++attempt) {
      const auto e = consumer_->seek(*tp, kSeekTimeoutMs);
      if (e == RdKafka::ERR_NO_ERROR) break;
      if (attempt >= 5) return kafka_error("seek partition " + std::to_string(p), RdKafka::err2str(e));
      std::this_thread::sleep_for(std::chrono::milliseconds(kRetryBackoffMs));
    }
  }
  return {};
}

Status Node::process(std::vector<std::unique_ptr<RdKafka::Message>>* batch) {
  if (Status s = settle(); !s.ok()) return s;
  // Group by partition, keeping the order within each.
  std::map<int32_t, std::vector<RdKafka::Message*>> by;
  for (auto& m : *batch) {
    auto it = parts_.find(m->partition());
    if (it == parts_.end() || m->offset() < it->second.applied) continue;  // revoked, or before a seek
    by[m->partition()].push_back(m.get());
  }
  if (by.empty()) return {};

  struct Decided {
    Partition* part;
    std::vector<RdKafka::Message*> msgs;
    std::vector<Answer> answers;
    int64_t next = 0;
  };
  std::vector<Decided> decided;
  std::vector<std::span<const uint8_t>> spans;
  // Whether any of the batch is new (else it is a silent re-fold of what was
  // published before, with no transaction), and where each partition's input
  // ends: both known before the batch is decided.
  bool live = false;
  for (const auto& [p, msgs] : by)
    if (msgs.back()->offset() + 1 > parts_[p].live_from) live = true;

  // The input offsets go into the transaction on a second thread while this
  // one decides the batch and produces the decisions: AddOffsetsToTxn and
  // TxnOffsetCommit are two broker round trips that used to follow the
  // produce, a quarter of a transaction cycle at 50,000 requests/s
  // (bench/README.md). produce() may run beside send_offsets_to_transaction();
  // the transaction commits only after both.
  std::future<std::unique_ptr<RdKafka::Error>> offsets_sent;
  const auto offsets_error = [&]() -> std::unique_ptr<RdKafka::Error> {
    return offsets_sent.valid() ? offsets_sent.get() : nullptr;
  };
  auto fail = [&](const std::string& what, const std::string& message, bool fatal) -> Status {
    (void)offsets_error();  // the thread sending them uses producer_
    ++stats_->aborted;
    say(what + ": " + message + "; aborting and re-folding from the last commit");
    if (!fatal) {
      std::unique_ptr<RdKafka::Error> a(producer_->abort_transaction(kAbortTimeoutMs));
      if (a) say("abort: " + a->str());
    }
    // Always start over with a new producer: its init_transactions fences
    // the old epoch and aborts whatever the old one left open, which also
    // clears librdkafka 2.0.x's stuck states (sequence gaps after errors,
    // epoch bumps it cannot finish).
    ++stats_->producer_restarts;
    if (Status s = create_producer(); !s.ok()) return s;
    return reset_partitions();
  };
  if (live) {
    if (std::unique_ptr<RdKafka::Error> e(producer_->begin_transaction()); e) return fail("begin transaction", e->str(), e->is_fatal());
    std::vector<RdKafka::TopicPartition*> offsets;
    for (const auto& [p, msgs] : by)
      offsets.push_back(RdKafka::TopicPartition::create(kRequestsTopic, p,
                                                        std::max(msgs.back()->offset() + 1, parts_[p].live_from)));
    std::shared_ptr<RdKafka::ConsumerGroupMetadata> gm(consumer_->groupMetadata());
    offsets_sent = std::async(std::launch::async, [this, offsets, gm]() mutable {
      std::unique_ptr<RdKafka::Error> e(producer_->send_offsets_to_transaction(offsets, gm.get(), -1));
      RdKafka::TopicPartition::destroy(offsets);
      return e;
    });
  }

  // Counted as the decisions are produced; added to the stats when the
  // transaction commits.
  uint64_t published = 0, duplicates = 0, dead = 0, facts = 0, directory_facts = 0;
  // A partition's decisions are produced as soon as it is decided, so that
  // the broker appends them while the next partition is decided. Produced
  // after the whole batch, they left at the commit's flush, one produce
  // request per partition answered in turn: most of the commit's time at
  // 50,000 requests/s (bench/README.md). A failure aborts the transaction
  // and re-folds (fail()); its status, ok once re-folded, is what process()
  // returns, so it comes back set.
  const auto publish = [&](const Decided& d) -> std::optional<Status> {
    for (size_t i = 0; i < d.msgs.size(); ++i) {
      RdKafka::Message* m = d.msgs[i];
      if (m->offset() < d.part->live_from) continue;  // published before
      const Answer& a = d.answers[i];
      const fb::LogRecord* rec = flatbuffers::GetRoot<fb::LogRecord>(a.record.data());
      const bool logged = rec->request() != nullptr;
      // Most decisions carry no header: no Headers object for them
      // (one allocation and one free per message on the hot path).
      RdKafka::Headers* h = nullptr;
      const char* topic = kDecisionsTopic;
      void* payload = const_cast<char*>(a.record.data());
      size_t len = a.record.size();
      if (!logged) {
        // Undecodable: the original bytes go to the dead letters with the reason.
        topic = kDeadLetterTopic;
        payload = m->payload();
        len = m->len();
        const auto* dec = rec->decision();
        h = RdKafka::Headers::create();
        h->add("kase.reason", dec->reason() != nullptr ? dec->reason()->str() : std::string());
        h->add("kase.detail", dec->detail() != nullptr ? dec->detail()->str() : std::string());
        h->add("kase.source", std::string(kRequestsTopic) + "/" + std::to_string(m->partition()) + "/" +
                                  std::to_string(m->offset()));
        ++dead;
      } else {
        if (a.duplicate) {
          h = RdKafka::Headers::create();
          h->add("kase.duplicate", "true");
          ++duplicates;
        }
        ++published;
      }
      const std::string* key = m->key();
      for (;;) {
        const auto e = producer_->produce(topic, topic == kDecisionsTopic ? m->partition() : RdKafka::Topic::PARTITION_UA,
                                          RdKafka::Producer::RK_MSG_COPY, payload, len,
                                          key != nullptr ? key->data() : nullptr, key != nullptr ? key->size() : 0,
                                          0, h, nullptr);
        if (e == RdKafka::ERR_NO_ERROR) break;
        if (e != RdKafka::ERR__QUEUE_FULL) {
          delete h;
          return fail("produce", RdKafka::err2str(e), false);
        }
        producer_->poll(kIdlePollMs);
      }
      // Identity and directory facts for other partitions: in this
      // transaction, so that they exist exactly when the decision that made them does.
      for (const Answer::Fact& f : a.facts) {
        for (;;) {
          const auto e = producer_->produce(kRequestsTopic, f.partition, RdKafka::Producer::RK_MSG_COPY,
                                            const_cast<char*>(f.request.data()), f.request.size(),
                                            key != nullptr ? key->data() : nullptr, key != nullptr ? key->size() : 0,
                                            0, nullptr, nullptr);
          if (e == RdKafka::ERR_NO_ERROR) break;
          if (e != RdKafka::ERR__QUEUE_FULL) return fail("produce fact", RdKafka::err2str(e), false);
          producer_->poll(kIdlePollMs);
        }
        ++(flatbuffers::GetRoot<fb::Request>(f.request.data())->payload_type() == fb::Payload::DirectoryFact
               ? directory_facts
               : facts);
      }
    }
    return std::nullopt;
  };

  for (auto& [p, msgs] : by) {
    Partition& part = parts_[p];
    Decided d{&part, msgs, {}, msgs.back()->offset() + 1};
    // FlatBuffers need 8-byte aligned bytes; a fetched payload may sit anywhere.
    size_t words = 0;
    for (auto* m : msgs) words += (m->len() + 7) / 8;
    arena_.assign(words, 0);
    spans.clear();
    size_t at = 0;
    for (auto* m : msgs) {
      auto* dst = reinterpret_cast<uint8_t*>(arena_.data() + at);
      if (m->len() != 0) std::memcpy(dst, m->payload(), m->len());
      spans.emplace_back(dst, m->len());
      at += (m->len() + 7) / 8;
    }
    if (Status s = part.ledger->decide(spans, &d.answers); !s.ok()) {
      if (offsets_sent.valid()) {
        (void)offsets_error();
        std::unique_ptr<RdKafka::Error> a(producer_->abort_transaction(kAbortTimeoutMs));
      }
      return s;
    }
    if (live)
      if (std::optional<Status> failed = publish(d)) return *failed;
    decided.push_back(std::move(d));
  }

  if (live) {
    if (std::unique_ptr<RdKafka::Error> se = offsets_error(); se) return fail("send offsets", se->str(), se->is_fatal());
    const auto commit_start = Clock::now();
    if (std::unique_ptr<RdKafka::Error> ce(producer_->commit_transaction(-1)); ce) return fail("commit", ce->str(), ce->is_fatal());
    commit_seconds_.observe(std::chrono::duration<double>(Clock::now() - commit_start).count());
    ++stats_->transactions;
    stats_->decided += published;
    stats_->duplicates += duplicates;
    stats_->dead_letters += dead;
    stats_->identity_facts += facts;
    stats_->directory_facts += directory_facts;
  }
  // Published: now the state they produced, with the applied offset, in
  // RocksDB; after the transaction, so the store is never ahead of Kafka.
  // The write (a few ms at 50,000 requests/s) runs on a second thread while
  // this one collects the next batch; settle() waits for it.
  std::vector<std::pair<Ledger*, uint64_t>> writes;
  for (auto& d : decided) {
    for (auto* m : d.msgs)
      if (m->offset() < d.part->live_from) ++stats_->refolded;
    writes.emplace_back(d.part->ledger.get(), static_cast<uint64_t>(d.next));
    d.part->applied = d.next;
    d.part->live_from = std::max(d.part->live_from, d.next);
  }
  writing_ = std::async(std::launch::async, [writes = std::move(writes)] {
    for (const auto& [ledger, next] : writes)
      if (Status s = ledger->commit_decided(next); !s.ok()) return s;
    return Status{};
  });
  return {};
}

Status Node::loop() {
  while (o_.stop == nullptr || !o_.stop->load()) {
    if (!rebalance_error_.ok()) return rebalance_error_;
    if (o_.metrics != nullptr) o_.metrics->serve_if_wanted([this] { return render_metrics(); });
    if (o_.queries != nullptr) serve_queries();
    // Collect a batch: bounded in count and in time from its first request.
    pending_.clear();
    Clock::time_point first{};
    // The Ledger decides at most kBatchRequestsMax requests at once: a batch
    // may span partitions up to batch_max, but closes when one partition
    // has kBatchRequestsMax of it.
    per_partition_.clear();
    while (pending_.size() < o_.batch_max) {
      int wait = kIdlePollMs;
      if (!pending_.empty()) {
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                              first + std::chrono::milliseconds(o_.batch_ms) - Clock::now())
                              .count();
        if (left <= 0) break;
        wait = static_cast<int>(left);
      }
      std::unique_ptr<RdKafka::Message> m(consumer_->consume(wait));
      if (!rebalance_error_.ok()) return rebalance_error_;
      if (!m) break;
      if (m->err() == RdKafka::ERR__TIMED_OUT || m->err() == RdKafka::ERR__PARTITION_EOF) {
        if (pending_.empty()) break;
        continue;
      }
      if (m->err() == RdKafka::ERR__FATAL) {
        // A fatal consumer error (seen: a static member fenced by its own
        // rejoin after a session timeout while a broker was down) leaves the
        // consumer unusable. Start over as a restarted node would: nothing of
        // the batch being collected is decided, every partition re-folds from
        // RocksDB and the group's committed offsets.
        std::fprintf(stderr, "kase run: consume: %s; restarting the consumer and producer\n", m->errstr().c_str());
        m.reset();
        pending_.clear();
        close();
        if (Status s = start(); !s.ok()) return s;
        break;
      }
      if (m->err() != RdKafka::ERR_NO_ERROR) {
        // Transient consumer errors are retried by librdkafka; say what happened.
        if (m->err() != RdKafka::ERR__TRANSPORT && m->err() != RdKafka::ERR__ALL_BROKERS_DOWN)
          say("consume: " + m->errstr());
        break;
      }
      if (pending_.empty()) first = Clock::now();
      const bool partition_full = ++per_partition_[m->partition()] >= kBatchRequestsMax;
      pending_.push_back(std::move(m));
      if (partition_full) break;
    }
    if (pending_.empty()) continue;
    if (Status s = process(&pending_); !s.ok()) return s;
  }
  return settle();  // the last batch's write
}

void Node::close() {
  (void)settle();
  if (consumer_) {
    consumer_->close();  // revokes: partitions are closed in the callback
    consumer_.reset();
  }
  parts_.clear();
  producer_.reset();
}

}  // namespace

void PartitionTap::post(Job job) {
  {
    std::lock_guard lk(mu_);
    if (!closed_) {
      jobs_.push_back(std::move(job));
      wanted_.store(true, std::memory_order_release);
      return;
    }
  }
  job({}, {});
}

void PartitionTap::serve(std::span<const Ledger* const> ledgers, std::span<const int32_t> partitions) {
  if (!wanted_.load(std::memory_order_acquire)) return;
  std::deque<Job> jobs;
  {
    std::lock_guard lk(mu_);
    jobs.swap(jobs_);
    wanted_.store(false, std::memory_order_release);
  }
  for (Job& j : jobs) j(ledgers, partitions);
}

void PartitionTap::close() {
  std::deque<Job> jobs;
  {
    std::lock_guard lk(mu_);
    closed_ = true;
    jobs.swap(jobs_);
    wanted_.store(false, std::memory_order_release);
  }
  for (Job& j : jobs) j({}, {});
}

Status run_node(const NodeOptions& options, NodeStats* stats) {
  Status s;
  {
    Node node(options, stats);
    s = node.start();
    if (s.ok()) s = node.loop();
    if (options.queries != nullptr) node.serve_queries();
    node.close();
  }
  if (options.queries != nullptr) options.queries->close();
  return s;
}

// ---- reading a topic -------------------------------------------------------------

Status read_topic(const ReadOptions& o,
                  const std::function<void(int32_t, int64_t, std::span<const uint8_t>,
                                           const std::vector<std::pair<std::string, std::string>>&)>& fn) {
  std::unique_ptr<RdKafka::Conf> conf(RdKafka::Conf::create(RdKafka::Conf::CONF_GLOBAL));
  if (Status s = configure(conf.get(), {{"bootstrap.servers", o.brokers},
                                        {"group.id", "kase-reader"},  // required by the API; never joined
                                        {"enable.auto.commit", "false"},
                                        {"isolation.level", "read_committed"},
                                        {"auto.offset.reset", "earliest"},
                                        {"enable.partition.eof", "true"}});
      !s.ok())
    return s;
  std::string err;
  std::unique_ptr<RdKafka::KafkaConsumer> c(RdKafka::KafkaConsumer::create(conf.get(), err));
  if (!c) return kafka_error("create consumer", err);
  RdKafka::Metadata* md_raw = nullptr;
  std::unique_ptr<RdKafka::Topic> t(RdKafka::Topic::create(c.get(), o.topic, nullptr, err));
  if (!t) return kafka_error("topic " + o.topic, err);
  const auto me = metadata_with_retry(
      [&](int timeout_ms) { return c->metadata(false, t.get(), &md_raw, timeout_ms); }, RdKafka::ERR_NO_ERROR);
  std::unique_ptr<RdKafka::Metadata> md(md_raw);
  if (me != RdKafka::ERR_NO_ERROR) return kafka_error("metadata of " + o.topic, RdKafka::err2str(me));
  const std::map<int32_t, int64_t> start_offsets =
      o.start_at ? o.start_at(c->clusterid(kAdminTimeoutMs)) : std::map<int32_t, int64_t>{};
  std::vector<RdKafka::TopicPartition*> tps;
  for (const auto* tm : *md->topics()) {
    if (tm->topic() != o.topic) continue;
    if (tm->err() != RdKafka::ERR_NO_ERROR)
      return {Errc::not_found, "topic " + o.topic + ": " + RdKafka::err2str(tm->err()) +
                                   " (run 'kase kafka init --brokers B' first)"};
    for (const auto* pm : *tm->partitions()) {
      const auto at = start_offsets.find(pm->id());
      tps.push_back(RdKafka::TopicPartition::create(
          o.topic, pm->id(), at != start_offsets.end() ? at->second : RdKafka::Topic::OFFSET_BEGINNING));
    }
  }
  if (tps.empty()) {
    return {Errc::not_found, "topic " + o.topic + " has no partitions"};
  }
  const size_t partitions = tps.size();
  if (o.partitions != nullptr) *o.partitions = static_cast<int32_t>(partitions);
  const auto ae = c->assign(tps);
  RdKafka::TopicPartition::destroy(tps);
  if (ae != RdKafka::ERR_NO_ERROR) return kafka_error("assign", RdKafka::err2str(ae));
  std::map<int32_t, bool> at_end;
  bool told_caught_up = false;
  uint64_t n = 0;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string aligned;
  while (o.stop == nullptr || !o.stop->load()) {
    std::unique_ptr<RdKafka::Message> m(c->consume(kIdlePollMs));
    if (!m) continue;
    if (m->err() == RdKafka::ERR__TIMED_OUT) continue;
    if (m->err() == RdKafka::ERR__PARTITION_EOF) {
      at_end[m->partition()] = true;
      if (!o.follow && at_end.size() == partitions) break;
      if (at_end.size() == partitions && !told_caught_up) {
        told_caught_up = true;
        if (o.caught_up) o.caught_up();
      }
      continue;
    }
    if (m->err() != RdKafka::ERR_NO_ERROR) {
      if (m->err() == RdKafka::ERR__TRANSPORT || m->err() == RdKafka::ERR__ALL_BROKERS_DOWN) continue;
      return kafka_error("consume " + o.topic, m->errstr());
    }
    at_end.erase(m->partition());
    headers.clear();
    if (RdKafka::Headers* h = m->headers(); h != nullptr) {
      for (const auto& hd : h->get_all())
        headers.emplace_back(hd.key(), hd.value() != nullptr ? std::string(static_cast<const char*>(hd.value()),
                                                                           hd.value_size())
                                                             : std::string());
    }
    // FlatBuffers need aligned bytes; a fetched payload may sit anywhere.
    aligned.assign(static_cast<const char*>(m->payload()), m->len());
    fn(m->partition(), m->offset(), events::bytes_of(aligned), headers);
    if (o.max_messages != 0 && ++n >= o.max_messages) break;
  }
  c->close();
  return {};
}

// ---- verification ---------------------------------------------------------------

Status verify(const std::string& brokers, const std::string& data_dir, VerifyReport* out) {
  using Headers = std::vector<std::pair<std::string, std::string>>;
  std::map<int32_t, std::vector<std::string>> requests;
  std::map<int32_t, std::vector<std::string>> decisions;
  // Identity facts by (partition, request id): those in the topic, and those
  // the re-fold sends. Each must be there exactly once.
  std::map<std::pair<int32_t, std::string>, int> facts_there, facts_sent;
  int32_t partitions = 0;
  ReadOptions ro;
  ro.brokers = brokers;
  ro.topic = kRequestsTopic;
  ro.partitions = &partitions;
  if (Status s = read_topic(ro, [&](int32_t p, int64_t, std::span<const uint8_t> v, const Headers&) {
        requests[p].emplace_back(reinterpret_cast<const char*>(v.data()), v.size());
        const fb::Request* r = events::verify_request(v);
        if (r != nullptr && events::is_engine_fact(r->payload_type())) {
          ++facts_there[{p, std::string(sv(r->request_id()))}];
          ++(r->payload_type() == fb::Payload::IdentityFact ? out->identity_facts : out->directory_facts);
        }
      });
      !s.ok())
    return s;
  ro.partitions = nullptr;
  ro.topic = kDecisionsTopic;
  if (Status s = read_topic(ro, [&](int32_t p, int64_t, std::span<const uint8_t> v, const Headers&) {
        decisions[p].emplace_back(reinterpret_cast<const char*>(v.data()), v.size());
      });
      !s.ok())
    return s;
  ro.topic = kDeadLetterTopic;
  if (Status s = read_topic(ro, [&](int32_t, int64_t, std::span<const uint8_t>, const Headers&) { ++out->dead_letters; });
      !s.ok())
    return s;

  auto diverge = [&](const std::string& e) {
    if (out->intact) {
      out->intact = false;
      out->error = e;
    }
  };
  uint64_t expected_dead = 0;
  for (auto& [p, reqs] : requests) {
    out->requests += reqs.size();
    auto mem = projections::make_memory_store();
    std::unique_ptr<Ledger> ledger;
    if (Status s = Ledger::open(mem.get(), &ledger); !s.ok()) return s;
    ledger->set_topology({p, partitions});
    std::vector<std::string> expected;
    std::vector<std::span<const uint8_t>> spans;
    std::vector<Answer> answers;
    for (size_t i = 0; i < reqs.size(); i += kBatchRequestsMax) {
      spans.clear();
      for (size_t j = i; j < std::min(reqs.size(), i + kBatchRequestsMax); ++j) spans.push_back(events::bytes_of(reqs[j]));
      if (Status s = ledger->submit(spans, &answers); !s.ok()) return s;
      for (auto& a : answers) {
        for (const Answer::Fact& f : a.facts)
          ++facts_sent[{f.partition, std::string(sv(flatbuffers::GetRoot<fb::Request>(f.request.data())->request_id()))}];
        if (flatbuffers::GetRoot<fb::LogRecord>(a.record.data())->request() == nullptr) {
          ++expected_dead;
        } else {
          expected.push_back(std::move(a.record));
        }
      }
    }
    const auto& got = decisions[p];
    out->decisions += got.size();
    const std::string where = "partition " + std::to_string(p);
    if (got.size() != expected.size())
      diverge(where + ": " + std::to_string(got.size()) + " decisions published for " + std::to_string(expected.size()) +
              " decodable requests");
    for (size_t i = 0; i < std::min(got.size(), expected.size()); ++i) {
      if (got[i] != expected[i]) {
        const auto* g = events::verify_log_record(events::bytes_of(got[i]));
        const auto* e = flatbuffers::GetRoot<fb::LogRecord>(expected[i].data());
        auto id = [](const fb::LogRecord* r) {
          return r != nullptr && r->decision() != nullptr && r->decision()->request_id() != nullptr
                     ? r->decision()->request_id()->str()
                     : std::string("?");
        };
        diverge(where + ", decision " + std::to_string(i) + ": published " + id(g) + " differs from the re-fold's " +
                id(e));
        break;
      }
    }
    const events::Hash h = projections::state_hash(ledger->state());
    out->lines.push_back(where + ": " + std::to_string(reqs.size()) + " requests, state " + events::to_hex(h) +
                         ", chain " + events::to_hex(ledger->meta().chain_head));
    if (!data_dir.empty()) {
      const std::string dir = data_dir + "/partition-" + std::to_string(p);
      if (!std::filesystem::exists(dir)) continue;
      std::unique_ptr<projections::Store> store;
      projections::RocksOptions o;
      o.create_if_missing = false;
      o.sync = false;  // a node's store: its log is Kafka, kept inline
      if (Status s = projections::open_rocks_store(dir, o, &store); !s.ok()) return s;
      engine::State st;
      projections::Meta meta;
      if (Status s = store->load(&st, &meta); !s.ok()) return s;
      if (meta.next_offset != ledger->meta().next_offset) {
        out->lines.push_back(where + ": engine state at log offset " + std::to_string(meta.next_offset) + " of " +
                             std::to_string(ledger->meta().next_offset) + " (not compared)");
        continue;
      }
      ++out->partitions_checked;
      if (projections::state_hash(st) != h) diverge(where + ": engine state hash " + events::to_hex(projections::state_hash(st)) +
                                                    " differs from the re-fold's " + events::to_hex(h));
      if (meta.chain_head != ledger->meta().chain_head) diverge(where + ": engine chain head differs from the re-fold's");
    }
  }
  for (const auto& [p, got] : decisions) {
    if (requests.count(p) == 0 && !got.empty())
      diverge("partition " + std::to_string(p) + ": decisions without requests");
  }
  for (const auto& [where, n] : facts_sent) {
    const auto it = facts_there.find(where);
    const int there = it == facts_there.end() ? 0 : it->second;
    if (there != n) {
      diverge("identity fact " + where.second + " for partition " + std::to_string(where.first) + ": in the topic " +
              std::to_string(there) + " times, sent " + std::to_string(n) + " times by the re-fold");
      break;
    }
  }
  for (const auto& [where, n] : facts_there) {
    if (facts_sent.count(where) == 0) {
      diverge("identity fact " + where.second + " in partition " + std::to_string(where.first) +
              " was never sent by a decision");
      break;
    }
  }
  if (expected_dead != out->dead_letters)
    diverge(std::to_string(out->dead_letters) + " dead letters for " + std::to_string(expected_dead) +
            " undecodable messages");
  return {};
}

}  // namespace kase::adapters::kafka
