// The HTTP API over real TLS connections on 127.0.0.1: a test CA and the
// certificates (server, user, channel, Treasury, expired, foreign CA) are
// generated here with OpenSSL's C API; the server runs in-process on an
// ephemeral port with a fixed clock (a business day at 10:00 Riga, so that
// service hours do not depend on when the test runs).
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <atomic>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <thread>
#include <tuple>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

#include "harness.h"
#include "tls_pki.h"
#include "kase/adapters/http.h"
#include "kase/adapters/ledger.h"

namespace kase::testing {
namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
namespace ssl = net::ssl;
using tcp = net::ip::tcp;
namespace http = adapters::http;

bool has(const std::string& body, const std::string& part) { return body.find(part) != std::string::npos; }

/// Polls a condition the server reaches just after the client sees its effect.
template <class F>
void wait_for(F done) {
  for (int i = 0; i < 500 && !done(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
}

std::string request_json(const std::string& id, const std::string& type, const std::string& payload,
                         const std::string& envelope = R"("client_id": "C1")") {
  return R"({"request_id": ")" + id + R"(", )" + envelope + R"(, "payload_type": ")" + type +
         R"(", "payload": )" + payload + "}";
}
/// A Treasury request of the current schema version (R42: grants name their application).
std::string treasury_json(const std::string& id, const std::string& type, const std::string& payload) {
  return request_json(id, type, payload,
                      R"("client_id": "C1", "actor": "op", "channel": "treasury", "schema_version": 2)");
}
/// R3, R4, R22: a paper application about `user`, signed by the head, and its registration.
std::vector<std::tuple<std::string, std::string, std::string>> application_json(const std::string& id,
                                                                                 const std::string& kind,
                                                                                 const std::string& user) {
  return {{"sub-" + id, "ApplicationSubmitted",
           R"({"application": ")" + id + R"(", "kind": ")" + kind + R"(", "user": ")" + user +
               R"(", "signer": "head", "signed_us": 1, "digest": "sha256:)" + id + R"("})"},
          {"reg-" + id, "ApplicationRegistered", R"({"application": ")" + id + R"("})"}};
}

// ---- The fixture --------------------------------------------------------------------

class HttpTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    char tmpl[] = "/tmp/kase-http-test-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = new std::filesystem::path(tmpl);
    pki_ = new Pki(*dir_ / "pki");
  }
  static void TearDownTestSuite() {
    delete pki_;
    std::filesystem::remove_all(*dir_);
    delete dir_;
  }

  void TearDown() override {
    server_.reset();
    store_.reset();
  }

  void start(const http::Limits& limits = {}) {
    if (!store_) store_ = projections::make_memory_store();
    http::ServerOptions o;
    o.port = 0;
    o.tls_cert_file = pki_->cert("server");
    o.tls_key_file = pki_->key("server");
    o.client_ca_file = pki_->ca();
    o.client_crl_file = crl_;
    o.limits = limits;
    o.clock_us = [this] { return now_.fetch_add(1); };
    Status s = http::Server::start(store_.get(), o, &server_);
    ASSERT_TRUE(s.ok()) << s.to_string();
  }

  std::unique_ptr<Client> client(const std::string& who) {
    auto c = std::make_unique<Client>(*pki_, server_->port(), who);
    beast::error_code ec = c->connect();
    EXPECT_FALSE(ec) << who << ": " << ec.message();
    return c;
  }

  /// Opens account A1 of client C1, establishes its data exchange (R24) and
  /// grants u1 online_manage on it (R8.10).
  void set_up_accounts(Client& treasury) {
    std::vector<std::tuple<std::string, std::string, std::string>> requests = {
        {"s1", "AccountOpened", R"({"account": "A1", "owner_client": "C1", "fiscal_year": 2026})"},
        {"s2", "DataExchangeEstablished", "{}"},
        {"s2h", "RepresentativeRegistered", R"({"person": "head", "head": true})"},
    };
    for (auto& r : application_json("APP-U1", "ekase", "u1")) requests.push_back(r);  // R7
    requests.emplace_back(
        "s3", "RightsGranted",
        R"({"user": "u1", "account": "A1", "mode": "online_manage", "per_order_limit_cents": 100000, "daily_limit_cents": 500000, "application": "APP-U1"})");
    for (const auto& [id, type, payload] : requests) {
      const Reply r = treasury.send(bhttp::verb::post, "/v1/requests", treasury_json(id, type, payload));
      ASSERT_EQ(r.status, 200u) << r.body;
      ASSERT_TRUE(has(r.body, R"("outcome": "accepted")")) << r.body;
    }
  }

  void advance_minutes(int64_t minutes) { now_.fetch_add(minutes * kUsPerMinute); }

  static std::filesystem::path* dir_;
  static Pki* pki_;
  std::atomic<int64_t> now_{riga(kMonday, 10, 0)};
  std::string crl_;  // --client-crl for start()
  std::unique_ptr<projections::Store> store_;  // outlives the server
  std::unique_ptr<http::Server> server_;
};
std::filesystem::path* HttpTest::dir_ = nullptr;
Pki* HttpTest::pki_ = nullptr;

// ---- Tests ----------------------------------------------------------------------------

TEST_F(HttpTest, HealthAndReadiness) {
  start();
  auto c = client("u1");
  EXPECT_EQ(c->send(bhttp::verb::get, "/healthz").status, 200u);
  const Reply r = c->send(bhttp::verb::get, "/readyz");
  EXPECT_EQ(r.status, 200u);
  EXPECT_TRUE(has(r.body, R"("status": "ready")")) << r.body;
}

TEST_F(HttpTest, R22_1_3_UserCertificateIsTheActor) {
  start();
  auto treasury = client("treasury");
  set_up_accounts(*treasury);
  auto u1 = client("u1");
  // No actor, channel or means in the body: all three come from the certificate.
  Reply r = u1->send(bhttp::verb::post, "/v1/requests",
                     request_json("i1", "PaymentOrderImport", R"({"order": "po1", "account": "A1", "amount_cents": 5000})"));
  ASSERT_EQ(r.status, 200u) << r.body;
  EXPECT_TRUE(has(r.body, R"("outcome": "accepted")")) << r.body;
  EXPECT_TRUE(has(r.body, R"("rule": "R8.10")")) << r.body;

  r = u1->send(bhttp::verb::get, "/v1/clients/C1/orders/po1");
  ASSERT_EQ(r.status, 200u) << r.body;
  EXPECT_TRUE(has(r.body, R"("preparer":"u1")")) << r.body;
  EXPECT_TRUE(has(r.body, R"("amount_cents":5000)")) << r.body;

  // The user's own rights, limits and today's usage (R9).
  r = u1->send(bhttp::verb::get, "/v1/persons/u1");
  ASSERT_EQ(r.status, 200u) << r.body;
  EXPECT_TRUE(has(r.body, R"("mode":"online_manage")")) << r.body;
  EXPECT_TRUE(has(r.body, R"("day_total_cents":5000)")) << r.body;

  // The decision is the user's to read; another user's certificate sees nothing.
  EXPECT_EQ(u1->send(bhttp::verb::get, "/v1/decisions/i1").status, 200u);
  auto u2 = client("u2");
  EXPECT_EQ(u2->send(bhttp::verb::get, "/v1/decisions/i1").status, 404u);
  EXPECT_EQ(u2->send(bhttp::verb::get, "/v1/clients/C1/orders/po1").status, 404u);
  EXPECT_EQ(u2->send(bhttp::verb::get, "/v1/persons/u1").status, 403u);
  EXPECT_EQ(u2->send(bhttp::verb::get, "/v1/blocks").status, 403u);
  // The Treasury sees it all.
  EXPECT_EQ(treasury->send(bhttp::verb::get, "/v1/decisions/i1").status, 200u);
  EXPECT_EQ(treasury->send(bhttp::verb::get, "/v1/clients/C1/orders/po1").status, 200u);
}

TEST_F(HttpTest, R41_UserCertificateActsOnlyForItself) {
  start();
  auto treasury = client("treasury");
  set_up_accounts(*treasury);
  auto u1 = client("u1");
  const std::string payload = R"({"order": "po1", "account": "A1", "amount_cents": 5000})";
  Reply r = u1->send(bhttp::verb::post, "/v1/requests",
                     request_json("x1", "PaymentOrderImport", payload, R"("client_id": "C1", "actor": "u2")"));
  EXPECT_EQ(r.status, 403u);
  EXPECT_TRUE(has(r.body, R"("code": "auth.actor_not_certificate")")) << r.body;
  r = u1->send(bhttp::verb::post, "/v1/requests",
               request_json("x2", "AccountOpened", R"({"account": "A9", "owner_client": "C1"})",
                            R"("client_id": "C1", "channel": "treasury")"));
  EXPECT_EQ(r.status, 403u);
  EXPECT_TRUE(has(r.body, R"("code": "auth.channel_not_for_certificate")")) << r.body;
  r = u1->send(bhttp::verb::post, "/v1/requests",
               request_json("x3", "PaymentOrderImport", payload, R"("client_id": "C1", "means": "code_card")"));
  EXPECT_EQ(r.status, 403u);
  EXPECT_TRUE(has(r.body, R"("code": "auth.means_not_certificate")")) << r.body;
  // An actor equal to the certificate's is fine.
  r = u1->send(bhttp::verb::post, "/v1/requests",
               request_json("x4", "PaymentOrderImport", payload, R"("client_id": "C1", "actor": "u1")"));
  EXPECT_EQ(r.status, 200u) << r.body;
  // A request id of someone else's request does not reveal its decision.
  auto u2 = client("u2");
  r = u2->send(bhttp::verb::post, "/v1/requests", request_json("x4", "OnlineDataRequest", R"({"account": "A1"})"));
  EXPECT_EQ(r.status, 409u) << r.body;
  EXPECT_TRUE(has(r.body, R"("code": "request.id_of_another_actor")")) << r.body;
  // None of the refused requests reached the log.
  EXPECT_EQ(treasury->send(bhttp::verb::get, "/v1/decisions/x1").status, 404u);
}

TEST_F(HttpTest, R41_ChannelCertificateActsForUsersButNotForTheTreasury) {
  start();
  auto treasury = client("treasury");
  set_up_accounts(*treasury);
  auto portal = client("portal");
  Reply r = portal->send(bhttp::verb::post, "/v1/requests",
                         request_json("c1", "OnlineDataRequest", R"({"account": "A1"})",
                                      R"("client_id": "C1", "actor": "u1", "channel": "online", "means": "x509_certificate")"));
  ASSERT_EQ(r.status, 200u) << r.body;
  EXPECT_TRUE(has(r.body, R"("outcome": "accepted")")) << r.body;
  r = portal->send(bhttp::verb::post, "/v1/requests",
                   request_json("c2", "AccountOpened", R"({"account": "A9", "owner_client": "C1"})",
                                R"("client_id": "C1", "actor": "op", "channel": "treasury")"));
  EXPECT_EQ(r.status, 403u);
  EXPECT_TRUE(has(r.body, "auth.channel_not_for_certificate")) << r.body;
  // Without the treasury channel the engine itself refuses Treasury payloads (R41).
  r = portal->send(bhttp::verb::post, "/v1/requests",
                   request_json("c3", "AccountOpened", R"({"account": "A9", "owner_client": "C1"})",
                                R"("client_id": "C1", "actor": "op")"));
  ASSERT_EQ(r.status, 200u) << r.body;
  EXPECT_TRUE(has(r.body, R"("reason": "auth.treasury_only")")) << r.body;
  EXPECT_EQ(portal->send(bhttp::verb::get, "/v1/blocks").status, 200u);
}

TEST_F(HttpTest, R28_4_OnlineRequestsLessThanThreeMinutesApartBlockTheUser) {
  start();
  auto treasury = client("treasury");
  set_up_accounts(*treasury);
  auto u1 = client("u1");
  // The server stamps each request; the engine counts the intervals (no HTTP rate limiter).
  std::string last;
  for (int i = 0; i < 4; ++i) {
    const Reply r = u1->send(bhttp::verb::post, "/v1/requests",
                             request_json("d" + std::to_string(i), "OnlineDataRequest", R"({"account": "A1"})"));
    ASSERT_EQ(r.status, 200u) << r.body;
    last = r.body;
    if (i < 3) {
      EXPECT_TRUE(has(r.body, R"("outcome": "accepted")")) << i << ": " << r.body;
    }
    advance_minutes(1);
  }
  EXPECT_TRUE(has(last, R"("reason": "identity.blocked_request_rate")")) << last;
  EXPECT_TRUE(has(last, R"("rule": "R28.4")")) << last;
  const Reply blocks = treasury->send(bhttp::verb::get, "/v1/blocks");
  ASSERT_EQ(blocks.status, 200u);
  EXPECT_TRUE(has(blocks.body, R"({"person":"u1","cause":"request_rate","rule":"R28.4")")) << blocks.body;
  const Reply person = u1->send(bhttp::verb::get, "/v1/persons/u1");
  EXPECT_TRUE(has(person.body, R"("block":"request_rate")")) << person.body;
}

TEST_F(HttpTest, ApplicationsAndTheirDeadlines) {
  start();
  auto treasury = client("treasury");
  set_up_accounts(*treasury);
  Reply r = treasury->send(bhttp::verb::post, "/v1/requests",
                           treasury_json("a0", "RepresentativeRegistered", R"({"person": "op", "head": true})"));
  ASSERT_EQ(r.status, 200u) << r.body;
  r = treasury->send(
      bhttp::verb::post, "/v1/requests",
      request_json("a1", "ApplicationSubmitted",
                   R"({"application": "APP-1", "kind": "ekase", "user": "u1", "signer": "op", "signed_us": 1796000000000000, "digest": "d"})",
                   R"("client_id": "C1", "actor": "op", "channel": "treasury")"));
  ASSERT_EQ(r.status, 200u) << r.body;
  ASSERT_TRUE(has(r.body, R"("outcome": "accepted")")) << r.body;
  r = treasury->send(bhttp::verb::get, "/v1/applications/APP-1");
  ASSERT_EQ(r.status, 200u) << r.body;
  // Submitted Monday 2026-11-30: register by Tuesday (R22.1), attach by Thursday (R22.2).
  EXPECT_TRUE(has(r.body, R"("deadlines":{"registration":20261201,"attachment":20261203})")) << r.body;
  EXPECT_EQ(client("u1")->send(bhttp::verb::get, "/v1/applications/APP-1").status, 200u);
  EXPECT_EQ(client("u2")->send(bhttp::verb::get, "/v1/applications/APP-1").status, 404u);
  EXPECT_EQ(treasury->send(bhttp::verb::get, "/v1/applications/nope").status, 404u);
  // A week later it is still not registered: late under R22.1.
  advance_minutes(7 * 24 * 60);
  r = treasury->send(bhttp::verb::get, "/v1/late-applications");
  ASSERT_EQ(r.status, 200u) << r.body;
  EXPECT_TRUE(has(r.body, R"("application":"APP-1")")) << r.body;
  EXPECT_TRUE(has(r.body, R"("rule":"R22.1")")) << r.body;
  EXPECT_EQ(treasury->send(bhttp::verb::get, "/v1/overdue-messages").status, 200u);
}

TEST_F(HttpTest, R6_2_DocumentsOfTheOtherServices) {
  start();
  auto treasury = client("treasury");
  // R5: u1's ePlans rights stand on a registered annex 1 application.
  std::vector<std::tuple<std::string, std::string, std::string>> setup = {
      {"p0h", "RepresentativeRegistered", R"({"person": "head", "head": true})"}};
  for (auto& x : application_json("APP-P1", "eplans_eestimates", "u1")) setup.push_back(x);
  for (const auto& [id, type, payload] : setup)
    ASSERT_TRUE(has(treasury->send(bhttp::verb::post, "/v1/requests", treasury_json(id, type, payload)).body,
                    R"("outcome": "accepted")"));
  Reply r = treasury->send(
      bhttp::verb::post, "/v1/requests",
      treasury_json("p0", "PlanRightsGranted",
                    R"({"user": "u1", "service": "eplans", "mode": "institution_manage", "application": "APP-P1"})"));
  ASSERT_EQ(r.status, 200u) << r.body;
  ASSERT_TRUE(has(r.body, R"("outcome": "accepted")")) << r.body;
  // The portal enters u1's financing plan.
  auto portal = client("portal");
  r = portal->send(bhttp::verb::post, "/v1/requests",
                   request_json("p1", "DocumentCreate",
                                R"({"service": "eplans", "document": "FP-2027", "kind": "financing_plan", "digest": "sha256:fp", "amount_cents": 120000})",
                                R"("client_id": "C1", "actor": "u1", "channel": "portal")"));
  ASSERT_EQ(r.status, 200u) << r.body;
  ASSERT_TRUE(has(r.body, R"("outcome": "accepted")")) << r.body;

  r = treasury->send(bhttp::verb::get, "/v1/clients/C1/documents/eplans/FP-2027");
  ASSERT_EQ(r.status, 200u) << r.body;
  EXPECT_TRUE(has(r.body, R"("status":"draft")")) << r.body;
  EXPECT_TRUE(has(r.body, R"("request_id":"p1")")) << r.body;
  EXPECT_TRUE(has(r.body, R"("actor":"u1")")) << r.body;
  // u1 holds ePlans rights on C1: its certificate reads the plan; u2's does not.
  EXPECT_EQ(client("u1")->send(bhttp::verb::get, "/v1/clients/C1/documents/eplans/FP-2027").status, 200u);
  EXPECT_EQ(client("u2")->send(bhttp::verb::get, "/v1/clients/C1/documents/eplans/FP-2027").status, 404u);
  // Another service, an unknown document, a service without documents.
  EXPECT_EQ(treasury->send(bhttp::verb::get, "/v1/clients/C1/documents/eestimates/FP-2027").status, 404u);
  EXPECT_EQ(treasury->send(bhttp::verb::get, "/v1/clients/C1/documents/eplans/nope").status, 404u);
  r = treasury->send(bhttp::verb::get, "/v1/clients/C1/documents/ekase/FP-2027");
  EXPECT_EQ(r.status, 404u);
  EXPECT_TRUE(has(r.body, "eplans, eestimates, ereports or eloans")) << r.body;
}

TEST_F(HttpTest, R41_UnknownCaExpiredOrMissingCertificatesFailTheHandshake) {
  start();
  for (const char* who : {"foreign", "expired", ""}) {
    Client c(*pki_, server_->port(), who);
    beast::error_code ec = c.connect();
    // TLS 1.3 finishes the client's side of the handshake before the server
    // checks the certificate: the refusal then arrives on the first read.
    if (!ec) {
      EXPECT_EQ(c.send(bhttp::verb::get, "/healthz").status, 0u) << who;
    }
  }
  wait_for([&] { return server_->stats().handshakes_failed >= 3; });
  EXPECT_EQ(server_->stats().handshakes_failed, 3u);
  EXPECT_EQ(server_->stats().requests, 0u);
  EXPECT_EQ(client("u1")->send(bhttp::verb::get, "/healthz").status, 200u);
}

TEST_F(HttpTest, R41_RevokedCertificatesFailTheHandshakeWithARevocationList) {
  // Without a CRL the revoked certificate is merely valid: the list is what refuses it.
  start();
  EXPECT_EQ(client("revoked")->send(bhttp::verb::get, "/healthz").status, 200u);
  server_.reset();
  crl_ = pki_->crl();
  start();
  {
    Client c(*pki_, server_->port(), "revoked");
    if (!c.connect()) {  // TLS 1.3: the refusal arrives on the first read
      EXPECT_EQ(c.send(bhttp::verb::get, "/healthz").status, 0u);
    }
  }
  wait_for([&] { return server_->stats().handshakes_failed >= 1; });
  EXPECT_EQ(server_->stats().handshakes_failed, 1u);
  EXPECT_EQ(client("u1")->send(bhttp::verb::get, "/healthz").status, 200u);
  // A file without a CRL is refused at start, with the option named.
  server_.reset();
  http::ServerOptions o;
  o.port = 0;
  o.tls_cert_file = pki_->cert("server");
  o.tls_key_file = pki_->key("server");
  o.client_ca_file = pki_->ca();
  o.client_crl_file = pki_->ca();  // a certificate, not a CRL
  std::unique_ptr<http::Server> bad;
  const Status s = http::Server::start(store_.get(), o, &bad);
  EXPECT_EQ(s.code(), Errc::invalid_argument);
  EXPECT_NE(s.message().find("--client-crl"), std::string::npos) << s.message();
}

/// True when `who` can no longer open a connection (handshake or first read refused).
bool refused(const Pki& pki, uint16_t port, const std::string& who) {
  Client c(pki, port, who);
  if (c.connect()) return true;
  return c.send(bhttp::verb::get, "/healthz").status == 0;  // TLS 1.3: the refusal arrives on the first read
}

/// Replaces `to` with the content of `from` in one rename, as a CRL publisher should.
void publish(const std::string& from, const std::string& to) {
  std::filesystem::copy_file(from, to + ".tmp", std::filesystem::copy_options::overwrite_existing);
  std::filesystem::rename(to + ".tmp", to);
}

TEST_F(HttpTest, R41_APublishedRevocationListAppliesToNewConnectionsWithoutARestart) {
  // The node runs for months; CRLs are published daily and expire: a new
  // list in the --client-crl file applies within a second, to new handshakes.
  crl_ = (*dir_ / "crl-live.pem").string();
  publish(pki_->empty_crl(), crl_);
  start();
  EXPECT_EQ(client("revoked")->send(bhttp::verb::get, "/healthz").status, 200u);
  auto kept = client("u2");  // an open connection is not cut off by a new list
  publish(pki_->crl(), crl_);
  bool now_refused = false;
  for (int i = 0; i < 100 && !now_refused; ++i) {
    now_refused = refused(*pki_, server_->port(), "revoked");
    if (!now_refused) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_TRUE(now_refused) << "the published CRL was not applied";
  EXPECT_EQ(server_->stats().crl_reloads, 1u);
  EXPECT_EQ(client("u1")->send(bhttp::verb::get, "/healthz").status, 200u);
  EXPECT_EQ(kept->send(bhttp::verb::get, "/healthz").status, 200u);

  // A file that does not parse (half written, wrong content) keeps the lists in
  // force, and is counted.
  {
    std::ofstream f(crl_, std::ios::trunc);
    f << "-----BEGIN X509 CRL-----\ntruncated\n";
  }
  for (int i = 0; i < 100 && server_->stats().crl_reload_failures == 0; ++i) {
    EXPECT_TRUE(refused(*pki_, server_->port(), "revoked"));
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_EQ(server_->stats().crl_reload_failures, 1u);
  EXPECT_TRUE(refused(*pki_, server_->port(), "revoked"));
  EXPECT_EQ(client("u1")->send(bhttp::verb::get, "/healthz").status, 200u);

  // The next good list applies again: "revoked" is back.
  publish(pki_->empty_crl(), crl_);
  bool accepted = false;
  for (int i = 0; i < 100 && !accepted; ++i) {
    accepted = !refused(*pki_, server_->port(), "revoked");
    if (!accepted) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_TRUE(accepted);
  EXPECT_EQ(server_->stats().crl_reloads, 2u);
}

TEST_F(HttpTest, BadInputGets4xxWithCodeAndMessage) {
  start();
  auto c = client("treasury");
  auto expect = [&](const Reply& r, unsigned status, const std::string& code) {
    EXPECT_EQ(r.status, status) << r.body;
    EXPECT_TRUE(has(r.body, R"("code": ")" + code + "\"")) << r.body;
    EXPECT_TRUE(has(r.body, R"("message": ")")) << r.body;
  };
  expect(c->send(bhttp::verb::post, "/v1/requests", "{not json"), 400, "request.malformed_json");
  expect(c->send(bhttp::verb::post, "/v1/requests",
                 treasury_json("b1", "AccountOpened", R"({"account": "A1", "owner_client": "C1", "bogus": 1})")),
         400, "request.malformed_json");
  expect(c->send(bhttp::verb::post, "/v1/requests",
                 treasury_json("b2", "AccountOpened", R"({"account": "A1", "owner_client": "C1", "fiscal_year": "x"})")),
         400, "request.malformed_json");
  expect(c->send(bhttp::verb::post, "/v1/requests", R"({"client_id": "C1"})"), 400, "request.malformed_json");
  expect(c->send(bhttp::verb::post, "/v1/requests",
                 request_json("b3", "AccountOpened", R"({"account": "A1", "owner_client": "C1"})",
                              R"("client_id": "C1", "actor": "op", "channel": "treasury", "intake_us": 5)")),
         400, "request.intake_time_set_by_server");
  expect(c->send(bhttp::verb::post, "/v1/requests", "[]", "text/plain"), 415, "http.unsupported_media_type");
  expect(c->send(bhttp::verb::get, "/v1/nothing-here"), 404, "http.not_found");
  expect(c->send(bhttp::verb::get, "/v1/decisions/%zz"), 404, "http.not_found");
  expect(c->send(bhttp::verb::get, "/v1/decisions/never-sent"), 404, "http.not_found");
  Reply r = c->send(bhttp::verb::get, "/v1/requests");
  expect(r, 405, "http.method_not_allowed");
  expect(c->send(bhttp::verb::delete_, "/v1/blocks"), 405, "http.method_not_allowed");
  // Still on the same keep-alive connection after all of these.
  EXPECT_EQ(c->send(bhttp::verb::get, "/healthz").status, 200u);

  // Oversize body and header: refused, and the connection closed.
  expect(c->send(bhttp::verb::post, "/v1/requests", std::string(70'000, ' ')), 413, "http.body_too_large");
  c = client("treasury");
  expect(c->send(bhttp::verb::get, "/healthz", {}, "application/json", 9000), 431, "http.header_too_large");
  c = client("treasury");
  expect(c->raw("\x01\x02 garbage\r\n\r\n"), 400, "http.bad_request");
  // The server lives on.
  EXPECT_EQ(client("u1")->send(bhttp::verb::get, "/healthz").status, 200u);
}

// R42, R7: the HTTP intake writes a body without schema_version in the current
// version (a grant naming no application is refused, R7) and refuses one that
// names an older version with 400 request.schema_version_retired, unlogged.
TEST_F(HttpTest, R42_RetiredSchemaVersionIsRefusedAndAbsentIsCurrent) {
  start();
  auto t = client("treasury");
  set_up_accounts(*t);
  const std::string grant = R"({"user": "u2", "account": "A1", "mode": "view_all"})";
  const std::string envelope = R"("client_id": "C1", "actor": "op", "channel": "treasury")";
  Reply r = t->send(bhttp::verb::post, "/v1/requests",
                    request_json("v-old", "RightsGranted", grant, envelope + R"(, "schema_version": 1)"));
  EXPECT_EQ(r.status, 400u) << r.body;
  EXPECT_TRUE(has(r.body, R"("code": "request.schema_version_retired")")) << r.body;
  EXPECT_EQ(t->send(bhttp::verb::get, "/v1/decisions/v-old").status, 404u);
  r = t->send(bhttp::verb::post, "/v1/requests", request_json("v-absent", "RightsGranted", grant, envelope));
  EXPECT_EQ(r.status, 200u) << r.body;
  EXPECT_TRUE(has(r.body, R"("reason": "grant.application_missing")")) << r.body;
}

// R41: identity facts between Kafka partitions are kase's own; the API
// refuses one, even from the Treasury's certificate, before the log.
TEST_F(HttpTest, R41_IdentityFactsAreRefusedAtIntake) {
  start();
  auto t = client("treasury");
  const std::string envelope = R"("client_id": "C1", "actor": "op", "channel": "treasury")";
  Reply r = t->send(bhttp::verb::post, "/v1/requests",
                    request_json("fact-1", "IdentityFact", R"({"person": "u1", "kind": "state", "block": "suspicion"})",
                                 envelope));
  EXPECT_EQ(r.status, 403u) << r.body;
  EXPECT_TRUE(has(r.body, R"("code": "auth.engine_only")")) << r.body;
  r = t->send(bhttp::verb::post, "/v1/requests",
              request_json("fact-2", "MeansBlocked", R"({"person": "u1", "cause": "suspicion"})",
                           R"("client_id": "C1", "actor": "op", "channel": "engine")"));
  EXPECT_EQ(r.status, 403u) << r.body;
  EXPECT_TRUE(has(r.body, R"("code": "auth.engine_only")")) << r.body;
  EXPECT_EQ(t->send(bhttp::verb::get, "/v1/decisions/fact-1").status, 404u);
}

TEST_F(HttpTest, SlowClientsAreCutOff) {
  http::Limits l;
  l.read_timeout = std::chrono::milliseconds(300);
  l.idle_timeout = std::chrono::milliseconds(300);
  start(l);
  auto c = client("u1");
  // Half a request, then silence.
  beast::error_code ec;
  net::write(c->stream(), net::buffer(std::string("POST /v1/requests HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{")),
             ec);
  ASSERT_FALSE(ec);
  const auto started = std::chrono::steady_clock::now();
  EXPECT_TRUE(c->read_until_closed());
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(15));
  // An idle keep-alive connection ends too.
  auto idle = client("u1");
  EXPECT_EQ(idle->send(bhttp::verb::get, "/healthz").status, 200u);
  EXPECT_TRUE(idle->read_until_closed());
  wait_for([&] { return server_->stats().timeouts >= 2; });
  EXPECT_GE(server_->stats().timeouts, 2u);
}

TEST_F(HttpTest, ConnectionAndRequestLimits) {
  http::Limits l;
  l.connections_max = 1;
  l.requests_per_connection_max = 2;
  start(l);
  auto first = client("u1");
  Reply r = first->send(bhttp::verb::get, "/healthz");
  EXPECT_EQ(r.status, 200u);
  EXPECT_TRUE(r.keep_alive);
  {
    // A second connection is over the limit: closed at once.
    Client second(*pki_, server_->port(), "u1");
    if (!second.connect()) {
      EXPECT_EQ(second.send(bhttp::verb::get, "/healthz").status, 0u);
    }
  }
  EXPECT_GE(server_->stats().connections_refused, 1u);
  r = first->send(bhttp::verb::get, "/healthz");
  EXPECT_EQ(r.status, 200u);
  EXPECT_FALSE(r.keep_alive);  // the second request on it: Connection: close
  first->read_until_closed();
  first.reset();
  // The slot is free again once the server has seen the close.
  Reply again;
  for (int i = 0; i < 100 && again.status != 200; ++i) {
    Client c(*pki_, server_->port(), "u1");
    if (!c.connect()) again = c.send(bhttp::verb::get, "/healthz");
    if (again.status != 200) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_EQ(again.status, 200u);
}

TEST_F(HttpTest, NotReadyWithinTheWaitGives202AndTheDecisionLater) {
  http::Limits l;
  l.decision_wait = std::chrono::milliseconds(0);
  start(l);
  auto c = client("treasury");
  const Reply r = c->send(bhttp::verb::post, "/v1/requests",
                          treasury_json("slow/1", "AccountOpened", R"({"account": "A1", "owner_client": "C1"})"));
  if (r.status == 202) {
    EXPECT_EQ(r.location, "/v1/decisions/slow%2F1");
    EXPECT_TRUE(has(r.body, R"("status": "pending")")) << r.body;
  } else {
    EXPECT_EQ(r.status, 200u) << r.body;  // the engine was quicker than the timer
  }
  // A find is queued behind the request: it sees the decision (or the engine is busy: 503).
  Reply d;
  for (int i = 0; i < 100 && d.status != 200; ++i) {
    d = c->send(bhttp::verb::get, "/v1/decisions/slow%2F1");
    if (d.status != 200) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_EQ(d.status, 200u) << d.body;
  EXPECT_TRUE(has(d.body, R"("request_id": "slow/1")")) << d.body;
}

TEST_F(HttpTest, NothingAcceptedIsLostAcrossARestart) {
  const std::string data = (*dir_ / "restart").string();
  ASSERT_TRUE(projections::open_rocks_store(data, {}, &store_).ok());
  http::Limits l;
  l.decision_wait = std::chrono::milliseconds(0);  // answer 202 at once: accepted, not yet decided
  start(l);
  constexpr int kRequests = 200;
  {
    auto c = client("treasury");
    for (int i = 0; i < kRequests; ++i) {
      const Reply r = c->send(bhttp::verb::post, "/v1/requests",
                              treasury_json("n" + std::to_string(i), "CalendarOverride",
                                            R"({"date": 20261205, "working": true})"));
      ASSERT_TRUE(r.status == 200 || r.status == 202) << r.status << " " << r.body;
    }
  }
  server_->stop();  // decides and commits everything queued
  server_.reset();
  store_.reset();
  ASSERT_TRUE(projections::open_rocks_store(data, {}, &store_).ok());
  std::unique_ptr<adapters::Ledger> ledger;
  ASSERT_TRUE(adapters::Ledger::open(store_.get(), &ledger).ok());
  for (int i = 0; i < kRequests; ++i) {
    adapters::Answer a;
    EXPECT_TRUE(ledger->find("n" + std::to_string(i), &a).ok()) << i;
  }
  EXPECT_EQ(ledger->meta().next_offset, static_cast<uint64_t>(kRequests));
}

TEST_F(HttpTest, BoundedLoadOverTlsKeepAlive) {
  start();
  auto treasury = client("treasury");
  set_up_accounts(*treasury);
  constexpr int kConnections = 4;
  constexpr int kPerConnection = 500;
  std::atomic<int> good{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kConnections; ++t) {
    threads.emplace_back([&, t] {
      Client c(*pki_, server_->port(), "portal");
      if (c.connect()) return;
      for (int i = 0; i < kPerConnection; ++i) {
        const std::string id = "load-" + std::to_string(t) + "-" + std::to_string(i);
        const Reply r = c.send(bhttp::verb::post, "/v1/requests",
                               request_json(id, "OnlineDataRequest", R"({"account": "A1"})",
                                            R"("client_id": "C1", "actor": "u)" + std::to_string(t) +
                                                R"(", "channel": "online")"));
        // Every answer is a decision of this request (rights.none: only u1 holds rights).
        if (r.status == 200 && has(r.body, R"("request_id": ")" + id + "\"") && has(r.body, R"("outcome": ")"))
          good.fetch_add(1);
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(good.load(), kConnections * kPerConnection);
  const http::ServerStats s = server_->stats();
  EXPECT_EQ(s.decided, static_cast<uint64_t>(kConnections * kPerConnection + 6));  // + set_up_accounts
  EXPECT_LE(s.batches, s.decided);
}

// The OpenAPI document lists exactly the server's routes.
TEST(HttpOpenApi, DocumentMatchesTheRouteTable) {
  std::ifstream in(KASE_OPENAPI);
  ASSERT_TRUE(in) << KASE_OPENAPI;
  std::set<std::pair<std::string, std::string>> documented;
  std::string line, path;
  bool in_paths = false;
  while (std::getline(in, line)) {
    if (line.rfind("paths:", 0) == 0) {
      in_paths = true;
      continue;
    }
    if (!in_paths) continue;
    if (!line.empty() && line[0] != ' ' && line[0] != '#') break;  // the next top-level key
    if (line.rfind("  /", 0) == 0 && line.back() == ':') {
      path = line.substr(2, line.size() - 3);
    } else if (line.size() > 4 && line.rfind("    ", 0) == 0 && line[4] != ' ' && line.back() == ':') {
      std::string method = line.substr(4, line.size() - 5);
      if (method == "parameters") continue;
      for (char& ch : method) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
      documented.emplace(method, path);
    }
  }
  std::set<std::pair<std::string, std::string>> served;
  for (const http::Route& r : http::routes()) served.emplace(std::string(r.method), std::string(r.path));
  EXPECT_EQ(documented, served);
}

}  // namespace
}  // namespace kase::testing
