#include "kase/adapters/decision_index.h"

#include <algorithm>
#include <filesystem>

#include <rocksdb/db.h>
#include <rocksdb/options.h>
#include <rocksdb/write_batch.h>

#include "kase/projections/little_endian.h"

namespace kase::adapters {
namespace {

// Keys: 'd' + request id -> LogRecord bytes; 'o' + partition (4 bytes, big
// endian) -> next offset (8 bytes, little endian); "n" -> decisions indexed.
constexpr char kDecision = 'd';
constexpr char kOffset = 'o';
const std::string kCount = "n";
const std::string kCluster = "c";

std::string offset_key(int32_t partition) {
  const auto p = static_cast<uint32_t>(partition);
  return {kOffset, static_cast<char>(p >> 24), static_cast<char>(p >> 16), static_cast<char>(p >> 8),
          static_cast<char>(p)};
}
std::string u64(uint64_t v) {
  std::string s;
  projections::le::put(&s, v, 8);
  return s;
}
/// A short value (not written by u64()) reads as its bytes, zero-extended.
uint64_t u64_of(std::string_view s) { return projections::le::get(s, 0, static_cast<int>(std::min<size_t>(s.size(), 8))); }
std::string decision_key(std::string_view id) {
  std::string k(1, kDecision);
  k.append(id);
  return k;
}

}  // namespace

DecisionIndex::DecisionIndex(std::unique_ptr<rocksdb::DB> db, uint64_t size) : db_(std::move(db)), size_(size) {}
DecisionIndex::~DecisionIndex() = default;

Status DecisionIndex::open(const std::string& dir, std::unique_ptr<DecisionIndex>* out) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);  // the node's data directory may be new too
  if (ec) return {Errc::io_error, "decisions index " + dir + ": " + ec.message()};
  rocksdb::Options options;
  options.create_if_missing = true;
  rocksdb::DB* raw = nullptr;
  const rocksdb::Status s = rocksdb::DB::Open(options, dir, &raw);
  if (!s.ok()) return {Errc::io_error, "decisions index " + dir + ": " + s.ToString()};
  std::unique_ptr<rocksdb::DB> db(raw);
  std::string count;
  const rocksdb::Status g = db->Get(rocksdb::ReadOptions(), kCount, &count);
  if (!g.ok() && !g.IsNotFound()) return {Errc::io_error, "decisions index " + dir + ": " + g.ToString()};
  out->reset(new DecisionIndex(std::move(db), g.ok() ? u64_of(count) : 0));
  return {};
}

Status DecisionIndex::add(int32_t partition, int64_t offset, std::string_view id, std::span<const uint8_t> record,
                          std::string* first, bool* added) {
  const std::string key = decision_key(id);
  std::string existing;
  bool is_new = false;
  if (!id.empty()) {  // an empty id: a record that is no decision only moves the offset on
    const rocksdb::Status g = db_->Get(rocksdb::ReadOptions(), key, &existing);
    if (!g.ok() && !g.IsNotFound()) return {Errc::io_error, "decisions index: " + g.ToString()};
    is_new = g.IsNotFound();
  }
  rocksdb::WriteBatch batch;
  const std::string_view value(reinterpret_cast<const char*>(record.data()), record.size());
  if (is_new) {
    batch.Put(key, value);
    batch.Put(kCount, u64(size() + 1));
  }
  batch.Put(offset_key(partition), u64(static_cast<uint64_t>(offset + 1)));
  const rocksdb::Status w = db_->Write(rocksdb::WriteOptions(), &batch);
  if (!w.ok()) return {Errc::io_error, "decisions index: " + w.ToString()};
  if (is_new) ++size_;
  if (added != nullptr) *added = is_new;
  if (first != nullptr && !id.empty()) {
    if (is_new) first->assign(value);
    else *first = std::move(existing);
  }
  return {};
}

bool DecisionIndex::find(std::string_view id, std::string* record) const {
  return db_->Get(rocksdb::ReadOptions(), decision_key(id), record).ok();
}

std::string DecisionIndex::cluster() const {
  std::string id;
  return db_->Get(rocksdb::ReadOptions(), kCluster, &id).ok() ? id : std::string();
}

Status DecisionIndex::reset(std::string_view cluster) {
  rocksdb::WriteBatch batch;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions()));
  for (it->SeekToFirst(); it->Valid(); it->Next()) batch.Delete(it->key());
  if (!it->status().ok()) return {Errc::io_error, "decisions index: " + it->status().ToString()};
  batch.Put(kCluster, rocksdb::Slice(cluster.data(), cluster.size()));
  const rocksdb::Status w = db_->Write(rocksdb::WriteOptions(), &batch);
  if (!w.ok()) return {Errc::io_error, "decisions index: " + w.ToString()};
  size_.store(0);
  return {};
}

std::map<int32_t, int64_t> DecisionIndex::next_offsets() const {
  std::map<int32_t, int64_t> out;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions()));
  for (it->Seek(std::string(1, kOffset)); it->Valid() && it->key().size() == 5 && it->key()[0] == kOffset;
       it->Next()) {
    const auto* k = reinterpret_cast<const uint8_t*>(it->key().data());
    const auto p = static_cast<int32_t>((uint32_t{k[1]} << 24) | (uint32_t{k[2]} << 16) | (uint32_t{k[3]} << 8) | k[4]);
    out[p] = static_cast<int64_t>(u64_of(it->value().ToStringView()));
  }
  return out;
}

}  // namespace kase::adapters
