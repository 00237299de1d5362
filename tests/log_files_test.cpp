// The embedded log's segment files: a durable store appends each batch's
// segment to DIR/log/*.kseg and RocksDB records where it lies, after the
// frame is durable. The log is the source of truth: a store reopened behind
// its log re-folds the rest; a frame cut short by a crash is cut off; any
// other damage is corruption.
#include <filesystem>
#include <fstream>

#include "harness.h"
#include "kase/adapters/demo.h"
#include "kase/adapters/ledger.h"
#include "../projections/src/log_files.h"

namespace kase::testing {
namespace {

using adapters::Answer;
using adapters::Ledger;
namespace fs = std::filesystem;


const std::vector<std::string>& demo() {
  static const std::vector<std::string> d = adapters::demo_requests(1);
  return d;
}

std::vector<std::span<const uint8_t>> spans(size_t from, size_t to) {
  std::vector<std::span<const uint8_t>> out;
  for (size_t i = from; i < to && i < demo().size(); ++i) out.push_back(events::bytes_of(demo()[i]));
  return out;
}

/// Submits demo()[from, to) in batches of `batch` into the directory (a
/// durable store unless `opts` says otherwise); returns the log records.
std::vector<std::string> submit(const fs::path& dir, size_t from, size_t to, size_t batch,
                                projections::RocksOptions opts = {}) {
  std::unique_ptr<projections::Store> store;
  EXPECT_TRUE(projections::open_rocks_store(dir.string(), opts, &store).ok());
  std::unique_ptr<Ledger> l;
  Status s = Ledger::open(store.get(), &l);
  EXPECT_TRUE(s.ok()) << s.to_string();
  if (!s.ok()) return {};
  std::vector<std::string> out;
  for (size_t i = from; i < to; i += batch) {
    std::vector<Answer> answers;
    EXPECT_TRUE(l->submit(spans(i, std::min(to, i + batch)), &answers).ok());
    for (auto& a : answers) out.push_back(std::move(a.record));
  }
  return out;
}

struct Opened {
  std::unique_ptr<projections::Store> store;
  std::unique_ptr<Ledger> ledger;
  Status status;
};

Opened open(const fs::path& dir, projections::RocksOptions opts = {}) {
  Opened o;
  o.status = projections::open_rocks_store(dir.string(), opts, &o.store);
  if (o.status.ok()) o.status = Ledger::open(o.store.get(), &o.ledger);
  return o;
}

adapters::ReplayResult replay(const fs::path& dir) {
  projections::RocksOptions ro;
  ro.read_only = true;
  std::unique_ptr<projections::Store> store;
  adapters::ReplayResult r;
  EXPECT_TRUE(projections::open_rocks_store(dir.string(), ro, &store).ok());
  if (store == nullptr) return r;
  EXPECT_TRUE(store->verify_files().ok());
  EXPECT_TRUE(adapters::replay(store.get(), true, &r).ok());
  return r;
}

std::vector<fs::path> log_files(const fs::path& dir) {
  std::vector<fs::path> out;
  for (const auto& e : fs::directory_iterator(dir / "log")) out.push_back(e.path());
  std::sort(out.begin(), out.end());
  return out;
}

TEST(LogFiles, Crc32cKnownValue) {
  // The check value of CRC-32C (RFC 3720): "123456789" -> 0xE3069283.
  EXPECT_EQ(projections::crc32c("123456789", 9), 0xE3069283u);
  // Incremental equals whole.
  const std::string s = "the request log is the source of truth";
  EXPECT_EQ(projections::crc32c(s.data() + 10, s.size() - 10, projections::crc32c(s.data(), 10)),
            projections::crc32c(s.data(), s.size()));
}

TEST(LogFiles, R47_DurableStoreKeepsTheLogInSegmentFiles) {
  TempDir dir;
  const auto records = submit(dir.path, 0, demo().size(), 300);
  ASSERT_EQ(records.size(), demo().size());
  ASSERT_EQ(log_files(dir.path).size(), 1u);
  EXPECT_GT(fs::file_size(log_files(dir.path)[0]), 300 * demo().size() / 2);
  const adapters::ReplayResult r = replay(dir.path);
  EXPECT_TRUE(r.intact) << r.error;
  EXPECT_EQ(r.records, demo().size());
  // Random reads by offset (the original answer to a repeated request id).
  Opened o = open(dir.path);
  ASSERT_TRUE(o.status.ok()) << o.status.to_string();
  for (const uint64_t off : {uint64_t{0}, uint64_t{299}, uint64_t{300}, uint64_t{demo().size() - 1}}) {
    std::string rec;
    ASSERT_TRUE(o.store->get_record(off, &rec).ok());
    EXPECT_EQ(rec, records[off]);
  }
}

TEST(LogFiles, FilesRollOverAndReadBackAcrossThem) {
  TempDir dir;
  projections::RocksOptions small;
  small.log_file_bytes = 64 << 10;
  const auto records = submit(dir.path, 0, demo().size(), 100, small);
  EXPECT_GT(log_files(dir.path).size(), 3u);
  const adapters::ReplayResult r = replay(dir.path);
  EXPECT_TRUE(r.intact) << r.error;
  EXPECT_EQ(r.records, demo().size());
  Opened o = open(dir.path, small);
  ASSERT_TRUE(o.status.ok()) << o.status.to_string();
  std::string rec;
  ASSERT_TRUE(o.store->get_record(demo().size() / 2, &rec).ok());
  EXPECT_EQ(rec, records[demo().size() / 2]);
}

// A crash after the log was made durable and before RocksDB recorded it: the
// files hold batches the projections lack. Built deterministically: a
// directory that took only the first batches gets the log files of one that
// took them all. Reopening re-folds the rest, checking every decision.
TEST(LogFiles, R47_ReopenBehindTheLogRefoldsTheRest) {
  const size_t n = demo().size();
  const size_t cut = (n / 2 / 250) * 250;
  TempDir full, behind;
  const auto expected = submit(full.path, 0, n, 250);
  (void)submit(behind.path, 0, cut, 250);
  for (const auto& f : log_files(full.path))
    fs::copy_file(f, behind.path / "log" / f.filename(), fs::copy_options::overwrite_existing);
  {
    Opened o = open(behind.path);
    ASSERT_TRUE(o.status.ok()) << o.status.to_string();
    EXPECT_EQ(o.ledger->meta().next_offset, n);
    Opened ref = open(full.path);
    ASSERT_TRUE(ref.status.ok());
    EXPECT_EQ(projections::state_hash(o.ledger->state()), projections::state_hash(ref.ledger->state()));
    // The re-folded requests are known: submitting one again is a duplicate.
    std::vector<Answer> answers;
    ASSERT_TRUE(o.ledger->submit(spans(n - 1, n), &answers).ok());
    ASSERT_EQ(answers.size(), 1u);
    EXPECT_TRUE(answers[0].duplicate);
    EXPECT_EQ(answers[0].record, expected[n - 1]);
  }
  const adapters::ReplayResult r = replay(behind.path);
  EXPECT_TRUE(r.intact) << r.error;
  EXPECT_EQ(r.records, n);
}

TEST(LogFiles, FrameCutShortByACrashIsCutOff) {
  TempDir dir;
  const size_t n = demo().size();
  (void)submit(dir.path, 0, n / 2, 200);
  const fs::path last = log_files(dir.path).back();
  const auto size = fs::file_size(last);
  for (const size_t tail : {size_t{7}, size_t{16 + 40}}) {
    // A partial header, then a whole header whose payload never arrived.
    std::string bytes;
    {
      std::ifstream in(last, std::ios::binary);
      bytes.assign(std::istreambuf_iterator<char>(in), {});
    }
    std::ofstream out(last, std::ios::binary | std::ios::app);
    out.write(bytes.data(), static_cast<std::streamsize>(tail));  // the first frame's first bytes
    out.close();
    Opened o = open(dir.path);
    ASSERT_TRUE(o.status.ok()) << o.status.to_string();
    EXPECT_EQ(fs::file_size(last), size);
    EXPECT_EQ(o.ledger->meta().next_offset, n / 2);
  }
  (void)submit(dir.path, n / 2, n, 200);
  const adapters::ReplayResult r = replay(dir.path);
  EXPECT_TRUE(r.intact) << r.error;
  EXPECT_EQ(r.records, n);
}

TEST(LogFiles, DamagedFrameOrMissingFileIsCorruption) {
  TempDir dir;
  projections::RocksOptions small;
  small.log_file_bytes = 64 << 10;
  (void)submit(dir.path, 0, demo().size(), 100, small);
  const auto files = log_files(dir.path);
  ASSERT_GT(files.size(), 2u);
  {
    // A flipped byte in a frame's payload.
    TempDir copy;
    fs::copy(dir.path, copy.path, fs::copy_options::recursive);
    const fs::path f = copy.path / "log" / files[1].filename();
    std::fstream io(f, std::ios::in | std::ios::out | std::ios::binary);
    io.seekg(100);
    char c = 0;
    io.get(c);
    io.seekp(100);
    io.put(static_cast<char>(c ^ 0x04));
    io.close();
    projections::RocksOptions ro;
    ro.read_only = true;
    std::unique_ptr<projections::Store> store;
    ASSERT_TRUE(projections::open_rocks_store(copy.path.string(), ro, &store).ok());
    EXPECT_EQ(store->verify_files().code(), Errc::corruption);
    adapters::ReplayResult r;
    EXPECT_EQ(adapters::replay(store.get(), true, &r).code(), Errc::corruption);
  }
  {
    // A log file gone.
    TempDir copy;
    fs::copy(dir.path, copy.path, fs::copy_options::recursive);
    fs::remove(copy.path / "log" / files[1].filename());
    projections::RocksOptions ro;
    ro.read_only = true;
    std::unique_ptr<projections::Store> store;
    ASSERT_TRUE(projections::open_rocks_store(copy.path.string(), ro, &store).ok());
    adapters::ReplayResult r;
    EXPECT_EQ(adapters::replay(store.get(), true, &r).code(), Errc::corruption);
  }
}

// A directory written without sync keeps its log inline in RocksDB (as every
// directory did before segment files); one store may hold both.
TEST(LogFiles, InlineAndFileSegmentsReadAsOneLog) {
  TempDir dir;
  const size_t n = demo().size();
  projections::RocksOptions nosync;
  nosync.sync = false;
  auto a = submit(dir.path, 0, n / 3, 150, nosync);
  EXPECT_FALSE(fs::exists(dir.path / "log") && !fs::is_empty(dir.path / "log"));
  auto b = submit(dir.path, n / 3, 2 * n / 3, 150);
  auto c = submit(dir.path, 2 * n / 3, n, 150, nosync);
  EXPECT_EQ(log_files(dir.path).size(), 1u);
  const adapters::ReplayResult r = replay(dir.path);
  EXPECT_TRUE(r.intact) << r.error;
  EXPECT_EQ(r.records, n);
  Opened o = open(dir.path);
  ASSERT_TRUE(o.status.ok()) << o.status.to_string();
  for (const uint64_t off : {uint64_t{0}, uint64_t{n / 3}, uint64_t{n - 1}}) {
    std::string rec;
    ASSERT_TRUE(o.store->get_record(off, &rec).ok());
    const auto& want = off < n / 3 ? a[off] : off < 2 * n / 3 ? b[off - n / 3] : c[off - 2 * n / 3];
    EXPECT_EQ(rec, want);
  }
}

}  // namespace
}  // namespace kase::testing
