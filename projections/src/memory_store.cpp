#include <array>
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
    for (const auto& [k, v] : fam(Family::request_ids)) fn(k, offset_from_key(v));
    return {};
  }
  Status commit(const Batch& b) override {
    std::string scratch;
    for_each_write(b, &scratch, [&](Family f, std::string_view k, std::string_view v) {
      fam(f)[std::string(k)] = std::string(v);
    });
    return {};
  }
  Status scan_log(uint64_t from, const std::function<bool(uint64_t, std::span<const uint8_t>)>& fn) override {
    auto& log = fam(Family::log);
    for (auto it = log.lower_bound(offset_key(from)); it != log.end(); ++it) {
      const auto* p = reinterpret_cast<const uint8_t*>(it->second.data());
      if (!fn(offset_from_key(it->first), {p, it->second.size()})) break;
    }
    return {};
  }
  Status get_record(uint64_t offset, std::string* out) override {
    auto& log = fam(Family::log);
    auto it = log.find(offset_key(offset));
    if (it == log.end()) return {Errc::not_found, "no log record at offset " + std::to_string(offset)};
    *out = it->second;
    return {};
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
