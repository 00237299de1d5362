// Prometheus text exposition (format 0.0.4) and the /metrics listener: the
// only code in kase that knows Prometheus (see metrics.h).
#include "kase/adapters/metrics.h"

#include <algorithm>
#include <array>
#include <cinttypes>
#include <cmath>
#include <cstdio>
#include <set>
#include <thread>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include "kase/engine/reasons.h"

namespace kase::adapters::metrics {

// ---- The text format ------------------------------------------------------------

namespace {

bool valid_name(std::string_view n) {
  if (n.empty()) return false;
  for (size_t i = 0; i < n.size(); ++i) {
    const char c = n[i];
    const bool letter = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':';
    if (!letter && !(i > 0 && c >= '0' && c <= '9')) return false;
  }
  return true;
}

bool ends_with(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

std::string escape_help(std::string_view v) {
  std::string out;
  for (char c : v) {
    if (c == '\\') out += "\\\\";
    else if (c == '\n') out += "\\n";
    else out += c;
  }
  return out;
}

}  // namespace

std::string escape_label_value(std::string_view v) {
  std::string out;
  out.reserve(v.size());
  for (char c : v) {
    if (c == '\\') out += "\\\\";
    else if (c == '"') out += "\\\"";
    else if (c == '\n') out += "\\n";
    else out += c;
  }
  return out;
}

std::string format_value(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  char buf[40];
  if (v == std::floor(v) && std::fabs(v) < 1e15) {
    std::snprintf(buf, sizeof buf, "%.0f", v);
  } else {
    // Shortest text that reads back as the same double.
    for (int precision = 6; precision <= 17; ++precision) {
      std::snprintf(buf, sizeof buf, "%.*g", precision, v);
      if (std::strtod(buf, nullptr) == v) break;
    }
  }
  return buf;
}

void Exposition::family(std::string_view name, Type type, std::string_view help) {
  KASE_ASSERT(valid_name(name), "a metric name follows [a-zA-Z_:][a-zA-Z0-9_:]*");
  KASE_ASSERT(type != Type::counter || ends_with(name, "_total"), "a counter's name ends in _total");
  KASE_ASSERT(std::find(declared_.begin(), declared_.end(), name) == declared_.end(), "a family is declared once");
  declared_.emplace_back(name);
  current_ = name;
  type_ = type;
  static constexpr const char* kType[] = {"counter", "gauge", "histogram"};
  out_ += "# HELP ";
  out_ += name;
  out_ += ' ';
  out_ += escape_help(help);
  out_ += "\n# TYPE ";
  out_ += name;
  out_ += ' ';
  out_ += kType[static_cast<size_t>(type)];
  out_ += '\n';
}

void Exposition::line(std::string_view suffix, const std::vector<Label>& labels, const Label* extra, double value) {
  out_ += current_;
  out_ += suffix;
  if (!labels.empty() || extra != nullptr) {
    out_ += '{';
    bool first = true;
    auto add = [&](const Label& l) {
      KASE_ASSERT(valid_name(l.first) && l.first.find(':') == std::string_view::npos, "a label name is valid");
      if (!first) out_ += ',';
      first = false;
      out_ += l.first;
      out_ += "=\"";
      out_ += escape_label_value(l.second);
      out_ += '"';
    };
    for (const Label& l : labels) add(l);
    if (extra != nullptr) add(*extra);
    out_ += '}';
  }
  out_ += ' ';
  out_ += format_value(value);
  out_ += '\n';
}

void Exposition::sample(std::initializer_list<Label> labels, double value) {
  sample(std::vector<Label>(labels), value);
}

void Exposition::sample(const std::vector<Label>& labels, double value) {
  KASE_ASSERT(!current_.empty() && type_ != Type::histogram, "sample() follows a counter or gauge family");
  line("", labels, nullptr, value);
}

void Exposition::histogram(const std::vector<Label>& labels, const Histogram& h) {
  histogram(labels, h.bounds(), h.counts(), h.sum());
}

void Exposition::histogram(const std::vector<Label>& labels, std::span<const double> bounds,
                           std::span<const uint64_t> counts, double sum) {
  KASE_ASSERT(!current_.empty() && type_ == Type::histogram, "histogram() follows a histogram family");
  KASE_ASSERT(counts.size() == bounds.size() + 1, "one count per bound and one above them");
  uint64_t cumulative = 0;
  for (size_t i = 0; i < counts.size(); ++i) {
    cumulative += counts[i];
    const std::string le = i < bounds.size() ? format_value(bounds[i]) : "+Inf";
    const Label extra{"le", le};
    line("_bucket", labels, &extra, static_cast<double>(cumulative));
  }
  line("_sum", labels, nullptr, sum);
  line("_count", labels, nullptr, static_cast<double>(cumulative));
}

// ---- What kase shows ----------------------------------------------------------------

namespace {

using T = Exposition::Type;

/// When this process started (kase_start_time_seconds).
const int64_t g_start_us = std::chrono::duration_cast<std::chrono::microseconds>(
                               std::chrono::system_clock::now().time_since_epoch())
                               .count();

double seconds(int64_t us) { return static_cast<double>(us) / 1e6; }

/// R32, R34: where an e-service stands at `now_us`.
enum class ServiceCondition : uint8_t { open = 0, outside_hours = 1, not_business_day = 2, suspended = 3 };
constexpr const char* kConditionNames[] = {"open", "outside_hours", "not_business_day", "suspended"};

ServiceCondition condition_of(const engine::State& s, size_t service, const engine::RigaTime& t) {
  const engine::ServiceState& st = s.services[service];
  if (st.suspended) return ServiceCondition::suspended;
  if (!s.calendar.is_business_day(t.date)) return ServiceCondition::not_business_day;
  if (t.minute_of_day < st.open_minute || t.minute_of_day >= st.close_minute) return ServiceCondition::outside_hours;
  return ServiceCondition::open;
}

void write_requests(Exposition& e, const View& v) {
  // Summed over partitions, per (kind, reason).
  std::vector<uint64_t> sums(engine::kKinds * engine::reason::kCount, 0);
  uint64_t unknown = 0, duplicates = 0, malformed = 0, no_id = 0;
  std::array<uint64_t, engine::kLimitShareBuckets> share{};
  uint64_t share_sum_ppm = 0;
  for (const PartitionView& p : v.partitions) {
    const engine::Probe& probe = p.ledger->engine_probe();
    for (size_t k = 0; k < engine::kKinds; ++k)
      for (size_t r = 0; r < engine::reason::kCount; ++r) sums[k * engine::reason::kCount + r] += probe.decisions[k][r];
    unknown += probe.unknown_reason;
    for (size_t b = 0; b < share.size(); ++b) share[b] += probe.limit_share[b];
    share_sum_ppm += probe.limit_share_sum_ppm;
    duplicates += p.ledger->probe().duplicates;
    malformed += p.ledger->probe().malformed_binary;
    no_id += p.ledger->probe().missing_request_id;
  }
  e.family("kase_requests_total", T::counter,
           "Requests decided by the engine, by service (the e-service, or identity, applications, messages, "
           "treasury), payload type, outcome and reason code");
  for (size_t k = 0; k < engine::kKinds; ++k) {
    const engine::KindLabels kl = engine::labels_of(k);
    for (size_t r = 0; r < engine::reason::kCount; ++r) {
      const uint64_t n = sums[k * engine::reason::kCount + r];
      if (n == 0) continue;
      e.sample({{"service", engine::area_name(kl.area)},
                {"type", fb::EnumNamePayload(kl.type)},
                {"outcome", r == static_cast<size_t>(engine::reason::Index::kOk) ? "accepted" : "rejected"},
                {"reason", engine::reason::kCodes[r].text}},
               static_cast<double>(n));
    }
  }
  e.family("kase_requests_unlogged_total", T::counter,
           "Input answered without reaching the log (R47): bytes that do not verify, or no request id");
  e.sample({{"reason", engine::reason::kMalformedBinary}}, static_cast<double>(malformed));
  e.sample({{"reason", engine::reason::kMissingRequestId}}, static_cast<double>(no_id));
  e.family("kase_requests_duplicate_total", T::counter,
           "Requests whose id was seen before: answered with the original decision, nothing changed");
  e.sample({}, static_cast<double>(duplicates));
  e.family("kase_decisions_unknown_reason_total", T::counter,
           "Decisions whose reason code is not in the engine's table (never expected)");
  e.sample({}, static_cast<double>(unknown));

  e.family("kase_limit_rejections_total", T::counter, "R9: payment-order actions rejected for a per-order or daily limit");
  for (const auto& [limit, reason] : {std::pair{"per_order", engine::reason::kPerOrderExceeded},
                                      std::pair{"daily", engine::reason::kDailyExceeded}}) {
    const size_t r = engine::reason::index_of(reason);
    uint64_t n = 0;
    for (size_t k = 0; k < engine::kKinds; ++k) n += sums[k * engine::reason::kCount + r];
    e.sample({{"limit", limit}, {"rule", "R9"}}, static_cast<double>(n));
  }
  static constexpr std::array<double, engine::kLimitShareBuckets - 1> kShareBounds = {0.1, 0.2, 0.3, 0.4, 0.5,
                                                                                      0.6, 0.7, 0.8, 0.9};
  // Bucket i of the probe holds (i/10, (i+1)/10]; its last one ends at 1.0,
  // the limit, which no accepted action passes: le="1" and +Inf are equal.
  std::array<double, engine::kLimitShareBuckets> bounds{};
  std::copy(kShareBounds.begin(), kShareBounds.end(), bounds.begin());
  bounds.back() = 1.0;
  std::array<uint64_t, engine::kLimitShareBuckets + 1> counts{};
  std::copy(share.begin(), share.end(), counts.begin());
  e.family("kase_daily_limit_used_ratio", T::histogram,
           "R9: share of the user's daily limit used, after each accepted payment-order action that enters the "
           "day total");
  e.histogram({}, bounds, counts, static_cast<double>(share_sum_ppm) / 1e6);
}

void write_hot_path(Exposition& e, const View& v) {
  Histogram latency(kLatencySecondsBounds), fold(kFoldSecondsBounds), batch(kBatchRequestsBounds);
  for (const PartitionView& p : v.partitions) {
    latency.merge(p.ledger->probe().decision_latency_seconds);
    fold.merge(p.ledger->probe().fold_seconds);
    batch.merge(p.ledger->probe().batch_requests);
  }
  e.family("kase_decision_latency_seconds", T::histogram, "From a request's intake time stamp to its decision");
  e.histogram({}, latency);
  e.family("kase_fold_seconds", T::histogram, "Time to fold one batch: verify, decide, chain and build its records");
  e.histogram({}, fold);
  e.family("kase_batch_requests", T::histogram, "Requests per folded batch");
  e.histogram({}, batch);
}

void write_storage(Exposition& e, const View& v) {
  struct Row {
    const PartitionView* p;
    projections::StoreStats s;
    bool ok;
  };
  std::vector<Row> rows;
  for (const PartitionView& p : v.partitions) {
    Row r{&p, {}, false};
    r.ok = p.ledger->store()->stats(&r.s).ok();
    rows.push_back(r);
  }
  e.family("kase_log_records", T::gauge, "Records in the log (the next offset), per partition");
  for (const Row& r : rows)
    e.sample({{"partition", r.p->partition}}, static_cast<double>(r.p->ledger->meta().next_offset));
  auto each = [&](const char* name, T type, const char* help, auto value) {
    e.family(name, type, help);
    for (const Row& r : rows)
      if (r.ok) e.sample({{"partition", r.p->partition}}, static_cast<double>(value(r.s)));
  };
  each("kase_log_bytes", T::gauge, "Bytes of the log: its segment files, and segments kept inline in RocksDB (table files and memtables)",
       [](const projections::StoreStats& s) { return s.log_bytes; });
  each("kase_rocksdb_live_data_bytes", T::gauge, "RocksDB rocksdb.estimate-live-data-size, all column families",
       [](const projections::StoreStats& s) { return s.live_data_bytes; });
  each("kase_rocksdb_live_sst_files_bytes", T::gauge, "RocksDB rocksdb.live-sst-files-size, all column families",
       [](const projections::StoreStats& s) { return s.live_sst_bytes; });
  each("kase_rocksdb_write_stopped", T::gauge, "RocksDB rocksdb.is-write-stopped: 1 while writes are stopped",
       [](const projections::StoreStats& s) { return s.write_stopped ? 1 : 0; });
  each("kase_rocksdb_delayed_write_rate_bytes_per_second", T::gauge,
       "RocksDB rocksdb.actual-delayed-write-rate: the rate writes are slowed to (0: not slowed)",
       [](const projections::StoreStats& s) { return s.delayed_write_rate; });
  each("kase_rocksdb_write_stalls_total", T::counter,
       "RocksDB write stalls (stops and slowdowns) since the store was opened",
       [](const projections::StoreStats& s) { return s.write_stalls; });
  each("kase_rocksdb_compaction_pending", T::gauge, "RocksDB rocksdb.compaction-pending: 1 when a compaction is due",
       [](const projections::StoreStats& s) { return s.compaction_pending ? 1 : 0; });
}

void write_kafka(Exposition& e, const View& v) {
  if (v.kafka == nullptr) return;
  e.family("kase_kafka_consumer_lag_messages", T::gauge,
           "Messages of kase.requests behind the partition's high watermark, per assigned partition");
  for (const PartitionView& p : v.partitions)
    if (p.kafka_lag >= 0) e.sample({{"partition", p.partition}}, static_cast<double>(p.kafka_lag));
  e.family("kase_kafka_transaction_commit_seconds", T::histogram, "Time to commit one Kafka transaction");
  if (v.kafka_commit_seconds != nullptr) e.histogram({}, *v.kafka_commit_seconds);
  const kafka::NodeStats& k = *v.kafka;
  auto counter = [&](const char* name, const char* help, const std::atomic<uint64_t>& n) {
    e.family(name, T::counter, help);
    e.sample({}, static_cast<double>(n.load()));
  };
  counter("kase_kafka_transactions_total", "Kafka transactions committed", k.transactions);
  counter("kase_kafka_transactions_aborted_total", "Kafka transactions aborted (then re-folded)", k.aborted);
  counter("kase_kafka_dead_letters_total", "Undecodable messages sent to kase.dead-letter", k.dead_letters);
  counter("kase_kafka_identity_facts_total",
          "Identity facts (means, blocks, restorations) sent to other partitions of kase.requests", k.identity_facts);
  counter("kase_kafka_directory_facts_total",
          "Directory facts (client kinds, roles, structures, ePlans/eReports rights and their applications, accepted "
          "reports) sent to other partitions of kase.requests",
          k.directory_facts);
  counter("kase_kafka_decisions_published_total", "Decisions published to kase.decisions in committed transactions",
          k.decided);
  counter("kase_kafka_duplicates_total",
          "Of the decisions published, those for a request id decided before (a channel's retry): the original "
          "decision again, marked kase.duplicate",
          k.duplicates);
  counter("kase_kafka_refolded_requests_total", "Requests re-folded silently on assignment (published before)",
          k.refolded);
  counter("kase_kafka_producer_restarts_total", "Transactional producers recreated after a failed transaction",
          k.producer_restarts);
  counter("kase_kafka_rebalances_total", "Consumer group rebalances seen by this node", k.rebalances);
}

void write_http(Exposition& e, const View& v) {
  if (v.http == nullptr) return;
  const http::ServerStats& h = *v.http;
  auto counter = [&](const char* name, const char* help, uint64_t n) {
    e.family(name, T::counter, help);
    e.sample({}, static_cast<double>(n));
  };
  counter("kase_http_connections_total", "HTTP API connections accepted", h.connections);
  counter("kase_http_connections_refused_total", "HTTP API connections closed at once: over --http-connections-max",
          h.connections_refused);
  counter("kase_http_handshakes_failed_total", "TLS handshakes that failed (unknown or expired certificates, not TLS)",
          h.handshakes_failed);
  counter("kase_http_crl_reloads_total", "Client revocation lists (--client-crl) re-read after the file changed",
          h.crl_reloads);
  counter("kase_http_crl_reload_failures_total",
          "Changed --client-crl files that did not parse; the lists read before stay in force", h.crl_reload_failures);
  counter("kase_http_responses_total", "HTTP API requests answered", h.requests);
  counter("kase_http_timeouts_total", "HTTP API connections cut off by the idle or read timeout", h.timeouts);
  counter("kase_http_commits_total", "Engine commits of the HTTP API (each one fsync)", h.batches);
}

void write_business(Exposition& e, const View& v) {
  // R28: blocked users by cause, summed over partitions.
  static constexpr std::array<std::pair<fb::BlockCause, const char*>, 4> kCauses = {{
      {fb::BlockCause::wrong_credentials, "R28.1"},
      {fb::BlockCause::suspicion, "R28.2"},
      {fb::BlockCause::reported_by_user, "R28.3"},
      {fb::BlockCause::request_rate, "R28.4"},
  }};
  std::array<uint64_t, kCauses.size()> blocked{};
  // R22: late applications by step and whether they still wait.
  std::array<std::array<uint64_t, 2>, 2> late{};  // [registration, attachment][waiting, done late]
  // R36: users (client, user) with a message unread for more than 7 days.
  std::set<std::pair<std::string, std::string>> overdue_users;
  uint64_t overdue_messages = 0;
  for (const PartitionView& p : v.partitions) {
    const engine::State& s = p.ledger->state();
    for (const auto& [id, person] : s.persons) {
      (void)id;
      for (size_t c = 0; c < kCauses.size(); ++c)
        if (person.block == kCauses[c].first) ++blocked[c];
    }
    for (const engine::LateApplication& l : engine::late_applications(s, v.now_us)) {
      const size_t step = std::string_view(l.step) == "registration" ? 0 : 1;
      ++late[step][l.done_us == 0 ? 0 : 1];
    }
    for (const engine::OverdueMessage& m : engine::overdue_messages(s, v.now_us)) {
      overdue_users.emplace(m.client, m.user);
      ++overdue_messages;
    }
  }
  e.family("kase_users_blocked", T::gauge, "R28: persons whose identification means are blocked, by cause");
  for (size_t c = 0; c < kCauses.size(); ++c)
    e.sample({{"cause", fb::EnumNameBlockCause(kCauses[c].first)}, {"rule", kCauses[c].second}},
             static_cast<double>(blocked[c]));
  e.family("kase_applications_past_deadline", T::gauge,
           "R22: applications past their deadline now: registration within 1 business day (R22.1), attachment "
           "within 3 (R22.2); state waiting (not done yet) or late (done after the deadline)");
  static constexpr const char* kSteps[2][2] = {{"registration", "R22.1"}, {"attachment", "R22.2"}};
  for (size_t step = 0; step < 2; ++step)
    for (size_t done = 0; done < 2; ++done)
      e.sample({{"step", kSteps[step][0]}, {"rule", kSteps[step][1]}, {"state", done == 0 ? "waiting" : "late"}},
               static_cast<double>(late[step][done]));
  e.family("kase_users_with_overdue_messages", T::gauge,
           "R36: users (per client) with a message unread for more than 7 days");
  e.sample({}, static_cast<double>(overdue_users.size()));
  e.family("kase_overdue_unread_messages", T::gauge, "R36: (user, message) pairs unread for more than 7 days");
  e.sample({}, static_cast<double>(overdue_messages));

  // R32, R34: service hours now. Treasury-wide settings reach every
  // partition; the first partition's state speaks for the node.
  e.family("kase_service_open", T::gauge,
           "R32, R34: 1 while the e-service takes requests now (business day, within its hours, not suspended)");
  if (v.partitions.empty()) return;
  const engine::State& s = v.partitions.front().ledger->state();
  const engine::RigaTime t = engine::riga_time(v.now_us);
  std::array<ServiceCondition, engine::kServices> conditions{};
  for (size_t i = 0; i < engine::kServices; ++i) {
    conditions[i] = condition_of(s, i, t);
    e.sample({{"service", engine::area_name(static_cast<engine::Area>(i))}},
             conditions[i] == ServiceCondition::open ? 1 : 0);
  }
  e.family("kase_service_state", T::gauge,
           "R32, R34: the e-service's state now, one series per state, 1 for the current one");
  for (size_t i = 0; i < engine::kServices; ++i)
    for (size_t c = 0; c < std::size(kConditionNames); ++c)
      e.sample({{"service", engine::area_name(static_cast<engine::Area>(i))}, {"state", kConditionNames[c]}},
               static_cast<size_t>(conditions[i]) == c ? 1 : 0);
  e.family("kase_service_hours_minutes", T::gauge,
           "R32, R34: the e-service's hours, minutes after Riga midnight (bound open or close)");
  for (size_t i = 0; i < engine::kServices; ++i) {
    const char* service = engine::area_name(static_cast<engine::Area>(i));
    e.sample({{"service", service}, {"bound", "open"}}, s.services[i].open_minute);
    e.sample({{"service", service}, {"bound", "close"}}, s.services[i].close_minute);
  }
}

}  // namespace

std::string render(const View& v) {
  Exposition e;
  e.family("kase_info", T::gauge, "How this kase runs (mode embedded: --listen over the embedded log; kafka: "
                                  "the engine node); always 1");
  e.sample({{"mode", v.mode}}, 1);
  e.family("kase_start_time_seconds", T::gauge, "When the process started, Unix time in seconds");
  e.sample({}, seconds(g_start_us));
  e.family("kase_partitions", T::gauge, "Partitions (ledgers) this process owns now");
  e.sample({}, static_cast<double>(v.partitions.size()));
  write_requests(e, v);
  write_hot_path(e, v);
  write_storage(e, v);
  write_kafka(e, v);
  write_http(e, v);
  write_business(e, v);
  return e.text();
}

// ---- Handing a scrape to the owner's thread -------------------------------------------

bool Tap::collect(std::chrono::milliseconds wait, std::string* out) {
  std::unique_lock lk(mu_);
  if (closed_) return false;
  const uint64_t mine = ++asked_;
  wanted_.store(true, std::memory_order_release);
  if (!cv_.wait_for(lk, wait, [&] { return answered_ >= mine || closed_; })) return false;
  if (answered_ < mine) return false;
  *out = text_;
  return true;
}

void Tap::serve(std::string text) {
  {
    std::lock_guard lk(mu_);
    text_ = std::move(text);
    answered_ = asked_;
    wanted_.store(false, std::memory_order_release);
  }
  cv_.notify_all();
}

void Tap::close() {
  {
    std::lock_guard lk(mu_);
    closed_ = true;
    wanted_.store(false, std::memory_order_release);
  }
  cv_.notify_all();
}

Status parse_address(std::string_view text, std::string* host, uint16_t* port) {
  const size_t colon = text.rfind(':');
  auto bad = [&] {
    return Status{Errc::invalid_argument, "expected HOST:PORT, e.g. 127.0.0.1:9464, got '" + std::string(text) + "'"};
  };
  if (colon == std::string_view::npos || colon == 0) return bad();
  const std::string_view digits = text.substr(colon + 1);
  if (digits.empty() || digits.size() > 5 || digits.find_first_not_of("0123456789") != std::string_view::npos)
    return bad();
  const unsigned long p = std::stoul(std::string(digits));
  if (p > 65535) return bad();
  std::string h(text.substr(0, colon));
  if (h.size() >= 2 && h.front() == '[' && h.back() == ']') h = h.substr(1, h.size() - 2);
  *host = std::move(h);
  *port = static_cast<uint16_t>(p);
  return {};
}

// ---- The listener ---------------------------------------------------------------------

namespace net = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
using tcp = net::ip::tcp;

class Server::Impl {
 public:
  Impl(Collect collect) : collect_(std::move(collect)), acceptor_(ioc_) {}

  Status open(const std::string& address, uint16_t port) {
    beast::error_code ec;
    const net::ip::address a = net::ip::make_address(address, ec);
    if (ec) return {Errc::invalid_argument, "--metrics: bad address '" + address + "'"};
    const tcp::endpoint endpoint(a, port);
    acceptor_.open(endpoint.protocol(), ec);
    if (!ec) acceptor_.set_option(net::socket_base::reuse_address(true), ec);
    if (!ec) acceptor_.bind(endpoint, ec);
    if (!ec) acceptor_.listen(net::socket_base::max_listen_connections, ec);
    if (ec)
      return {Errc::io_error, "--metrics: cannot listen on " + address + ":" + std::to_string(port) + ": " + ec.message()};
    port_ = acceptor_.local_endpoint().port();
    net::co_spawn(ioc_, accept_loop(), net::detached);
    thread_ = std::thread([this] { ioc_.run(); });
    return {};
  }

  void stop() {
    if (stopped_.exchange(true)) return;
    net::post(ioc_, [this] {
      beast::error_code ignored;
      acceptor_.close(ignored);
    });
    ioc_.stop();
    if (thread_.joinable()) thread_.join();
  }

  [[nodiscard]] uint16_t port() const { return port_; }

 private:
  static constexpr auto kTuple = net::as_tuple(net::use_awaitable);

  net::awaitable<void> accept_loop() {
    for (;;) {
      auto [ec, socket] = co_await acceptor_.async_accept(kTuple);
      if (ec) {
        if (!acceptor_.is_open()) co_return;
        net::steady_timer pause(co_await net::this_coro::executor, std::chrono::milliseconds(50));
        co_await pause.async_wait(kTuple);
        continue;
      }
      if (open_ >= kConnectionsMax) {
        beast::error_code ignored;
        socket.close(ignored);
        continue;
      }
      ++open_;
      net::co_spawn(ioc_, connection(std::move(socket)), [this](const std::exception_ptr& e) {
        --open_;
        if (!e) return;
        try {
          std::rethrow_exception(e);
        } catch (const std::exception& x) {
          std::fprintf(stderr, "kase run: metrics connection ended by an exception: %s\n", x.what());
        }
      });
    }
  }

  bhttp::response<bhttp::string_body> answer(const bhttp::request<bhttp::empty_body>& req) {
    bhttp::response<bhttp::string_body> res{bhttp::status::ok, req.version()};
    res.set(bhttp::field::server, "kase");
    const std::string_view target(req.target().data(), req.target().size());
    const std::string_view path = target.substr(0, target.find('?'));
    if (path != "/metrics") {
      res.result(bhttp::status::not_found);
      res.set(bhttp::field::content_type, "text/plain; charset=utf-8");
      res.body() = "kase serves its metrics at /metrics\n";
      return res;
    }
    if (req.method() != bhttp::verb::get && req.method() != bhttp::verb::head) {
      res.result(bhttp::status::method_not_allowed);
      res.set(bhttp::field::allow, "GET, HEAD");
      res.set(bhttp::field::content_type, "text/plain; charset=utf-8");
      res.body() = "GET /metrics\n";
      return res;
    }
    std::string text;
    if (Status s = collect_(&text); !s.ok()) {
      res.result(bhttp::status::service_unavailable);
      res.set(bhttp::field::content_type, "text/plain; charset=utf-8");
      res.body() = s.to_string() + "\n";
      return res;
    }
    res.set(bhttp::field::content_type, "text/plain; version=0.0.4; charset=utf-8");
    if (req.method() == bhttp::verb::get) res.body() = std::move(text);
    return res;
  }

  net::awaitable<void> connection(tcp::socket socket) {
    beast::tcp_stream stream(std::move(socket));
    beast::flat_buffer buffer;
    for (;;) {
      bhttp::request_parser<bhttp::empty_body> parser;
      parser.header_limit(kHeaderBytesMax);
      stream.expires_after(kReadTimeout);
      auto [read_ec, n] = co_await bhttp::async_read(stream, buffer, parser, kTuple);
      (void)n;
      if (read_ec) break;
      const auto& req = parser.get();
      auto res = answer(req);
      const bool keep = req.keep_alive() && res.result() == bhttp::status::ok;
      res.keep_alive(keep);
      res.prepare_payload();
      stream.expires_after(kReadTimeout);
      auto [write_ec, written] = co_await bhttp::async_write(stream, res, kTuple);
      (void)written;
      if (write_ec || !keep) break;
    }
    beast::error_code ignored;
    stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
  }

  Collect collect_;
  net::io_context ioc_{1};
  tcp::acceptor acceptor_;
  uint16_t port_ = 0;
  size_t open_ = 0;  // on the io thread only
  std::atomic<bool> stopped_{false};
  std::thread thread_;
};

Server::Server(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Server::~Server() { stop(); }

Status Server::start(const std::string& address, uint16_t port, Collect collect, std::unique_ptr<Server>* out) {
  auto impl = std::make_unique<Impl>(std::move(collect));
  if (Status s = impl->open(address, port); !s.ok()) return s;
  out->reset(new Server(std::move(impl)));
  return {};
}

uint16_t Server::port() const { return impl_->port(); }
void Server::stop() {
  if (impl_) impl_->stop();
}

}  // namespace kase::adapters::metrics
