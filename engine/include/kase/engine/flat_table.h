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

template <class K, class V, class Hash>
class FlatTable {
 public:
  using Entry = std::pair<const K, V>;

  FlatTable() : slots_(kInitialSlots) {}

  /// The entry for `k`, or nullptr.
  [[nodiscard]] Entry* find(const K& k) noexcept { return lookup(k, hash(k)); }
  [[nodiscard]] const Entry* find(const K& k) const noexcept { return lookup(k, hash(k)); }
  [[nodiscard]] size_t count(const K& k) const noexcept { return find(k) != nullptr ? 1 : 0; }

  /// The entry for `k`, added with a default value when absent.
  std::pair<Entry*, bool> try_emplace(const K& k) {
    const uint64_t h = hash(k);
    if (Entry* e = lookup(k, h)) return {e, false};
    if ((entries_.size() + 1) * 2 > slots_.size()) grow();
    Entry& e = entries_.emplace_back(std::piecewise_construct, std::forward_as_tuple(k), std::forward_as_tuple());
    place(&e, h);
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
  struct Slot {
    uint64_t hash = 0;
    Entry* entry = nullptr;
  };
  static constexpr size_t kInitialSlots = 64;

  static uint64_t hash(const K& k) noexcept { return static_cast<uint64_t>(Hash{}(k)); }
  size_t mask() const noexcept { return slots_.size() - 1; }

  Entry* lookup(const K& k, uint64_t h) const noexcept {
    for (size_t i = h & mask();; i = (i + 1) & mask()) {
      const Slot& s = slots_[i];
      if (s.entry == nullptr) return nullptr;
      if (s.hash == h && s.entry->first == k) return s.entry;
    }
  }
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
  std::deque<Entry> entries_;
};

}  // namespace kase::engine
