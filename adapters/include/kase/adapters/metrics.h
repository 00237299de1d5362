// Prometheus metrics: the only place in kase that knows Prometheus.
//
// prometheus-cpp is not packaged in Debian 12, so this is a small writer of
// the text exposition format 0.0.4 (HELP and TYPE lines, counters, gauges,
// histograms with labels, label value escaping) and a listener of its own
// (Boost.Beast on Asio, like the HTTP API) that answers GET /metrics.
//
// The numbers come from plain counters: engine::Probe (the fold), LedgerProbe
// (per batch, adapters), NodeStats (Kafka), http::ServerStats, the store's
// own figures (RocksDB properties) and, at each scrape, the state itself
// (blocks, late applications, overdue messages, service hours). render()
// runs on the thread that owns the state (the engine thread or the Kafka
// node's thread), handed a scrape through a Tap or the engine's work queue.
//
// Thread-safety: Exposition and render() on one thread; Tap as documented;
// Server::start/port/stop from one controlling thread.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "kase/adapters/histogram.h"
#include "kase/adapters/http.h"
#include "kase/adapters/kafka.h"
#include "kase/adapters/ledger.h"
#include "kase/engine/engine.h"
#include "kase/projections/store.h"

namespace kase::adapters::metrics {

/// The text exposition format (version 0.0.4). Declare a family, then write
/// its samples; each family once, its samples together.
class Exposition {
 public:
  enum class Type : uint8_t { counter, gauge, histogram };
  using Label = std::pair<std::string_view, std::string_view>;

  /// Starts a family. Names follow [a-zA-Z_:][a-zA-Z0-9_:]*, counters end in
  /// `_total`; a name declared twice or a bad name is a programmer error.
  void family(std::string_view name, Type type, std::string_view help);
  /// One sample of the current counter or gauge family.
  void sample(std::initializer_list<Label> labels, double value);
  void sample(const std::vector<Label>& labels, double value);
  /// The current histogram family's series for these labels: cumulative
  /// `_bucket{le=...}` lines up to `+Inf`, then `_sum` and `_count`.
  void histogram(const std::vector<Label>& labels, const Histogram& h);
  /// As histogram(), from per-bucket counts that are not cumulative.
  void histogram(const std::vector<Label>& labels, std::span<const double> bounds, std::span<const uint64_t> counts,
                 double sum);

  [[nodiscard]] const std::string& text() const { return out_; }

 private:
  void line(std::string_view suffix, const std::vector<Label>& labels, const Label* extra, double value);
  std::string out_;
  std::string current_;
  Type type_ = Type::gauge;
  std::vector<std::string> declared_;
};

/// `\` `"` and newline escaped, as label values need.
std::string escape_label_value(std::string_view v);
/// A sample value: integers exactly, else shortest round-trip; NaN, +Inf, -Inf.
std::string format_value(double v);

/// One partition's (or the embedded log's) view for a scrape.
struct PartitionView {
  std::string partition;                 // "embedded", or the Kafka partition number
  const Ledger* ledger = nullptr;        // state, probes, store
  int64_t kafka_lag = -1;                // messages behind the high watermark; -1: not Kafka / unknown
};

/// Everything one scrape shows. Pointers are read during render() only.
struct View {
  const char* mode = "embedded";  // "embedded" (--listen) or "kafka" (--brokers)
  int64_t now_us = 0;             // wall clock: for R22, R32, R36 evaluated at the scrape
  std::vector<PartitionView> partitions;
  const http::ServerStats* http = nullptr;
  const kafka::NodeStats* kafka = nullptr;
  const Histogram* kafka_commit_seconds = nullptr;
};

/// The whole exposition. Runs on the thread that owns the ledgers.
std::string render(const View& v);

/// Hands a scrape to the thread that owns the state: the scraper waits
/// (bounded) in collect() until that thread, between batches, calls
/// serve_if_wanted() with a function that renders.
class Tap {
 public:
  /// Scraper side. False when the owner did not answer within `wait` or left.
  bool collect(std::chrono::milliseconds wait, std::string* out);
  /// Owner side: one atomic load when nobody asks.
  template <class Render>
  void serve_if_wanted(Render&& render) {
    if (wanted_.load(std::memory_order_acquire)) serve(render());
  }
  /// Owner side: it stops serving; scrapes fail at once from now on.
  void close();

 private:
  void serve(std::string text);
  std::atomic<bool> wanted_{false};
  std::mutex mu_;
  std::condition_variable cv_;
  uint64_t asked_ = 0;
  uint64_t answered_ = 0;
  bool closed_ = false;
  std::string text_;
};

/// Parses HOST:PORT (IPv6 in brackets); invalid_argument otherwise.
Status parse_address(std::string_view text, std::string* host, uint16_t* port);

/// Collects one exposition; an error answers the scrape with 503.
using Collect = std::function<Status(std::string*)>;

/// Named limits of the metrics listener.
inline constexpr size_t kConnectionsMax = 64;
inline constexpr size_t kHeaderBytesMax = 8192;
inline constexpr auto kReadTimeout = std::chrono::seconds(10);
/// How long a scrape waits for the engine's thread.
inline constexpr auto kCollectWait = std::chrono::milliseconds(5000);

/// GET /metrics on its own listener (one Asio thread). Other paths: 404;
/// other methods: 405.
class Server {
 public:
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;
  /// Binds HOST:PORT (port 0: an ephemeral one) and serves. invalid_argument
  /// for a bad address, io_error when it cannot listen.
  static Status start(const std::string& address, uint16_t port, Collect collect, std::unique_ptr<Server>* out);
  [[nodiscard]] uint16_t port() const;
  /// Stops listening and joins the thread. Idempotent.
  void stop();

  class Impl;

 private:
  explicit Server(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace kase::adapters::metrics
