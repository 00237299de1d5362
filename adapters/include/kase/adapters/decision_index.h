// DecisionIndex: the HTTP front's index of kase.decisions by request id
// (Kafka mode), in RocksDB under the node's data directory, together with
// the next offset to read in each partition of the topic. A restarted node
// reads on from those offsets instead of from the start, and the index lives
// on disk, not in memory.
// Thread-safety: add() and reset() from one reader thread; find() and
// size() from any thread.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "kase/projections/status.h"

namespace rocksdb {
class DB;
}

namespace kase::adapters {

class DecisionIndex {
 public:
  ~DecisionIndex();
  DecisionIndex(const DecisionIndex&) = delete;
  DecisionIndex& operator=(const DecisionIndex&) = delete;

  /// Opens (creating) the index in `dir`.
  static Status open(const std::string& dir, std::unique_ptr<DecisionIndex>* out);

  /// Records the decision `record` of request `id`, read at `offset` of
  /// `partition`, and that partition's next offset, in one write. The first
  /// decision of an id stays (a duplicate's record repeats it). `first` (may
  /// be null) gets the record the id has from now on, `added` whether it is
  /// this one. An empty `id` (a record that is no decision) records only the
  /// offset.
  Status add(int32_t partition, int64_t offset, std::string_view id, std::span<const uint8_t> record,
             std::string* first, bool* added);
  /// The decision of `id`, or false.
  [[nodiscard]] bool find(std::string_view id, std::string* record) const;
  /// Per partition read so far: the offset to read next.
  [[nodiscard]] std::map<int32_t, int64_t> next_offsets() const;
  /// Decisions indexed (any thread).
  [[nodiscard]] uint64_t size() const noexcept { return size_.load(); }
  /// The id of the Kafka cluster the index was read from ("" when new).
  [[nodiscard]] std::string cluster() const;
  /// Empties the index and records `cluster` as the one it is read from
  /// (its offsets mean nothing in another cluster). Not while find() runs.
  Status reset(std::string_view cluster);

 private:
  DecisionIndex(std::unique_ptr<rocksdb::DB> db, uint64_t size);

  std::unique_ptr<rocksdb::DB> db_;
  std::atomic<uint64_t> size_{0};
};

}  // namespace kase::adapters
