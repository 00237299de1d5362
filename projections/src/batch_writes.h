// Private: turns a Batch into (family, key, value) writes, shared by stores.
#pragma once

#include <string>

#include "kase/projections/store.h"

namespace kase::projections {

inline constexpr std::string_view kMetaNextOffset = "next_offset";
inline constexpr std::string_view kMetaChainHead = "chain_head";
inline constexpr std::string_view kMetaSettings = "settings";
inline constexpr std::string_view kMetaSourceNext = "source_next";
/// The last log frame recorded in the log family (durable stores keep the
/// log in segment files; see log_files.h).
inline constexpr std::string_view kMetaLogEnd = "log_end";

/// Every write of a batch but the log segment itself, which each store
/// places on its own (inline in the log family, or in a segment file).
template <class Put>
void for_each_write(const Batch& b, std::string* scratch, Put&& put) {
  if (!b.empty()) {
    const std::string k = offset_key(b.first_offset());
    put(Family::request_ids, std::string_view(k), b.ids());
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
  table(Family::persons, b.dirty.persons);
  table(Family::applications, b.dirty.applications);
  table(Family::data_exchange, b.dirty.data_exchange);
  table(Family::messages, b.dirty.messages);
  table(Family::message_reads, b.dirty.message_reads);
  table(Family::clients, b.dirty.clients);
  table(Family::roles, b.dirty.roles);
  table(Family::service_rights, b.dirty.service_rights);
  table(Family::structures, b.dirty.structures);
  table(Family::documents, b.dirty.documents);
  table(Family::document_history, b.dirty.document_history);
  table(Family::payment_files, b.dirty.payment_files);
  if (b.dirty.settings) {
    scratch->clear();
    encode_settings(*b.state, scratch);
    put(Family::meta, kMetaSettings, std::string_view(*scratch));
  }
  const std::string next = offset_key(b.meta.next_offset);
  put(Family::meta, kMetaNextOffset, std::string_view(next));
  put(Family::meta, kMetaChainHead,
      std::string_view(reinterpret_cast<const char*>(b.meta.chain_head.data()), b.meta.chain_head.size()));
  if (b.meta.source_next != 0) {
    const std::string source = offset_key(b.meta.source_next);
    put(Family::meta, kMetaSourceNext, std::string_view(source));
  }
}

/// Walks the segments of a log in key order from the one holding `from`,
/// calling fn for records at or after `from`. `Cursor` yields (key, value)
/// pairs: seek_for_prev(key), seek_first(), valid(), key(), value(), next().
/// `resolve(key, value, &bytes)` turns a stored value into the segment's
/// bytes (8-aligned): a copy, or the frame a location names. `*next` is set
/// to the offset after the last record seen (unchanged when none).
template <class Cursor, class Resolve>
Status scan_segments(Cursor& c, uint64_t from, const std::function<bool(uint64_t, std::span<const uint8_t>)>& fn,
                     Resolve&& resolve, uint64_t* next, bool* stopped) {
  *stopped = false;
  c.seek_for_prev(offset_key(from));
  if (!c.valid()) c.seek_first();
  std::string aligned;  // FlatBuffers need 8-aligned bytes; store values need not be
  for (; c.valid(); c.next()) {
    aligned.reserve(64);
    if (Status s = resolve(c.key(), c.value(), &aligned); !s.ok()) return s;
    SegmentReader seg(aligned);
    if (!seg.valid_header()) return {Errc::corruption, "log segment header does not decode"};
    uint64_t offset = 0;
    std::span<const uint8_t> record;
    while (seg.next(&offset, &record)) {
      *next = offset + 1;
      if (offset < from) continue;
      if (!fn(offset, record)) {
        *stopped = true;
        return {};
      }
    }
    if (seg.corrupt()) {
      return {Errc::corruption, "log segment at offset " + std::to_string(seg.first_offset()) + " is truncated"};
    }
  }
  return {};
}

/// scan_segments over values that are the segments themselves.
template <class Cursor>
Status scan_segments(Cursor& c, uint64_t from, const std::function<bool(uint64_t, std::span<const uint8_t>)>& fn) {
  uint64_t next = 0;
  bool stopped = false;
  return scan_segments(
      c, from, fn,
      [](std::string_view, std::string_view value, std::string* out) -> Status {
        out->assign(value);
        return {};
      },
      &next, &stopped);
}

/// get_record() in terms of scan_log().
inline Status find_record(Store& store, uint64_t offset, std::string* out) {
  bool found = false;
  Status s = store.scan_log(offset, [&](uint64_t off, std::span<const uint8_t> rec) {
    if (off == offset) {
      out->assign(reinterpret_cast<const char*>(rec.data()), rec.size());
      found = true;
    }
    return false;
  });
  if (!s.ok()) return s;
  if (!found) return {Errc::not_found, "no log record at offset " + std::to_string(offset)};
  return {};
}

inline bool is_state_family(Family f) {
  return f != Family::meta && f != Family::log && f != Family::request_ids;
}

}  // namespace kase::projections
