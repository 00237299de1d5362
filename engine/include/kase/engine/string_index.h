// StringIndex: string -> uint64_t, for the interned names and the
// idempotency index (request id -> log offset).
//
// Open addressing with linear probing; each slot holds the key's full 64-bit
// hash, so that a miss (a new request id, the common case) touches one slot
// and never the key bytes. Keys are copied into stable arena blocks and the
// views handed out by insert() stay valid for the index's life.
// Thread-safety: none; one owner thread.
#pragma once

#include <algorithm>
#include <cstdint>
#include <deque>
#include <string>
#include <string_view>
#include <vector>

#include "kase/engine/hash.h"

namespace kase::engine {

class StringIndex {
 public:
  StringIndex() { slots_.resize(kInitialSlots); }

  /// The offset of `id`, or nullptr.
  [[nodiscard]] const uint64_t* find(std::string_view id) const { return find(id, hash(id)); }

  /// Starts loading the slot `id` hashes to (a cache miss on a large index)
  /// and returns the hash, for find() and insert() a few requests later.
  uint64_t prefetch(std::string_view id) const {
    const uint64_t h = hash(id);
    __builtin_prefetch(&slots_[h & mask()]);
    return h;
  }

  /// find() with the hash prefetch() returned for `id`.
  [[nodiscard]] const uint64_t* find(std::string_view id, uint64_t h) const {
    for (size_t i = h & mask(); ; i = (i + 1) & mask()) {
      const Slot& s = slots_[i];
      if (s.hash == 0) return nullptr;
      if (s.hash == h && s.key == id) return &s.offset;
    }
  }

  /// Adds `id` (which must not be present); returns the stored copy of the key.
  std::string_view insert(std::string_view id, uint64_t offset) { return insert(id, offset, hash(id)); }

  /// insert() with the hash prefetch() returned for `id`.
  std::string_view insert(std::string_view id, uint64_t offset, uint64_t h) {
    if ((size_ + 1) * 2 > slots_.size()) grow();
    const std::string_view key = remember(id);
    place(key, h, offset);
    ++size_;
    return key;
  }

  [[nodiscard]] size_t size() const { return size_; }

 private:
  struct Slot {
    uint64_t hash = 0;  // 0 = empty (hash() never returns 0)
    uint64_t offset = 0;
    std::string_view key;
  };
  static constexpr size_t kInitialSlots = 1 << 8;
  static constexpr size_t kBlockBytes = 1 << 20;

  static uint64_t hash(std::string_view id) {
    const uint64_t h = NameHash{}(id);
    return h == 0 ? 1 : h;
  }
  size_t mask() const { return slots_.size() - 1; }

  void place(std::string_view key, uint64_t h, uint64_t offset) {
    size_t i = h & mask();
    while (slots_[i].hash != 0) i = (i + 1) & mask();
    slots_[i] = Slot{h, offset, key};
  }

  void grow() {
    std::vector<Slot> old(slots_.size() * 2);
    old.swap(slots_);
    for (const Slot& s : old)
      if (s.hash != 0) place(s.key, s.hash, s.offset);
  }

  std::string_view remember(std::string_view id) {
    if (arena_.empty() || arena_.back().capacity() - arena_.back().size() < id.size()) {
      arena_.emplace_back();
      arena_.back().reserve(std::max(kBlockBytes, id.size()));
    }
    std::string& block = arena_.back();
    const size_t pos = block.size();
    block.append(id);  // within capacity: never reallocates, views stay valid
    return {block.data() + pos, id.size()};
  }

  std::vector<Slot> slots_;
  std::deque<std::string> arena_;
  size_t size_ = 0;
};

}  // namespace kase::engine
