#include <array>
#include <iterator>
#include <map>

#include "batch_writes.h"

namespace kase::projections {
namespace {

/// In-memory fake of the RocksDB store (tests, scratch replays). Not durable.
class MemoryStore final : public Store {
 public:
  Status load(engine::State* state, Meta* meta) override {
    auto& m = fam(Family::meta);
    if (auto it = m.find(std::string(kMetaNextOffset)); it != m.end()) meta->next_offset = offset_from_key(it->second);
    if (auto it = m.find(std::string(kMetaChainHead)); it != m.end() && it->second.size() == 32)
      std::copy(it->second.begin(), it->second.end(), meta->chain_head.begin());
    if (auto it = m.find(std::string(kMetaSourceNext)); it != m.end()) meta->source_next = offset_from_key(it->second);
    if (auto it = m.find(std::string(kMetaSettings)); it != m.end()) {
      if (Status s = decode_settings(it->second, state); !s.ok()) return s;
    }
    for (size_t f = 0; f < kFamilyCount; ++f) {
      if (!is_state_family(static_cast<Family>(f))) continue;
      for (const auto& [k, v] : families_[f]) {
        if (Status s = decode_entry(static_cast<Family>(f), k, v, state); !s.ok()) return s;
      }
    }
    return {};
  }
  Status load_request_ids(const std::function<void(std::string_view, uint64_t)>& fn) override {
    for (const auto& [k, v] : fam(Family::request_ids))
      if (!for_each_id(v, offset_from_key(k), fn)) return {Errc::corruption, "request ids do not decode"};
    return {};
  }
  Status sync() override { return {}; }
  Status commit(const Batch& b, Sync) override {
    std::string scratch;
    if (!b.segment().empty()) fam(Family::log)[offset_key(b.first_offset())] = std::string(b.segment());
    for_each_write(b, &scratch, [&](Family f, std::string_view k, std::string_view v) {
      fam(f)[std::string(k)] = std::string(v);
    });
    return {};
  }
  Status scan_log(uint64_t from, const std::function<bool(uint64_t, std::span<const uint8_t>)>& fn) override {
    struct Cursor {
      using Map = std::map<std::string, std::string>;
      const Map& m;
      Map::const_iterator it;
      void seek_for_prev(const std::string& k) {
        it = m.upper_bound(k);
        it = it == m.begin() ? m.end() : std::prev(it);
      }
      void seek_first() { it = m.begin(); }
      bool valid() const { return it != m.end(); }
      std::string_view key() const { return it->first; }
      std::string_view value() const { return it->second; }
      void next() { ++it; }
    } c{fam(Family::log), {}};
    return scan_segments(c, from, fn);
  }
  Status get_record(uint64_t offset, std::string* out) override {
    return find_record(*this, offset, out);
  }
  Status scan_state(const std::function<void(Family, std::string_view, std::string_view)>& fn) override {
    for (size_t f = 0; f < kFamilyCount; ++f) {
      if (!is_state_family(static_cast<Family>(f))) continue;
      for (const auto& [k, v] : families_[f]) fn(static_cast<Family>(f), k, v);
    }
    return {};
  }

 private:
  std::map<std::string, std::string>& fam(Family f) { return families_[static_cast<size_t>(f)]; }
  std::array<std::map<std::string, std::string>, kFamilyCount> families_;
};

}  // namespace

std::unique_ptr<Store> make_memory_store() { return std::make_unique<MemoryStore>(); }

}  // namespace kase::projections
