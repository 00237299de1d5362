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

/// Strings kept for as long as the arena lives, in blocks of 1 MiB: one
/// allocation per block instead of one per string, and views that never
/// move. Tables whose keys are never erased (interned names, request ids,
/// orders) keep their key bytes here.
class StringArena {
 public:
  StringArena() = default;
  StringArena(const StringArena&) = delete;
  StringArena& operator=(const StringArena&) = delete;

  /// A stable copy of `s`.
  std::string_view keep(std::string_view s) {
    if (s.empty()) return {};
    char* p = allocate(s.size());
    std::copy(s.begin(), s.end(), p);
    return {p, s.size()};
  }
  /// A stable copy of `a`, `sep` and `b` back to back.
  std::string_view keep(std::string_view a, char sep, std::string_view b) {
    const size_t n = a.size() + 1 + b.size();
    char* p = allocate(n);
    std::copy(a.begin(), a.end(), p);
    p[a.size()] = sep;
    std::copy(b.begin(), b.end(), p + a.size() + 1);
    return {p, n};
  }

 private:
  static constexpr size_t kBlockBytes = 1 << 20;
  char* allocate(size_t n) {
    if (blocks_.empty() || blocks_.back().capacity() - blocks_.back().size() < n) {
      blocks_.emplace_back();
      blocks_.back().reserve(std::max(kBlockBytes, n));
    }
    std::string& block = blocks_.back();
    const size_t pos = block.size();
    block.resize(pos + n);  // within capacity: never reallocates, views stay valid
    return block.data() + pos;
  }
  std::deque<std::string> blocks_;
};

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
    const std::string_view key = arena_.keep(id);
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

  std::vector<Slot> slots_;
  StringArena arena_;
  size_t size_ = 0;
};

}  // namespace kase::engine
