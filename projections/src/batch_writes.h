// Private: turns a Batch into (family, key, value) writes, shared by stores.
#pragma once

#include "kase/projections/store.h"

namespace kase::projections {

inline constexpr std::string_view kMetaNextOffset = "next_offset";
inline constexpr std::string_view kMetaChainHead = "chain_head";
inline constexpr std::string_view kMetaSettings = "settings";

template <class Put>
void for_each_write(const Batch& b, std::string* scratch, Put&& put) {
  for (const auto& r : b.records) {
    const std::string k = offset_key(r.offset);
    put(Family::log, std::string_view(k), std::string_view(b.arena).substr(r.pos, r.len));
    put(Family::request_ids, std::string_view(b.arena).substr(r.id_pos, r.id_len), std::string_view(k));
  }
  KASE_ASSERT(b.state != nullptr || b.dirty.size() == 0, "a batch with state changes names its state");
  auto table = [&](Family f, const auto& list) {
    for (const auto* e : list) {
      scratch->clear();
      encode_value(e->second, b.state->names, scratch);
      const std::string key(key_of(b.state->names, e->first));
      put(f, std::string_view(key), std::string_view(*scratch));
    }
  };
  table(Family::accounts, b.dirty.accounts);
  table(Family::representatives, b.dirty.representatives);
  table(Family::grants, b.dirty.grants);
  table(Family::permissions, b.dirty.permissions);
  table(Family::limit_overrides, b.dirty.limit_overrides);
  table(Family::day_totals, b.dirty.day_totals);
  table(Family::orders, b.dirty.orders);
  if (b.dirty.settings) {
    scratch->clear();
    encode_settings(*b.state, scratch);
    put(Family::meta, kMetaSettings, std::string_view(*scratch));
  }
  const std::string next = offset_key(b.meta.next_offset);
  put(Family::meta, kMetaNextOffset, std::string_view(next));
  put(Family::meta, kMetaChainHead,
      std::string_view(reinterpret_cast<const char*>(b.meta.chain_head.data()), b.meta.chain_head.size()));
}

inline bool is_state_family(Family f) {
  return f != Family::meta && f != Family::log && f != Family::request_ids;
}

}  // namespace kase::projections
