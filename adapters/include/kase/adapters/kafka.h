// Apache Kafka as the distributed log (librdkafka's C++ API; topic creation
// through its C admin API).
//
//   kase.requests     binary requests, key = client id (the partition key)
//   kase.decisions    LogRecords (request + decision), same partition as the request
//   kase.dead-letter  undecodable messages, with the reason in headers
//
// The engine node consumes requests in a consumer group; each assigned
// partition has its own Ledger over its own RocksDB directory. Per batch:
// decide → produce the decisions and send the input offsets in one Kafka
// transaction → then write state and the applied offset to RocksDB. On each
// assignment the partition re-folds silently from RocksDB's applied offset up
// to the group's committed offset (those decisions were already published)
// and then goes live.
//
// Thread-safety: a Node runs on the calling thread; RequestProducer is used
// by one thread.
#pragma once

#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <vector>

#include "kase/projections/status.h"

namespace kase::adapters {
class Ledger;
}
namespace kase::adapters::metrics {
class Tap;
}
namespace kase::projections {
class Store;
}

namespace kase::adapters::kafka {

inline constexpr const char* kRequestsTopic = "kase.requests";
inline constexpr const char* kDecisionsTopic = "kase.decisions";
inline constexpr const char* kDeadLetterTopic = "kase.dead-letter";

struct TopicSettings {
  int partitions = 8;
  int replication = 1;  // 3 on a three-broker cluster (with min.insync.replicas 2)
};

/// Creates the three topics; topics that exist with the same partition count
/// are left alone (idempotent). `report` gets one line per topic.
Status init_topics(const std::string& brokers, const TopicSettings& settings, std::string* report);

/// Channel side: an idempotent producer (acks=all) of binary requests.
/// Treasury-wide settings (calendar overrides, service hours and suspensions,
/// the identity policy) are produced to every partition, so that each
/// partition's fold knows them; each partition decides its copy.
class RequestProducer {
 public:
  virtual ~RequestProducer() = default;
  static Status open(const std::string& brokers, std::unique_ptr<RequestProducer>* out);
  /// Queues one verified binary request, keyed by its client id.
  virtual Status produce(std::span<const uint8_t> request) = 0;
  /// Called once per produce() when every copy of the request is delivered
  /// (acks=all) or one failed; from poll() or flush(), on their thread.
  using Delivered = std::function<void(const Status&)>;
  /// produce() with a delivery callback. When it returns an error, `done` is
  /// never called.
  virtual Status produce(std::span<const uint8_t> request, Delivered done) = 0;
  /// Serves delivery reports, waiting at most `timeout_ms` for one.
  virtual void poll(int timeout_ms) = 0;
  /// Waits until everything queued is delivered; an error if any delivery failed.
  virtual Status flush(int timeout_ms) = 0;
  [[nodiscard]] virtual uint64_t delivered() const = 0;
};

/// Largest node batch (`kase run --batch`): one transaction's requests over
/// all assigned partitions; each partition's share is at most
/// kBatchRequestsMax (the Ledger's batch).
inline constexpr size_t kNodeBatchRequestsMax = 65'536;

/// Work for the node's thread, between batches: queries over the partitions
/// the node holds now (the HTTP API over Kafka). Posted from any thread.
class PartitionTap {
 public:
  /// `ledgers` are the node's partitions (ids in `partitions`), live and
  /// caught up to the last committed batch; empty when the node holds none
  /// or has stopped.
  using Job = std::function<void(std::span<const Ledger* const> ledgers, std::span<const int32_t> partitions)>;
  /// Queues a job; it runs on the node's thread within about 100 ms, or at
  /// once with no ledgers when the node has closed the tap.
  void post(Job job);
  /// Node side: runs the queued jobs (one atomic load when there are none).
  void serve(std::span<const Ledger* const> ledgers, std::span<const int32_t> partitions);
  /// Node side: it leaves; queued and later jobs run with no ledgers.
  void close();
  /// Node side: whether a job is queued (one atomic load).
  bool wanted() const { return wanted_.load(std::memory_order_acquire); }

 private:
  std::atomic<bool> wanted_{false};
  std::mutex mu_;
  std::deque<Job> jobs_;
  bool closed_ = false;
};

struct NodeOptions {
  std::string brokers;
  std::string data_dir;              // one RocksDB directory per partition below it
  std::string group = "kase-engine";
  std::string transactional_id;      // default: derived from data_dir (stable across restarts);
                                     // also the static group member id
  // Each transaction costs a few broker round trips whatever its size (about
  // 10 ms on an idle two-core machine, bench/README.md): under load a batch
  // grows while the previous transaction commits, and the window only bounds
  // how long a request waits when traffic is light. A batch closes at
  // batch_max requests, at kBatchRequestsMax of one partition, or batch_ms
  // after its first request.
  size_t batch_max = 16'384;         // requests per transaction (bounded count)
  int batch_ms = 5;                  // and bounded time from the first request of a batch
  const std::atomic<bool>* stop = nullptr;  // set to leave the loop cleanly
  bool verbose = true;               // assignment and recovery lines on stderr
  /// When set, the node renders the metrics (metrics.h) for a scrape between
  /// batches. Not owned; must outlive run_node().
  metrics::Tap* metrics = nullptr;
  /// When set, the node runs queries posted here between batches. Not owned;
  /// must outlive run_node(); the node closes it when it returns.
  PartitionTap* queries = nullptr;
  /// Tests only: given each partition's RocksDB store as it is opened,
  /// returns the store the partition uses (a fault-injecting wrapper, say).
  std::function<std::unique_ptr<projections::Store>(int32_t partition, std::unique_ptr<projections::Store>)>
      wrap_store;
};

/// Counters of a running node; atomics, so that another thread may watch them.
struct NodeStats {
  std::atomic<uint64_t> decided{0};        // decisions published (in committed transactions)
  std::atomic<uint64_t> duplicates{0};     // of them, for a request id decided before: the original decision again
  std::atomic<uint64_t> refolded{0};       // requests re-folded silently on assignment
  std::atomic<uint64_t> dead_letters{0};
  std::atomic<uint64_t> identity_facts{0};  // IdentityFact requests sent to other partitions
  std::atomic<uint64_t> directory_facts{0};  // DirectoryFact requests sent to other partitions
  std::atomic<uint64_t> transactions{0};
  std::atomic<uint64_t> aborted{0};        // transactions aborted and re-folded
  std::atomic<uint64_t> producer_restarts{0};
  std::atomic<uint64_t> rebalances{0};
};

/// Runs the engine node until `stop` is set. Returns an error only for what
/// retrying cannot fix (bad options, a data directory that does not open).
Status run_node(const NodeOptions& options, NodeStats* stats);

/// Reads a topic from the beginning with read_committed, without joining a
/// group, calling fn(partition, offset, value) per message; stops at the end
/// of every partition (or, with follow, when `stop` is set).
struct ReadOptions {
  std::string brokers;
  std::string topic;
  bool follow = false;
  uint64_t max_messages = 0;  // 0 = no limit
  const std::atomic<bool>* stop = nullptr;
  /// With follow: called once, when every partition has been read to the
  /// end it had (the reader is caught up).
  std::function<void()> caught_up;
  /// When set: the topic's partition count.
  int32_t* partitions = nullptr;
  /// When set: called once connected, with the cluster's id ("" if the
  /// broker did not say); returns where to start in each partition.
  /// Partitions not named start at the beginning (as does one whose offset
  /// is no longer in the topic).
  std::function<std::map<int32_t, int64_t>(const std::string& cluster_id)> start_at;
};
Status read_topic(const ReadOptions& options,
                  const std::function<void(int32_t, int64_t, std::span<const uint8_t>,
                                           const std::vector<std::pair<std::string, std::string>>&)>& fn);

/// Re-folds kase.requests from the beginning, partition by partition, into
/// scratch in-memory ledgers (the same fold as the embedded log) and checks
/// kase.decisions against it: per partition exactly one decision per
/// decodable request, in order, byte for byte, and a dead letter for every
/// other message. With `data_dir`, each engine partition state found there
/// must hash equal to the re-fold (when it has applied the whole partition).
struct VerifyReport {
  uint64_t requests = 0;
  uint64_t decisions = 0;
  uint64_t dead_letters = 0;
  uint64_t identity_facts = 0;      // IdentityFact requests, each sent exactly once
  uint64_t directory_facts = 0;     // DirectoryFact requests, each sent exactly once
  uint64_t partitions_checked = 0;  // engine states compared
  bool intact = true;
  std::string error;                 // the first divergence
  std::vector<std::string> lines;    // per partition: requests, state hash, chain head
};
Status verify(const std::string& brokers, const std::string& data_dir, VerifyReport* out);

}  // namespace kase::adapters::kafka
