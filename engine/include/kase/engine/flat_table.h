// FlatTable: the engine's tables keyed by integer ids (accounts, grants,
// day totals, ...). Open addressing with linear probing over (hash, entry)
// slots and a power-of-two size (no modulo division per lookup); entries live
// in a deque, so pointers to them stay valid (the dirty lists hold them) and
// iteration is in insertion order. Entries are never erased.
// Thread-safety: none; one owner thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <stdexcept>
#include <utility>
#include <vector>

namespace kase::engine {

/// The open-addressing index behind FlatTable and OrderTable: (hash, entry)
/// slots, linear probing, power-of-two size, at most half full. It owns no
/// entries; their owner keeps them at stable addresses.
template <class Entry>
class SlotIndex {
 public:
  explicit SlotIndex(size_t initial_slots) : slots_(initial_slots) {}

  /// The entry with hash `h` for which `same(entry)` holds, or nullptr.
  template <class Same>
  [[nodiscard]] Entry* find(uint64_t h, Same&& same) const noexcept {
    for (size_t i = h & mask();; i = (i + 1) & mask()) {
      const Slot& s = slots_[i];
      if (s.entry == nullptr) return nullptr;
      if (s.hash == h && same(*s.entry)) return s.entry;
    }
  }
  /// Adds an entry; `count` is how many the index holds before it.
  void insert(Entry* e, uint64_t h, size_t count) {
    if ((count + 1) * 2 > slots_.size()) grow();
    place(e, h);
  }
  void prefetch(uint64_t h) const noexcept { __builtin_prefetch(&slots_[h & mask()]); }

 private:
  struct Slot {
    uint64_t hash = 0;
    Entry* entry = nullptr;
  };
  size_t mask() const noexcept { return slots_.size() - 1; }
  void place(Entry* e, uint64_t h) {
    size_t i = h & mask();
    while (slots_[i].entry != nullptr) i = (i + 1) & mask();
    slots_[i] = Slot{h, e};
  }
  void grow() {
    std::vector<Slot> old(slots_.size() * 2);
    old.swap(slots_);
    for (const Slot& s : old)
      if (s.entry != nullptr) place(s.entry, s.hash);
  }

  std::vector<Slot> slots_;
};

template <class K, class V, class Hash>
class FlatTable {
 public:
  using Entry = std::pair<const K, V>;

  FlatTable() : index_(kInitialSlots) {}

  /// The entry for `k`, or nullptr.
  [[nodiscard]] Entry* find(const K& k) noexcept { return lookup(k, hash(k)); }
  [[nodiscard]] const Entry* find(const K& k) const noexcept { return lookup(k, hash(k)); }
  [[nodiscard]] size_t count(const K& k) const noexcept { return find(k) != nullptr ? 1 : 0; }

  /// The entry for `k`, added with a default value when absent.
  std::pair<Entry*, bool> try_emplace(const K& k) {
    const uint64_t h = hash(k);
    if (Entry* e = lookup(k, h)) return {e, false};
    Entry& e = entries_.emplace_back(std::piecewise_construct, std::forward_as_tuple(k), std::forward_as_tuple());
    index_.insert(&e, h, entries_.size() - 1);
    return {&e, true};
  }
  V& operator[](const K& k) { return try_emplace(k).first->second; }
  [[nodiscard]] const V& at(const K& k) const {
    const Entry* e = find(k);
    if (e == nullptr) throw std::out_of_range("no such entry");
    return e->second;
  }

  [[nodiscard]] size_t size() const noexcept { return entries_.size(); }
  [[nodiscard]] bool empty() const noexcept { return entries_.empty(); }
  [[nodiscard]] auto begin() const { return entries_.begin(); }
  [[nodiscard]] auto end() const { return entries_.end(); }

 private:
  static constexpr size_t kInitialSlots = 64;

  static uint64_t hash(const K& k) noexcept { return static_cast<uint64_t>(Hash{}(k)); }
  Entry* lookup(const K& k, uint64_t h) const noexcept {
    return index_.find(h, [&](const Entry& e) { return e.first == k; });
  }

  SlotIndex<Entry> index_;
  std::deque<Entry> entries_;
};

}  // namespace kase::engine
