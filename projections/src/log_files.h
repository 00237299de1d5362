// Private: the embedded request log as append-only segment files.
//
// A durable RocksStore keeps the log outside RocksDB, in DIR/log/NNNNNNNN.kseg,
// because the log is the bulk of what is written (every request and its
// decision) and needs none of what RocksDB offers: it is appended once, read
// in order, and never updated. Each batch's segment (see Batch in store.h) is
// one *frame*:
//
//   u32 magic "KSG1", u32 payload length, u32 CRC-32C of the payload,
//   u32 CRC-32C of the preceding 12 bytes, then the payload (the segment).
//
// The log is written first and made durable (fdatasync) before RocksDB is
// told where the frame lies: RocksDB's projections are never ahead of the
// log, only behind it, and a reopened ledger re-folds the frames RocksDB has
// not recorded (the log is the source of truth). A frame cut short at the end
// of the last file (a crash during the write) is cut off on a read-write open;
// any other frame that does not check is corruption.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "kase/projections/status.h"

namespace kase::projections {

/// CRC-32C (Castagnoli), with SSE4.2 when the CPU has it.
uint32_t crc32c(const void* data, size_t n, uint32_t crc = 0);

/// Where a frame lies. Stored in RocksDB's log family under the segment's
/// first offset, in place of the segment itself.
struct FrameLocation {
  uint64_t file = 0;   // file number (NNNNNNNN)
  uint64_t pos = 0;    // byte position of the frame header
  uint32_t length = 0; // payload bytes
  uint32_t count = 0;  // records in the segment
  uint64_t first_offset = 0;
  [[nodiscard]] uint64_t end() const { return pos + 16 + length; }
};

/// The 32-byte RocksDB value naming a frame, and its test.
std::string encode_location(const FrameLocation& loc);
bool is_location(std::string_view value);
bool decode_location(std::string_view value, uint64_t first_offset, FrameLocation* loc);

class LogFiles {
 public:
  /// Opens DIR/log (creating it unless read-only). Nothing is read yet.
  static Status open(const std::string& data_dir, bool read_only, uint64_t file_bytes, LogFiles* out);
  LogFiles() = default;
  LogFiles(const LogFiles&) = delete;
  LogFiles& operator=(const LogFiles&) = delete;
  ~LogFiles();

  /// Reads the frames after `from` (or all frames when from_start) up to the
  /// end of the last file. On a read-write open a frame cut short at the very
  /// end is truncated away; every other bad frame is corruption.
  Status scan_tail(bool from_start, const FrameLocation& from, std::vector<FrameLocation>* out);
  /// Positions the writer at the end of the last file (or a new file 1).
  Status start_writing();

  /// Appends one frame (the caller's thread; one writer). Not yet durable.
  Status append(std::string_view segment, uint64_t first_offset, uint32_t count, FrameLocation* loc);
  /// Makes every appended frame durable; returns how many frames that covers
  /// (a count of append() calls). Thread-safe with append().
  Status sync(uint64_t* appended_before);
  [[nodiscard]] uint64_t appended() const;

  /// Reads and checks one frame into `payload` (8-aligned by the allocator).
  Status read(const FrameLocation& loc, std::string* payload) const;
  /// Checks every frame of every file.
  Status verify_all() const;
  /// Bytes in the log files.
  [[nodiscard]] uint64_t bytes() const;

 private:
  std::string path_of(uint64_t file) const;
  std::vector<uint64_t> list_files() const;
  Status open_fd(uint64_t file, int* fd) const;
  /// Walks the frames of `file` from `pos`, checking each header and payload
  /// CRC, and hands each good frame (position, payload) to `on_frame`. A
  /// frame cut short ends the walk at *short_at when `short_ok`; otherwise,
  /// like any frame that does not check, it is corruption.
  Status walk_frames(uint64_t file, uint64_t pos, bool short_ok, uint64_t* short_at,
                     const std::function<void(uint64_t, const std::string&)>& on_frame) const;

  std::string dir_;
  bool read_only_ = true;
  uint64_t file_bytes_ = 256ull << 20;

  // Writer: append() on the owner's thread; sync() on another. fd_ and
  // file_ change only under mu_ (when a file is full); sync holds mu_ while
  // it flushes so that a rolled-over file is never closed under it.
  mutable std::mutex mu_;
  int fd_ = -1;
  uint64_t file_ = 0;
  uint64_t pos_ = 0;  // owner's thread only
  std::atomic<uint64_t> appended_{0};
};

}  // namespace kase::projections
