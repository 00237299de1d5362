// Operations metrics: the fold's probe, the adapters' probes, the Prometheus
// text exposition (metrics.h), the /metrics listener, and that every metric the
// alert rules and the Grafana dashboard name is one kase exposes.
#include <filesystem>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>
#include <thread>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include "harness.h"
#include "kase/adapters/ledger.h"
#include "kase/adapters/metrics.h"

namespace kase::testing {
namespace {

namespace metrics = adapters::metrics;
using fb::Payload;

bool has_line(const std::string& text, const std::string& line) {
  std::istringstream in(text);
  for (std::string l; std::getline(in, l);)
    if (l == line) return true;
  return false;
}

// ---- The fold's probe -------------------------------------------------------------------

TEST(Probe, EveryReasonCodeHasItsOwnIndex) {
  ASSERT_GT(reason::kCount, 100u);
  std::set<std::string> codes;
  for (size_t i = 0; i < reason::kCount; ++i) {
    EXPECT_EQ(reason::index_of(reason::kCodes[i].text), i);
    EXPECT_TRUE(codes.insert(reason::kCodes[i].text).second) << "code twice: " << reason::kCodes[i].text;
    EXPECT_LT(std::strlen(reason::kCodes[i].text), reason::kCodeBytesMax);
  }
  EXPECT_EQ(reason::index_of(reason::kOk), 0u);
  EXPECT_STREQ(reason::kDailyExceeded, "limit.daily_exceeded");
  // The same text elsewhere is not a code of the table.
  const std::string copy = reason::kOk;
  EXPECT_EQ(reason::index_of(copy.c_str()), reason::kCount);
  EXPECT_EQ(reason::index_of(reason::kCodes[1].text + 1), reason::kCount);
}

TEST(Probe, R9_CountsDecisionsByTypeAndReasonAndTheShareOfTheDailyLimitUsed) {
  Harness h;
  ASSERT_TRUE(h.open_account("A1").accepted);
  ASSERT_TRUE(h.grant("s2", "A1", AccessMode::signature_2, 2'000 * kEur, 3'000 * kEur).accepted);
  ASSERT_TRUE(h.prepare("s2", "po1", "A1", 1'500 * kEur).accepted);   // day total 1,500 of 3,000: 0.5
  ASSERT_TRUE(h.prepare("s2", "po2", "A1", 1'500 * kEur).accepted);   // 3,000 of 3,000: 1.0
  EXPECT_FALSE(h.prepare("s2", "po3", "A1", 1).accepted);              // daily limit
  EXPECT_FALSE(h.prepare("s2", "po4", "A1", 2'000 * kEur + 1).accepted);  // per-order limit
  ASSERT_TRUE(h.sign("s2", "po1").accepted);  // the same order: not counted again, no share

  const engine::Probe& p = h.engine.probe();
  const auto prepare = static_cast<size_t>(Payload::PaymentOrderPrepare);
  const auto at = [](const char* code) { return reason::index_of(code); };
  EXPECT_EQ(p.decisions[prepare][at(reason::kOk)], 2u);
  EXPECT_EQ(p.decisions[prepare][at(reason::kDailyExceeded)], 1u);
  EXPECT_EQ(p.decisions[prepare][at(reason::kPerOrderExceeded)], 1u);
  EXPECT_EQ(p.decisions[static_cast<size_t>(Payload::PaymentOrderSign)][at(reason::kOk)], 1u);
  EXPECT_EQ(p.decisions[static_cast<size_t>(Payload::AccountOpened)][at(reason::kOk)], 1u);
  EXPECT_EQ(p.unknown_reason, 0u);
  EXPECT_EQ(p.limit_share_count, 2u);
  EXPECT_EQ(p.limit_share[4], 1u);  // (0.4, 0.5]
  EXPECT_EQ(p.limit_share[9], 1u);  // (0.9, 1.0]
  EXPECT_EQ(p.limit_share_sum_ppm, 1'500'000u);
  uint64_t total = 0;
  for (const auto& row : p.decisions)
    for (uint64_t n : row) total += n;
  EXPECT_EQ(total, static_cast<uint64_t>(h.seq));  // one count per decision, nothing else
}

TEST(Probe, DocumentStepsAndServiceSettingsCountPerService) {
  Harness h;
  const std::string create = events::document_create(h.as("u1"), fb::Service::eloans, "d1",
                                                     fb::DocumentKind::loan_request, "sha256:x");
  const std::string suspend = events::service_suspension(h.treasury(), fb::Service::ereports, true);
  const std::string login = events::login_attempt(h.as("u1"), fb::Means::unified_login, true);
  auto labels = [](const std::string& bytes) {
    return engine::labels_of(engine::kind_of(*events::verify_request(events::bytes_of(bytes))));
  };
  EXPECT_EQ(labels(create).type, Payload::DocumentCreate);
  EXPECT_EQ(labels(create).area, engine::Area::eloans);
  EXPECT_EQ(labels(suspend).type, Payload::ServiceSuspension);
  EXPECT_EQ(labels(suspend).area, engine::Area::ereports);
  EXPECT_EQ(labels(login).type, Payload::LoginAttempt);
  EXPECT_EQ(labels(login).area, engine::Area::identity);
  EXPECT_STREQ(engine::area_name(engine::Area::identity), "identity");
  // Distinct kinds have distinct labels: the per-service slots, and the
  // payload types that name no service.
  std::set<std::pair<int, int>> seen;
  std::set<int> per_service;
  for (size_t k = engine::kPayloadTypes; k < engine::kKinds; ++k) {
    const engine::KindLabels l = engine::labels_of(k);
    EXPECT_TRUE(seen.emplace(static_cast<int>(l.type), static_cast<int>(l.area)).second) << "kind " << k;
    per_service.insert(static_cast<int>(l.type));
  }
  EXPECT_EQ(per_service.size(), engine::kServiceSlots);
  for (size_t k = 0; k < engine::kPayloadTypes; ++k) {
    const engine::KindLabels l = engine::labels_of(k);
    EXPECT_EQ(l.type, static_cast<Payload>(k));
    if (per_service.count(static_cast<int>(l.type)) == 0) {
      EXPECT_TRUE(seen.emplace(static_cast<int>(l.type), static_cast<int>(l.area)).second) << "kind " << k;
    }
  }
}

// ---- The text exposition ------------------------------------------------------------------

TEST(Exposition, WritesHelpTypeAndEscapedLabels) {
  metrics::Exposition e;
  e.family("kase_things_total", metrics::Exposition::Type::counter, "Things, with a \\ and a\nnewline");
  e.sample({{"name", "a \"quoted\" \\ value\nnext"}}, 3);
  e.sample({}, 0.25);
  e.family("kase_depth", metrics::Exposition::Type::gauge, "Depth");
  e.sample({{"a", "1"}, {"b", "2"}}, -7);
  EXPECT_EQ(e.text(),
            "# HELP kase_things_total Things, with a \\\\ and a\\nnewline\n"
            "# TYPE kase_things_total counter\n"
            "kase_things_total{name=\"a \\\"quoted\\\" \\\\ value\\nnext\"} 3\n"
            "kase_things_total 0.25\n"
            "# HELP kase_depth Depth\n"
            "# TYPE kase_depth gauge\n"
            "kase_depth{a=\"1\",b=\"2\"} -7\n");
}

TEST(Exposition, HistogramsAreCumulativeWithInfSumAndCount) {
  static constexpr std::array<double, 3> kBounds = {0.001, 0.5, 2};
  adapters::Histogram h(kBounds);
  for (double v : {0.0005, 0.001, 0.3, 1.5, 7.0}) h.observe(v);
  metrics::Exposition e;
  e.family("kase_wait_seconds", metrics::Exposition::Type::histogram, "Waits");
  e.histogram({{"partition", "0"}}, h);
  EXPECT_EQ(e.text(),
            "# HELP kase_wait_seconds Waits\n"
            "# TYPE kase_wait_seconds histogram\n"
            "kase_wait_seconds_bucket{partition=\"0\",le=\"0.001\"} 2\n"
            "kase_wait_seconds_bucket{partition=\"0\",le=\"0.5\"} 3\n"
            "kase_wait_seconds_bucket{partition=\"0\",le=\"2\"} 4\n"
            "kase_wait_seconds_bucket{partition=\"0\",le=\"+Inf\"} 5\n"
            "kase_wait_seconds_sum{partition=\"0\"} 8.8015\n"
            "kase_wait_seconds_count{partition=\"0\"} 5\n");
}

TEST(Exposition, ValuesReadBackExactly) {
  EXPECT_EQ(metrics::format_value(0), "0");
  EXPECT_EQ(metrics::format_value(12345678901234), "12345678901234");
  EXPECT_EQ(metrics::format_value(0.1), "0.1");
  EXPECT_EQ(metrics::format_value(1.0 / 3), "0.3333333333333333");
  EXPECT_EQ(metrics::format_value(std::numeric_limits<double>::infinity()), "+Inf");
  EXPECT_EQ(metrics::format_value(-std::numeric_limits<double>::infinity()), "-Inf");
  EXPECT_EQ(metrics::format_value(std::nan("")), "NaN");
  EXPECT_EQ(metrics::escape_label_value("a\\b\"c\nd"), "a\\\\b\\\"c\\nd");
}

TEST(Exposition, ParsesHostAndPort) {
  std::string host;
  uint16_t port = 0;
  ASSERT_TRUE(metrics::parse_address("127.0.0.1:9464", &host, &port).ok());
  EXPECT_EQ(host, "127.0.0.1");
  EXPECT_EQ(port, 9464);
  ASSERT_TRUE(metrics::parse_address("[::1]:0", &host, &port).ok());
  EXPECT_EQ(host, "::1");
  EXPECT_EQ(port, 0);
  for (const char* bad : {"127.0.0.1", ":9464", "host:", "host:65536", "host:9x", "host:-1"})
    EXPECT_EQ(metrics::parse_address(bad, &host, &port).code(), Errc::invalid_argument) << bad;
}

// ---- What a known stream produces -----------------------------------------------------------

/// A Ledger over an in-memory store fed with a known stream.
class Rendered : public ::testing::Test {
 protected:
  void SetUp() override {
    store_ = projections::make_memory_store();
    ASSERT_TRUE(adapters::Ledger::open(store_.get(), &ledger_).ok());
    std::vector<std::string> reqs;
    reqs.push_back(events::account_opened(h.treasury(), "A1", "C1", false, 2026));
    reqs.push_back(events::account_opened(h.treasury(), "A1", "C1", false, 2026));  // account.exists
    // R3, R4, R7: s2's rights stand on a registered eKase application.
    reqs.push_back(events::representative(h.treasury(), "head", true, true));
    reqs.push_back(events::application_submitted(h.treasury(), "app-s2", fb::ApplicationKind::ekase, "s2", "head",
                                                 h.now - 1, "sha256:annex2"));
    reqs.push_back(events::application_registered(h.treasury(), "app-s2"));
    reqs.push_back(events::rights_granted_under(h.treasury(), "s2", "A1", AccessMode::signature_2, 2'000 * kEur,
                                                3'000 * kEur, "app-s2"));
    reqs.push_back(events::po_prepare(h.as("s2"), "po1", "A1", 3'000 * kEur, "x"));  // per-order limit
    reqs.push_back(events::po_prepare(h.as("s2"), "po2", "A1", 1'500 * kEur, "x"));
    reqs.push_back(events::po_prepare(h.as("s2"), "po3", "A1", 1'500 * kEur, "x"));
    reqs.push_back(events::po_prepare(h.as("s2"), "po4", "A1", 1, "x"));  // daily limit
    for (int i = 0; i < 3; ++i)  // R28.1: the third failure blocks
      reqs.push_back(events::login_attempt(h.as("s2"), fb::Means::unified_login, false));
    reqs.push_back(events::service_suspension(h.treasury(), fb::Service::eplans, true));
    reqs.push_back(events::message_posted(h.treasury(), "msg-1", "Limits"));
    reqs.push_back(reqs.front());  // a duplicate request id
    reqs.push_back("not a request");
    std::vector<std::span<const uint8_t>> spans;
    for (const auto& r : reqs) spans.push_back(events::bytes_of(r));
    std::vector<adapters::Answer> answers;
    ASSERT_TRUE(ledger_->submit(spans, &answers).ok());
    ASSERT_EQ(answers.size(), reqs.size());
  }

  std::string render(int64_t now_us) {
    metrics::View v;
    v.now_us = now_us;
    v.partitions.push_back(metrics::PartitionView{"embedded", ledger_.get(), -1});
    return metrics::render(v);
  }

  Harness h;  // Monday 2026-11-30 10:00 Riga
  std::unique_ptr<projections::Store> store_;
  std::unique_ptr<adapters::Ledger> ledger_;
};

TEST_F(Rendered, RequestsByServiceTypeOutcomeAndReason) {
  const std::string t = render(h.now);
  for (const char* line : {
           R"(kase_requests_total{service="ekase",type="AccountOpened",outcome="accepted",reason="ok"} 1)",
           R"(kase_requests_total{service="ekase",type="AccountOpened",outcome="rejected",reason="account.exists"} 1)",
           R"(kase_requests_total{service="ekase",type="PaymentOrderPrepare",outcome="accepted",reason="ok"} 2)",
           R"(kase_requests_total{service="ekase",type="PaymentOrderPrepare",outcome="rejected",reason="limit.per_order_exceeded"} 1)",
           R"(kase_requests_total{service="ekase",type="PaymentOrderPrepare",outcome="rejected",reason="limit.daily_exceeded"} 1)",
           R"(kase_requests_total{service="identity",type="LoginAttempt",outcome="rejected",reason="identity.login_failed"} 2)",
           R"(kase_requests_total{service="identity",type="LoginAttempt",outcome="rejected",reason="identity.blocked_wrong_credentials"} 1)",
           R"(kase_requests_total{service="eplans",type="ServiceSuspension",outcome="accepted",reason="ok"} 1)",
           R"(kase_requests_total{service="messages",type="MessagePosted",outcome="accepted",reason="ok"} 1)",
           R"(kase_limit_rejections_total{limit="per_order",rule="R9"} 1)",
           R"(kase_limit_rejections_total{limit="daily",rule="R9"} 1)",
           R"(kase_requests_duplicate_total 1)",
           R"(kase_requests_unlogged_total{reason="request.malformed_binary"} 1)",
           R"(kase_daily_limit_used_ratio_bucket{le="0.5"} 1)",
           R"(kase_daily_limit_used_ratio_bucket{le="0.9"} 1)",
           R"(kase_daily_limit_used_ratio_bucket{le="1"} 2)",
           R"(kase_daily_limit_used_ratio_sum 1.5)",
           R"(kase_daily_limit_used_ratio_count 2)",
           R"(kase_batch_requests_count 1)",
           R"(kase_batch_requests_bucket{le="16"} 0)",
           R"(kase_batch_requests_bucket{le="32"} 1)",
           R"(kase_decision_latency_seconds_count 15)",
           R"(kase_log_records{partition="embedded"} 15)",
           R"(kase_info{mode="embedded"} 1)",
       })
    EXPECT_TRUE(has_line(t, line)) << "missing: " << line << "\n" << t;
  // Nothing the stream did not produce.
  EXPECT_FALSE(has_line(t, R"(kase_requests_total{service="ekase",type="PaymentOrderSign",outcome="accepted",reason="ok"} 0)"));
  EXPECT_EQ(t.find("type=\"PaymentOrderSign\""), std::string::npos);
}

TEST_F(Rendered, R28_R32_R34_R36_BusinessGaugesAtTheScrape) {
  std::string t = render(h.now);  // Monday 10:00 Riga
  for (const char* line : {
           R"(kase_users_blocked{cause="wrong_credentials",rule="R28.1"} 1)",
           R"(kase_users_blocked{cause="suspicion",rule="R28.2"} 0)",
           R"(kase_service_open{service="ekase"} 1)",
           R"(kase_service_open{service="eplans"} 0)",
           R"(kase_service_state{service="eplans",state="suspended"} 1)",
           R"(kase_service_state{service="ekase",state="open"} 1)",
           R"(kase_service_hours_minutes{service="ekase",bound="open"} 480)",
           R"(kase_users_with_overdue_messages 0)",
           R"(kase_applications_past_deadline{step="registration",rule="R22.1",state="waiting"} 0)",
       })
    EXPECT_TRUE(has_line(t, line)) << "missing: " << line << "\n" << t;
  // R36: eight days later the users holding rights for C1 (s2) have not read msg-1.
  t = render(h.now + engine::kMessageReadPeriodUs + 24LL * 3600 * 1'000'000);  // Tuesday 10:00
  EXPECT_TRUE(has_line(t, "kase_users_with_overdue_messages 1")) << t;
  EXPECT_TRUE(has_line(t, "kase_overdue_unread_messages 1")) << t;
  // R32: Sunday, and Monday at 19:00.
  t = render(riga(20261206, 12, 0));
  EXPECT_TRUE(has_line(t, R"(kase_service_state{service="ekase",state="not_business_day"} 1)")) << t;
  t = render(riga(kMonday, 19, 0));
  EXPECT_TRUE(has_line(t, R"(kase_service_state{service="ekase",state="outside_hours"} 1)")) << t;
  EXPECT_TRUE(has_line(t, R"(kase_service_open{service="ekase"} 0)")) << t;
}

TEST(Rendered22, R22_ApplicationsWaitingPastTheirDeadline) {
  Harness h;
  auto store = projections::make_memory_store();
  std::unique_ptr<adapters::Ledger> ledger;
  ASSERT_TRUE(adapters::Ledger::open(store.get(), &ledger).ok());
  h.now = riga(20261127, 16, 0);  // Friday
  std::vector<std::string> reqs = {
      events::account_opened(h.treasury(), "A1", "C1", false, 2026),
      events::representative(h.treasury(), "head", true, true),
      events::application_submitted(h.as("head"), "a1", fb::ApplicationKind::ekase, "u1", "head", h.now - 1,
                                    "sha256:d"),
  };
  std::vector<std::span<const uint8_t>> spans;
  for (const auto& r : reqs) spans.push_back(events::bytes_of(r));
  std::vector<adapters::Answer> answers;
  ASSERT_TRUE(ledger->submit(spans, &answers).ok());
  for (const auto& a : answers) ASSERT_EQ(a.decision()->outcome(), fb::Outcome::accepted);
  metrics::View v;
  v.partitions.push_back(metrics::PartitionView{"embedded", ledger.get(), -1});
  v.now_us = riga(20261130, 12, 0);  // Monday: registration was due today, still in time
  EXPECT_TRUE(has_line(metrics::render(v),
                       R"(kase_applications_past_deadline{step="registration",rule="R22.1",state="waiting"} 0)"));
  v.now_us = riga(20261201, 12, 0);  // Tuesday: past R22.1 (1 business day)
  const std::string t = metrics::render(v);
  EXPECT_TRUE(has_line(t, R"(kase_applications_past_deadline{step="registration",rule="R22.1",state="waiting"} 1)"))
      << t;
}

TEST(Storage, RocksDbPropertiesReachTheMetrics) {
  const auto dir = std::filesystem::temp_directory_path() / ("kase-metrics-" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  {
    std::unique_ptr<projections::Store> store;
    ASSERT_TRUE(projections::open_rocks_store(dir.string(), {}, &store).ok());
    std::unique_ptr<adapters::Ledger> ledger;
    ASSERT_TRUE(adapters::Ledger::open(store.get(), &ledger).ok());
    Harness h;
    const std::string r = events::account_opened(h.treasury(), "A1", "C1", false, 2026);
    const std::vector<std::span<const uint8_t>> spans = {events::bytes_of(r)};
    std::vector<adapters::Answer> answers;
    ASSERT_TRUE(ledger->submit(spans, &answers).ok());
    projections::StoreStats s;
    const Status st = store->stats(&s);
    ASSERT_TRUE(st.ok()) << st.to_string();
    EXPECT_GT(s.log_bytes, 0u);  // the record, in the memtable
    EXPECT_FALSE(s.write_stopped);
    metrics::View v;
    v.now_us = h.now;
    v.partitions.push_back(metrics::PartitionView{"embedded", ledger.get(), -1});
    const std::string t = metrics::render(v);
    EXPECT_TRUE(has_line(t, R"(kase_rocksdb_write_stopped{partition="embedded"} 0)")) << t;
    EXPECT_TRUE(has_line(t, R"(kase_rocksdb_write_stalls_total{partition="embedded"} 0)")) << t;
    EXPECT_NE(t.find("kase_log_bytes{partition=\"embedded\"} "), std::string::npos);
  }
  std::filesystem::remove_all(dir);
}

// ---- Every metric the rules and the dashboard name is exposed -------------------------------------

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  EXPECT_TRUE(in.good()) << "cannot read " << path;
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

TEST_F(Rendered, EveryMetricTheAlertRulesAndTheDashboardNameIsExposed) {
  // A Kafka node's view and an HTTP node's view together declare every family.
  adapters::kafka::NodeStats kafka;
  adapters::Histogram commits(adapters::kCommitSecondsBounds);
  const adapters::http::ServerStats http;
  metrics::View v;
  v.now_us = h.now;
  v.kafka = &kafka;
  v.kafka_commit_seconds = &commits;
  v.http = &http;
  v.partitions.push_back(metrics::PartitionView{"0", ledger_.get(), 5});
  const std::string t = metrics::render(v);
  std::set<std::string> families;
  std::map<std::string, std::string> types;
  const std::regex type_line(R"(^# TYPE (\S+) (\S+)$)");
  std::istringstream in(t);
  for (std::string l; std::getline(in, l);) {
    std::smatch m;
    if (std::regex_match(l, m, type_line)) types[m[1]] = m[2];
  }
  ASSERT_GT(types.size(), 30u);
  const std::regex name(R"(\bkase_[a-z0-9_]+\b(?!\.))");  // not file names (kase_test.yml)
  size_t referenced = 0;
  for (const char* file : {"/ops/prometheus/rules/kase.yml", "/ops/grafana/kase.json"}) {
    const std::string text = read_file(std::string(KASE_SOURCE_DIR) + file);
    for (auto it = std::sregex_iterator(text.begin(), text.end(), name); it != std::sregex_iterator(); ++it) {
      std::string n = it->str();
      if (types.count(n) == 0) {
        for (const char* suffix : {"_bucket", "_sum", "_count"}) {
          const std::string s(suffix);
          if (n.size() > s.size() && n.compare(n.size() - s.size(), s.size(), s) == 0 &&
              types[n.substr(0, n.size() - s.size())] == "histogram")
            n = n.substr(0, n.size() - s.size());
        }
      }
      EXPECT_EQ(types.count(n), 1u) << file << " names " << it->str() << ", which kase does not expose";
      ++referenced;
    }
  }
  EXPECT_GT(referenced, 40u);
}

// ---- Handing a scrape to the owner's thread, and the listener --------------------------------------

TEST(Tap, TheOwnerThreadRendersForTheScraper) {
  metrics::Tap tap;
  std::atomic<bool> done{false};
  std::string got;
  bool ok = false;
  std::thread scraper([&] {
    ok = tap.collect(std::chrono::seconds(10), &got);
    done = true;
  });
  int renders = 0;
  while (!done.load()) {
    tap.serve_if_wanted([&] {
      ++renders;
      return std::string("text ") + std::to_string(renders);
    });
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  scraper.join();
  EXPECT_TRUE(ok);
  EXPECT_EQ(got, "text 1");
  EXPECT_EQ(renders, 1);
  // Nobody answers: the scrape gives up; after close() it fails at once.
  EXPECT_FALSE(tap.collect(std::chrono::milliseconds(20), &got));
  tap.close();
  EXPECT_FALSE(tap.collect(std::chrono::seconds(10), &got));
}

struct Reply {
  unsigned status = 0;
  std::string content_type;
  std::string body;
};

Reply fetch(uint16_t port, boost::beast::http::verb method, const std::string& target) {
  namespace net = boost::asio;
  namespace bhttp = boost::beast::http;
  net::io_context ioc;
  net::ip::tcp::socket socket(ioc);
  socket.connect({net::ip::make_address("127.0.0.1"), port});
  bhttp::request<bhttp::empty_body> req{method, target, 11};
  req.set(bhttp::field::host, "127.0.0.1");
  bhttp::write(socket, req);
  boost::beast::flat_buffer buffer;
  bhttp::response<bhttp::string_body> res;
  bhttp::read(socket, buffer, res);
  return {res.result_int(), std::string(res[bhttp::field::content_type]), res.body()};
}

TEST(MetricsServer, ServesTheExpositionAtSlashMetricsOnly) {
  std::atomic<bool> fail{false};
  std::unique_ptr<metrics::Server> server;
  ASSERT_TRUE(metrics::Server::start("127.0.0.1", 0,
                                     [&](std::string* out) -> Status {
                                       if (fail.load()) return {Errc::io_error, "engine busy"};
                                       *out = "# HELP kase_x X\n# TYPE kase_x gauge\nkase_x 1\n";
                                       return {};
                                     },
                                     &server)
                  .ok());
  using boost::beast::http::verb;
  Reply r = fetch(server->port(), verb::get, "/metrics");
  EXPECT_EQ(r.status, 200u);
  EXPECT_EQ(r.content_type, "text/plain; version=0.0.4; charset=utf-8");
  EXPECT_EQ(r.body, "# HELP kase_x X\n# TYPE kase_x gauge\nkase_x 1\n");
  EXPECT_EQ(fetch(server->port(), verb::get, "/v1/requests").status, 404u);
  EXPECT_EQ(fetch(server->port(), verb::post, "/metrics").status, 405u);
  fail = true;
  r = fetch(server->port(), verb::get, "/metrics");
  EXPECT_EQ(r.status, 503u);
  EXPECT_NE(r.body.find("engine busy"), std::string::npos);
  server->stop();
  server->stop();  // idempotent
  std::unique_ptr<metrics::Server> bad;
  EXPECT_EQ(metrics::Server::start("not-an-address", 0, [](std::string*) { return Status{}; }, &bad).code(),
            Errc::invalid_argument);
}

}  // namespace
}  // namespace kase::testing
