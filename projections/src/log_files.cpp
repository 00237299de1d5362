#include "log_files.h"

#include <fcntl.h>
#include <nmmintrin.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>

namespace kase::projections {
namespace {

namespace fs = std::filesystem;

constexpr uint32_t kFrameMagic = 0x3147534bu;  // "KSG1" little-endian
constexpr size_t kFrameHeader = 16;
constexpr std::string_view kLocationMagic = "KSEGLOC1";
constexpr size_t kLocationBytes = 32;
constexpr uint32_t kMaxFrame = 1u << 30;

uint32_t get32(const char* p) {
  uint32_t v = 0;
  std::memcpy(&v, p, 4);  // the log is little-endian (x86-64, as RocksDB's keys are our own)
  return v;
}
uint64_t get64(const char* p) {
  uint64_t v = 0;
  std::memcpy(&v, p, 8);
  return v;
}
void put32(char* p, uint32_t v) { std::memcpy(p, &v, 4); }
void put64(char* p, uint64_t v) { std::memcpy(p, &v, 8); }

std::array<uint32_t, 256> make_table() {
  std::array<uint32_t, 256> t{};
  for (uint32_t i = 0; i < 256; ++i) {
    uint32_t c = i;
    for (int k = 0; k < 8; ++k) c = (c & 1) != 0 ? (c >> 1) ^ 0x82f63b78u : c >> 1;
    t[i] = c;
  }
  return t;
}

uint32_t crc32c_table(const uint8_t* p, size_t n, uint32_t crc) {
  static const std::array<uint32_t, 256> table = make_table();
  for (size_t i = 0; i < n; ++i) crc = table[(crc ^ p[i]) & 0xff] ^ (crc >> 8);
  return crc;
}

__attribute__((target("sse4.2"))) uint32_t crc32c_sse42(const uint8_t* p, size_t n, uint32_t crc) {
  uint64_t c = crc;
  while (n >= 8) {
    uint64_t v = 0;
    std::memcpy(&v, p, 8);
    c = _mm_crc32_u64(c, v);
    p += 8;
    n -= 8;
  }
  auto c32 = static_cast<uint32_t>(c);
  while (n > 0) {
    c32 = _mm_crc32_u8(c32, *p++);
    --n;
  }
  return c32;
}

Status errno_status(const std::string& what) {
  return {Errc::io_error, what + ": " + std::strerror(errno)};
}

Status write_all(int fd, const char* p, size_t n, const std::string& path) {
  while (n > 0) {
    const ssize_t w = ::write(fd, p, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      return errno_status("write " + path);
    }
    p += w;
    n -= static_cast<size_t>(w);
  }
  return {};
}

Status read_all(int fd, char* p, size_t n, uint64_t pos, size_t* got) {
  *got = 0;
  while (*got < n) {
    const ssize_t r = ::pread(fd, p + *got, n - *got, static_cast<off_t>(pos + *got));
    if (r < 0) {
      if (errno == EINTR) continue;
      return errno_status("read log file");
    }
    if (r == 0) break;
    *got += static_cast<size_t>(r);
  }
  return {};
}

Status fsync_dir(const std::string& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return errno_status("open " + dir);
  const int rc = ::fsync(fd);
  ::close(fd);
  if (rc != 0) return errno_status("fsync " + dir);
  return {};
}

/// One frame header read at `pos`: ok, end of file, cut short, or bad.
enum class Header { ok, end, short_, bad };

Header read_header(int fd, uint64_t pos, uint64_t file_size, uint32_t* length, uint32_t* crc) {
  if (pos == file_size) return Header::end;
  if (file_size - pos < kFrameHeader) return Header::short_;
  char h[kFrameHeader];
  size_t got = 0;
  if (!read_all(fd, h, kFrameHeader, pos, &got).ok() || got != kFrameHeader) return Header::bad;
  if (get32(h) != kFrameMagic || get32(h + 12) != crc32c(h, 12)) return Header::bad;
  *length = get32(h + 4);
  *crc = get32(h + 8);
  if (*length > kMaxFrame || *length < 16) return Header::bad;
  if (file_size - pos - kFrameHeader < *length) return Header::short_;
  return Header::ok;
}

}  // namespace

uint32_t crc32c(const void* data, size_t n, uint32_t crc) {
  static const bool hw = __builtin_cpu_supports("sse4.2") != 0;
  const auto* p = static_cast<const uint8_t*>(data);
  return ~(hw ? crc32c_sse42(p, n, ~crc) : crc32c_table(p, n, ~crc));
}

std::string encode_location(const FrameLocation& loc) {
  std::string v(kLocationBytes, '\0');
  std::memcpy(v.data(), kLocationMagic.data(), 8);
  put64(v.data() + 8, loc.file);
  put64(v.data() + 16, loc.pos);
  put32(v.data() + 24, loc.length);
  put32(v.data() + 28, loc.count);
  return v;
}

bool is_location(std::string_view value) {
  return value.size() == kLocationBytes && value.substr(0, 8) == kLocationMagic;
}

bool decode_location(std::string_view value, uint64_t first_offset, FrameLocation* loc) {
  if (!is_location(value)) return false;
  loc->file = get64(value.data() + 8);
  loc->pos = get64(value.data() + 16);
  loc->length = get32(value.data() + 24);
  loc->count = get32(value.data() + 28);
  loc->first_offset = first_offset;
  return loc->length >= 16 && loc->length <= kMaxFrame;
}

Status LogFiles::open(const std::string& data_dir, bool read_only, uint64_t file_bytes, LogFiles* out) {
  out->dir_ = (fs::path(data_dir) / "log").string();
  out->read_only_ = read_only;
  out->file_bytes_ = std::max<uint64_t>(file_bytes, 4096);
  if (!read_only) {
    std::error_code ec;
    const bool made = fs::create_directories(out->dir_, ec);
    if (ec) return {Errc::io_error, "create " + out->dir_ + ": " + ec.message()};
    if (made) {
      if (Status s = fsync_dir(data_dir); !s.ok()) return s;
    }
  }
  return {};
}

LogFiles::~LogFiles() {
  if (fd_ >= 0) ::close(fd_);
}

std::string LogFiles::path_of(uint64_t file) const {
  char name[32];
  std::snprintf(name, sizeof name, "%08llu.kseg", static_cast<unsigned long long>(file));
  return dir_ + "/" + name;
}

std::vector<uint64_t> LogFiles::list_files() const {
  std::vector<uint64_t> files;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir_, ec)) {
    const std::string name = e.path().filename().string();
    if (name.size() != 13 || name.substr(8) != ".kseg") continue;
    if (!std::all_of(name.begin(), name.begin() + 8, [](char c) { return c >= '0' && c <= '9'; })) continue;
    files.push_back(std::stoull(name.substr(0, 8)));
  }
  std::sort(files.begin(), files.end());
  return files;
}

Status LogFiles::open_fd(uint64_t file, int* fd) const {
  *fd = ::open(path_of(file).c_str(), O_RDONLY | O_CLOEXEC);
  if (*fd < 0) {
    if (errno == ENOENT) return {Errc::corruption, "log file " + path_of(file) + " is missing"};
    return errno_status("open " + path_of(file));
  }
  return {};
}

Status LogFiles::walk_frames(uint64_t file, uint64_t pos, bool short_ok, uint64_t* short_at,
                             const std::function<void(uint64_t, const std::string&)>& on_frame) const {
  int fd = -1;
  if (Status s = open_fd(file, &fd); !s.ok()) return s;
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    ::close(fd);
    return errno_status("stat " + path_of(file));
  }
  const auto size = static_cast<uint64_t>(st.st_size);
  std::string payload;
  Status result;
  while (result.ok()) {
    if (pos > size) {
      result = {Errc::corruption, path_of(file) + " is shorter than the log recorded"};
      break;
    }
    uint32_t length = 0, crc = 0;
    const Header h = read_header(fd, pos, size, &length, &crc);
    if (h == Header::end) break;
    if (h == Header::short_ && short_ok) {
      *short_at = pos;
      break;
    }
    if (h != Header::ok) {
      result = {Errc::corruption, "log frame at " + path_of(file) + ":" + std::to_string(pos) + " does not check"};
      break;
    }
    payload.resize(length);
    size_t got = 0;
    result = read_all(fd, payload.data(), length, pos + kFrameHeader, &got);
    if (result.ok() && (got != length || crc32c(payload.data(), length) != crc))
      result = {Errc::corruption, "log frame at " + path_of(file) + ":" + std::to_string(pos) + " does not check"};
    if (!result.ok()) break;
    on_frame(pos, payload);
    pos += kFrameHeader + length;
  }
  ::close(fd);
  return result;
}

Status LogFiles::scan_tail(bool from_start, const FrameLocation& from, std::vector<FrameLocation>* out) {
  out->clear();
  std::vector<uint64_t> files;
  for (const uint64_t f : list_files())
    if (from_start || f >= from.file) files.push_back(f);
  if (!from_start && (files.empty() || files.front() != from.file))
    return {Errc::corruption, "log file " + path_of(from.file) + " is missing"};
  for (size_t i = 1; i < files.size(); ++i)
    if (files[i - 1] + 1 != files[i]) return {Errc::corruption, "log file " + path_of(files[i - 1] + 1) + " is missing"};
  for (size_t i = 0; i < files.size(); ++i) {
    const uint64_t file = files[i];
    const uint64_t start = (!from_start && file == from.file) ? from.end() : 0;
    // Only the last file may end in a frame cut short by a crash: it was
    // never made durable, so never answered, and is cut off.
    uint64_t short_at = UINT64_MAX;
    Status s = walk_frames(file, start, i + 1 == files.size(), &short_at, [&](uint64_t pos, const std::string& payload) {
      FrameLocation loc;
      loc.file = file;
      loc.pos = pos;
      loc.length = static_cast<uint32_t>(payload.size());
      loc.first_offset = get64(payload.data());
      loc.count = get32(payload.data() + 8);
      out->push_back(loc);
    });
    if (!s.ok()) return s;
    if (short_at != UINT64_MAX && !read_only_ && ::truncate(path_of(file).c_str(), static_cast<off_t>(short_at)) != 0)
      return errno_status("truncate " + path_of(file));
  }
  return {};
}

Status LogFiles::start_writing() {
  KASE_ASSERT(!read_only_, "a read-only log is never written");
  const std::vector<uint64_t> files = list_files();
  const uint64_t file = files.empty() ? 1 : files.back();
  const std::string path = path_of(file);
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) return errno_status("open " + path);
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    ::close(fd);
    return errno_status("stat " + path);
  }
  if (files.empty()) {
    if (Status s = fsync_dir(dir_); !s.ok()) {
      ::close(fd);
      return s;
    }
  }
  std::lock_guard<std::mutex> lock(mu_);
  fd_ = fd;
  file_ = file;
  pos_ = static_cast<uint64_t>(st.st_size);
  return {};
}

Status LogFiles::append(std::string_view segment, uint64_t first_offset, uint32_t count, FrameLocation* loc) {
  KASE_ASSERT(fd_ >= 0, "start_writing() before append()");
  if (segment.size() > kMaxFrame) return {Errc::invalid_argument, "log segment larger than 1 GiB"};
  if (pos_ > 0 && pos_ + kFrameHeader + segment.size() > file_bytes_) {
    // Full: make this file durable, then go on in the next one.
    const uint64_t next = file_ + 1;
    const std::string path = path_of(next);
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0) return errno_status("open " + path);
    std::lock_guard<std::mutex> lock(mu_);
    if (::fdatasync(fd_) != 0) {
      ::close(fd);
      return errno_status("fdatasync " + path_of(file_));
    }
    if (Status s = fsync_dir(dir_); !s.ok()) {
      ::close(fd);
      return s;
    }
    ::close(fd_);
    fd_ = fd;
    file_ = next;
    pos_ = 0;
  }
  char h[kFrameHeader];
  put32(h, kFrameMagic);
  put32(h + 4, static_cast<uint32_t>(segment.size()));
  put32(h + 8, crc32c(segment.data(), segment.size()));
  put32(h + 12, crc32c(h, 12));
  if (Status s = write_all(fd_, h, kFrameHeader, path_of(file_)); !s.ok()) return s;
  if (Status s = write_all(fd_, segment.data(), segment.size(), path_of(file_)); !s.ok()) return s;
  loc->file = file_;
  loc->pos = pos_;
  loc->length = static_cast<uint32_t>(segment.size());
  loc->count = count;
  loc->first_offset = first_offset;
  pos_ = loc->end();
  appended_.fetch_add(1, std::memory_order_release);
  return {};
}

uint64_t LogFiles::appended() const { return appended_.load(std::memory_order_acquire); }

Status LogFiles::sync(uint64_t* appended_before) {
  std::lock_guard<std::mutex> lock(mu_);
  *appended_before = appended_.load(std::memory_order_acquire);
  if (fd_ < 0) return {};
  if (::fdatasync(fd_) != 0) return errno_status("fdatasync " + path_of(file_));
  return {};
}

Status LogFiles::read(const FrameLocation& loc, std::string* payload) const {
  int fd = -1;
  if (Status s = open_fd(loc.file, &fd); !s.ok()) return s;
  char h[kFrameHeader];
  size_t got = 0;
  Status s = read_all(fd, h, kFrameHeader, loc.pos, &got);
  if (s.ok() && got == kFrameHeader && get32(h) == kFrameMagic && get32(h + 12) == crc32c(h, 12) &&
      get32(h + 4) == loc.length) {
    payload->resize(loc.length);
    s = read_all(fd, payload->data(), loc.length, loc.pos + kFrameHeader, &got);
    if (s.ok() && (got != loc.length || crc32c(payload->data(), loc.length) != get32(h + 8)))
      s = {Errc::corruption, "log frame at " + path_of(loc.file) + ":" + std::to_string(loc.pos) + " does not check"};
  } else if (s.ok()) {
    s = {Errc::corruption, "log frame header at " + path_of(loc.file) + ":" + std::to_string(loc.pos) +
                               " does not check"};
  }
  ::close(fd);
  if (s.ok() && (payload->size() < 16 || get64(payload->data()) != loc.first_offset))
    s = {Errc::corruption, "log frame at " + path_of(loc.file) + ":" + std::to_string(loc.pos) +
                               " holds another segment than recorded"};
  return s;
}

Status LogFiles::verify_all() const {
  for (const uint64_t file : list_files()) {
    uint64_t short_at = UINT64_MAX;
    if (Status s = walk_frames(file, 0, false, &short_at, [](uint64_t, const std::string&) {}); !s.ok()) return s;
  }
  return {};
}

uint64_t LogFiles::bytes() const {
  uint64_t total = 0;
  std::error_code ec;
  for (const uint64_t file : list_files()) total += fs::file_size(path_of(file), ec);
  return total;
}

}  // namespace kase::projections
