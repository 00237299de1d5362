// Protocol faults with librdkafka's mock cluster (rdkafka_mock.h): request
// errors that abort a transaction, a broker down, a leader change. The engine
// node must recover each time and end with every partition's state equal to a
// clean re-fold of its requests. The mock writes no transaction markers, so
// exactly-once itself is proven on the real broker (tests/kafka_test.sh).
#include <gtest/gtest.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <librdkafka/rdkafkacpp.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <map>
#include <thread>

#include "kase/adapters/demo.h"
#include "kase/adapters/kafka.h"
#include "kase/adapters/ledger.h"
#include "kase/events/build.h"
#include "kase/events/codec.h"
#include "kase/projections/store.h"

namespace kase {
namespace {

namespace kafka = adapters::kafka;
using namespace std::chrono_literals;

// Kafka protocol ApiKeys.
constexpr int16_t kProduce = 0;

class MockCluster {
 public:
  MockCluster() {
    char err[256];
    rd_kafka_conf_t* conf = rd_kafka_conf_new();
    rk_ = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
    mc_ = rd_kafka_mock_cluster_new(rk_, 3);
    for (const char* t : {kafka::kRequestsTopic, kafka::kDecisionsTopic, kafka::kDeadLetterTopic})
      rd_kafka_mock_topic_create(mc_, t, 2, 3);
  }
  ~MockCluster() {
    rd_kafka_mock_cluster_destroy(mc_);
    rd_kafka_destroy(rk_);
  }
  [[nodiscard]] std::string bootstraps() const { return rd_kafka_mock_cluster_bootstraps(mc_); }
  rd_kafka_mock_cluster_t* get() { return mc_; }

 private:
  rd_kafka_t* rk_ = nullptr;
  rd_kafka_mock_cluster_t* mc_ = nullptr;
};

/// Per partition: the state hash of a clean re-fold of its requests.
std::map<int32_t, events::Hash> refold(const std::string& brokers) {
  std::map<int32_t, std::vector<std::string>> reqs;
  kafka::ReadOptions ro;
  ro.brokers = brokers;
  ro.topic = kafka::kRequestsTopic;
  EXPECT_TRUE(kafka::read_topic(ro, [&](int32_t p, int64_t, std::span<const uint8_t> v, const auto&) {
                reqs[p].emplace_back(reinterpret_cast<const char*>(v.data()), v.size());
              }).ok());
  std::map<int32_t, events::Hash> out;
  for (auto& [p, list] : reqs) {
    auto mem = projections::make_memory_store();
    std::unique_ptr<adapters::Ledger> ledger;
    EXPECT_TRUE(adapters::Ledger::open(mem.get(), &ledger).ok());
    std::vector<std::span<const uint8_t>> spans;
    std::vector<adapters::Answer> answers;
    for (size_t i = 0; i < list.size(); i += adapters::kBatchRequestsMax) {
      spans.clear();
      for (size_t j = i; j < std::min(list.size(), i + adapters::kBatchRequestsMax); ++j)
        spans.push_back(events::bytes_of(list[j]));
      EXPECT_TRUE(ledger->submit(spans, &answers).ok());
    }
    out[p] = projections::state_hash(ledger->state());
  }
  return out;
}

events::Hash engine_state(const std::string& dir) {
  std::unique_ptr<projections::Store> store;
  projections::RocksOptions o;
  o.create_if_missing = false;
  EXPECT_TRUE(projections::open_rocks_store(dir, o, &store).ok()) << dir;
  engine::State st;
  projections::Meta meta;
  EXPECT_TRUE(store->load(&st, &meta).ok());
  return projections::state_hash(st);
}

// Directory facts go to a client's partition by engine::client_partition; the
// producer puts the client's requests there by librdkafka's murmur2
// partitioner (Kafka's Java one). They must agree on every key.
TEST(KafkaPartitioner, ClientPartitionIsWhereTheProducerPutsTheClientsRequests) {
  for (const int32_t n : {1, 2, 3, 8, 12, 64}) {
    for (int i = 0; i < 2000; ++i) {
      std::string key = "client-" + std::to_string(i * 7919);
      key.resize(static_cast<size_t>(1 + i % 23), static_cast<char>('a' + i % 26));
      EXPECT_EQ(engine::client_partition(key, n),
                rd_kafka_msg_partitioner_murmur2(nullptr, key.data(), key.size(), n, nullptr, nullptr))
          << key << " of " << n;
    }
    for (const char* key : {"M", "I", "J", "X", "C1", "90000000001"})
      EXPECT_EQ(engine::client_partition(key, n),
                rd_kafka_msg_partitioner_murmur2(nullptr, key, std::strlen(key), n, nullptr, nullptr));
  }
}

TEST(KafkaMock, NodeRecoversFromRequestErrorsBrokerDownAndLeaderChange) {
  MockCluster mock;
  const std::string brokers = mock.bootstraps();
  const auto dir = std::filesystem::temp_directory_path() / ("kase-mock-" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);

  // The demo stream, produced by the channel producer.
  const std::vector<std::string> requests = adapters::demo_requests();
  {
    std::unique_ptr<kafka::RequestProducer> p;
    ASSERT_TRUE(kafka::RequestProducer::open(brokers, &p).ok());
    for (const auto& r : requests) ASSERT_TRUE(p->produce(events::bytes_of(r)).ok());
    ASSERT_TRUE(p->flush(30'000).ok());
  }
  // Everything of the stream that reached kase.requests (settings go to every partition).
  int64_t total = 0;
  {
    kafka::ReadOptions ro;
    ro.brokers = brokers;
    ro.topic = kafka::kRequestsTopic;
    ASSERT_TRUE(kafka::read_topic(ro, [&](int32_t, int64_t, std::span<const uint8_t>, const auto&) { ++total; }).ok());
  }
  ASSERT_GE(total, static_cast<int64_t>(requests.size()));

  // Request errors: the node's first decision produce requests fail for good,
  // so their transaction must be aborted and re-folded.
  rd_kafka_mock_push_request_errors(mock.get(), kProduce, 6, RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE,
                                    RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE, RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE,
                                    RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE, RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE,
                                    RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE);

  std::atomic<bool> stop{false};
  kafka::NodeOptions o;
  o.brokers = brokers;
  o.data_dir = dir.string();
  o.batch_max = 256;  // many transactions, so the faults land mid-stream
  o.batch_ms = 5;
  o.stop = &stop;
  o.verbose = false;
  kafka::NodeStats stats;
  Status node_status;
  std::thread node([&] { node_status = kafka::run_node(o, &stats); });

  // The mock keeps no transactional offsets, so progress is read off the node.
  auto wait_decided = [&](uint64_t at_least, std::chrono::seconds limit) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (stats.decided.load() < at_least && std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(100ms);
    return stats.decided.load();
  };
  // Some progress; then a second stream arrives while a broker is down for
  // a while and the leaders of two partitions move.
  EXPECT_GT(wait_decided(1, 60s), 0U);
  rd_kafka_mock_broker_set_down(mock.get(), 2);
  std::thread second([&] {
    events::JsonCodec codec;
    std::unique_ptr<kafka::RequestProducer> p;
    ASSERT_TRUE(kafka::RequestProducer::open(brokers, &p).ok());
    for (const auto& r : requests) {
      std::string json = codec.request_to_json(*events::verify_request(events::bytes_of(r)));
      json.replace(json.find("\"demo-"), 6, "\"again-");
      std::span<const uint8_t> bin;
      std::string error;
      ASSERT_EQ(codec.request_from_json(json, 0, &bin, &error), events::JsonStatus::ok) << error;
      ASSERT_TRUE(p->produce(bin).ok());
    }
    ASSERT_TRUE(p->flush(60'000).ok());
  });
  std::this_thread::sleep_for(2s);
  rd_kafka_mock_broker_set_up(mock.get(), 2);
  rd_kafka_mock_partition_set_leader(mock.get(), kafka::kRequestsTopic, 0, 3);
  rd_kafka_mock_partition_set_leader(mock.get(), kafka::kDecisionsTopic, 1, 1);
  second.join();
  total *= 2;

  // Beside the stream, the identity and directory facts the node sent between
  // partitions (requests too, each decided once). The mock writes no
  // transaction markers, so a fact produced in an aborted transaction is read
  // too, beside its copy sent again after the re-fold: the second of the two
  // is answered as a duplicate (its original decision again, by its id).
  const auto facts = [&] {
    return stats.identity_facts.load() + stats.directory_facts.load() + stats.duplicates.load();
  };
  const auto settled = [&] { return stats.decided.load() >= static_cast<uint64_t>(total) + facts(); };
  const auto deadline = std::chrono::steady_clock::now() + 120s;
  while (!settled() && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(100ms);
  std::this_thread::sleep_for(500ms);  // nothing more may come
  EXPECT_GT(stats.identity_facts.load(), 0U) << "the demo's people are known in several partitions";
  EXPECT_LE(stats.duplicates.load(), stats.identity_facts.load() + stats.directory_facts.load())
      << "more duplicates than facts: a request of the stream was decided twice";
  EXPECT_EQ(stats.decided.load(), static_cast<uint64_t>(total) + facts())
      << "the node did not publish exactly one decision for every request and fact";
  stop = true;
  node.join();
  EXPECT_TRUE(node_status.ok()) << node_status.to_string();
  EXPECT_GE(stats.aborted, 1U) << "the injected produce errors never aborted a transaction";
  std::fprintf(stderr, "node: %llu transactions, %llu aborted, %llu decided (%llu duplicates), %llu re-folded\n",
               static_cast<unsigned long long>(stats.transactions.load()),
               static_cast<unsigned long long>(stats.aborted.load()), static_cast<unsigned long long>(stats.decided.load()),
               static_cast<unsigned long long>(stats.duplicates.load()),
               static_cast<unsigned long long>(stats.refolded.load()));

  // Every partition's state equals a clean re-fold of its requests.
  const auto expected = refold(brokers);
  ASSERT_EQ(expected.size(), 2U);
  for (const auto& [p, h] : expected)
    EXPECT_EQ(events::to_hex(engine_state((dir / ("partition-" + std::to_string(p))).string())), events::to_hex(h))
        << "partition " << p;
  std::filesystem::remove_all(dir);
}

/// A FaultyStore that owns the store it wraps (a node's partition store).
class OwningFaultyStore final : public projections::FaultyStore {
 public:
  OwningFaultyStore(std::unique_ptr<projections::Store> inner, int64_t operations_until_failure)
      : FaultyStore(inner.get(), operations_until_failure), inner_(std::move(inner)) {}

 private:
  std::unique_ptr<projections::Store> inner_;
};

// After a transaction commits, the node writes its state and applied offset
// to RocksDB. When that write fails, the node stops with the error (it never
// folds on from a state RocksDB does not hold), and a restart on the same
// data directory re-folds from what RocksDB holds: each partition's state
// ends equal to a clean re-fold of its requests.
TEST(KafkaMock, RocksDbWriteFailureStopsTheNodeAndARestartRecovers) {
  MockCluster mock;
  const std::string brokers = mock.bootstraps();
  const auto dir = std::filesystem::temp_directory_path() / ("kase-mock-store-" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  const std::vector<std::string> requests = adapters::demo_requests();
  {
    std::unique_ptr<kafka::RequestProducer> p;
    ASSERT_TRUE(kafka::RequestProducer::open(brokers, &p).ok());
    for (const auto& r : requests) ASSERT_TRUE(p->produce(events::bytes_of(r)).ok());
    ASSERT_TRUE(p->flush(30'000).ok());
  }

  kafka::NodeOptions o;
  o.brokers = brokers;
  o.data_dir = dir.string();
  o.batch_max = 16;  // many transactions: the failure lands mid-stream
  o.verbose = false;
  std::atomic<int> wrapped{0};
  o.wrap_store = [&](int32_t p, std::unique_ptr<projections::Store> s) -> std::unique_ptr<projections::Store> {
    if (p != 0) return s;
    ++wrapped;
    return std::make_unique<OwningFaultyStore>(std::move(s), 3);
  };
  kafka::NodeStats first;
  Status first_status;
  std::atomic<bool> stop{false};
  o.stop = &stop;
  std::atomic<bool> first_done{false};
  std::thread node([&] {
    first_status = kafka::run_node(o, &first);
    first_done = true;
  });
  const auto deadline = std::chrono::steady_clock::now() + 60s;
  while (!first_done && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(50ms);
  EXPECT_TRUE(first_done.load()) << "the node went on after its RocksDB write failed";
  stop = true;  // ends a node that did not stop by itself
  node.join();
  EXPECT_GE(wrapped.load(), 1) << "partition 0 was never opened";
  EXPECT_EQ(first_status.code(), Errc::io_error) << first_status.to_string();
  EXPECT_NE(first_status.to_string().find("injected commit failure"), std::string::npos) << first_status.to_string();
  EXPECT_GT(first.transactions.load(), 0U);

  // The restart, without faults, on the same data directory.
  o.wrap_store = nullptr;
  stop = false;
  kafka::NodeStats second;
  Status second_status;
  std::thread again([&] { second_status = kafka::run_node(o, &second); });
  // The mock keeps no transactional offsets: the restart publishes again
  // from RocksDB's applied offset, so it is done when its count stops moving.
  uint64_t last = 0;
  auto still = std::chrono::steady_clock::now();
  const auto limit = std::chrono::steady_clock::now() + 120s;
  while (std::chrono::steady_clock::now() < limit) {
    std::this_thread::sleep_for(100ms);
    const uint64_t now = second.decided.load();
    if (now != last) {
      last = now;
      still = std::chrono::steady_clock::now();
    } else if (now > 0 && std::chrono::steady_clock::now() - still > 2s) {
      break;
    }
  }
  stop = true;
  again.join();
  EXPECT_TRUE(second_status.ok()) << second_status.to_string();
  EXPECT_GT(second.decided.load(), 0U) << "the restart published nothing";

  const auto expected = refold(brokers);
  ASSERT_EQ(expected.size(), 2U);
  for (const auto& [p, h] : expected)
    EXPECT_EQ(events::to_hex(engine_state((dir / ("partition-" + std::to_string(p))).string())), events::to_hex(h))
        << "partition " << p;
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace kase
