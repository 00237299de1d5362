#include <cstring>

#include "kase/projections/little_endian.h"
#include "kase/projections/store.h"

namespace kase::projections {
namespace {

constexpr uint32_t kSegmentVersion = 1;
constexpr size_t kHeaderBytes = 16;

void pad8(std::string* o) { o->append((8 - o->size() % 8) % 8, '\0'); }
size_t padded8(size_t n) { return (n + 7) & ~size_t{7}; }

}  // namespace

void Batch::clear() {
  segment_.clear();
  ids_.clear();
  count_ = 0;
  first_offset_ = 0;
  dirty = engine::DirtySet{};
}

void Batch::add_record(uint64_t offset, std::string_view request_id, std::span<const uint8_t> record) {
  if (count_ == 0) {
    first_offset_ = offset;
    segment_.assign(kHeaderBytes, '\0');
  }
  KASE_ASSERT(offset == first_offset_ + count_, "segment offsets are consecutive");
  le::put(&segment_, record.size(), 4);
  le::put(&segment_, 0, 4);  // reserved
  segment_.append(reinterpret_cast<const char*>(record.data()), record.size());
  pad8(&segment_);
  le::put(&ids_, request_id.size(), 4);
  ids_.append(request_id);
  ++count_;
  // Keep the header current, so that segment() is always a complete value.
  le::store(segment_.data(), first_offset_, 8);
  le::store(segment_.data() + 8, count_, 4);
  le::store(segment_.data() + 12, kSegmentVersion, 4);
}

void Batch::add_refolded(uint64_t offset, std::string_view request_id) {
  KASE_ASSERT(segment_.empty(), "a batch either appends records or re-folds logged ones");
  if (count_ == 0) first_offset_ = offset;
  KASE_ASSERT(offset == first_offset_ + count_, "re-folded offsets are consecutive");
  le::put(&ids_, request_id.size(), 4);
  ids_.append(request_id);
  ++count_;
}

std::string_view Batch::segment() const { return segment_; }

bool for_each_id(std::string_view ids, uint64_t first_offset,
                 const std::function<void(std::string_view, uint64_t)>& fn) {
  size_t pos = 0;
  for (uint64_t i = 0; pos < ids.size(); ++i) {
    if (ids.size() - pos < 4) return false;
    const size_t n = le::get(ids, pos, 4);
    if (ids.size() - pos - 4 < n) return false;
    fn(ids.substr(pos + 4, n), first_offset + i);
    pos += 4 + n;
  }
  return true;
}

SegmentReader::SegmentReader(std::string_view segment) : s_(segment) {
  if (s_.size() < kHeaderBytes) return;
  first_ = le::get(s_, 0, 8);
  count_ = static_cast<uint32_t>(le::get(s_, 8, 4));
  ok_ = le::get(s_, 12, 4) == kSegmentVersion;
}

bool SegmentReader::next(uint64_t* offset, std::span<const uint8_t>* record) {
  if (!ok_ || index_ >= count_) return false;
  if (s_.size() - pos_ < 8) {
    ok_ = false;
    return false;
  }
  const size_t rec_len = le::get(s_, pos_, 4);
  const size_t rec_pos = pos_ + 8;
  if (s_.size() - rec_pos < rec_len) {
    ok_ = false;
    return false;
  }
  *offset = first_ + index_;
  *record = {reinterpret_cast<const uint8_t*>(s_.data() + rec_pos), rec_len};
  pos_ = rec_pos + padded8(rec_len);
  ++index_;
  return true;
}

}  // namespace kase::projections
