// The HTTP/1.1 API over the embedded log or over Kafka (Boost.Beast on Asio,
// OpenSSL).
//
// Threads: `threads` Asio threads serve the connections (one strand each).
// Embedded: one engine thread owns the Ledger. Requests are parsed, authorised
// and stamped on the Asio threads (http_intake.h), queued to the engine
// thread, decided and committed in batches (many HTTP requests per fsync), and
// only then answered: nothing is answered as decided before it is durable.
// Queries run on the engine thread between batches, on the live state.
// Kafka (start_kafka): requests are produced to kase.requests, decisions read
// back from kase.decisions by a reader thread, queries run on the engine
// node's thread (kafka::PartitionTap). A 202 (decision not ready within the
// wait) is only ever given for a request that is durable in the log.
//
// Mutual TLS (R22.1.3, R41): clients present a certificate issued by the
// client CA; unknown issuers and expired certificates fail the handshake.
// The certificate says who acts (see http_intake.h: CertKind).
//
// Thread-safety: start, port, failed and stop may be called from any one
// thread; the Server is not copyable.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "kase/adapters/http_intake.h"
#include "kase/projections/status.h"
#include "kase/projections/store.h"

namespace kase::adapters::kafka {
class PartitionTap;
}

namespace kase::adapters::http {

struct ServerOptions {
  std::string address = "127.0.0.1";
  uint16_t port = 8443;          // 0: an ephemeral port (see Server::port)
  std::string tls_cert_file;     // the server's certificate chain (PEM)
  std::string tls_key_file;      // its private key (PEM)
  std::string client_ca_file;    // CA certificates that issue client certificates (PEM)
  /// CRLs of the client CAs (PEM): when set, a revoked client certificate, or
  /// one whose CA has no CRL here, or whose CRL has expired, fails the handshake.
  std::string client_crl_file;
  /// Local development only: no TLS, and every client acts as the Treasury.
  /// Refused unless `address` is a loopback address.
  bool plain_http = false;
  /// Over Kafka: the directory of the decisions index (kase.decisions by
  /// request id, and how far it was read), e.g. DATA/http-decisions.
  std::string decisions_index_dir;
  Limits limits;
  size_t threads = 2;            // Asio threads
  /// Intake time stamps (UTC micros); the system clock when empty. Tests set
  /// it so that service hours (R32) and R28.4 intervals do not depend on the
  /// hour the test runs at.
  std::function<int64_t()> clock_us;
};

/// Counters for tests and the stop line.
struct ServerStats {
  uint64_t connections = 0;         // accepted
  uint64_t connections_refused = 0; // over connections_max
  uint64_t handshakes_failed = 0;   // unknown or expired certificates, not TLS, too slow
  uint64_t crl_reloads = 0;         // --client-crl re-read after the file changed
  uint64_t crl_reload_failures = 0; // changed CRL files that did not parse (the old lists stay)
  uint64_t requests = 0;            // HTTP requests answered
  uint64_t decided = 0;             // requests decided and committed by the engine thread
  uint64_t batches = 0;             // engine commits (each one fsync)
  uint64_t timeouts = 0;            // connections cut off by the idle or read timeout
};

class Server {
 public:
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  /// Opens a Ledger over `store` (not owned; must outlive the Server), binds,
  /// and starts serving. invalid_argument for bad options or TLS files.
  static Status start(projections::Store* store, const ServerOptions& options, std::unique_ptr<Server>* out);
  /// Serves over Kafka instead: requests are produced to kase.requests
  /// (accepted once Kafka has them, acks=all), decisions read from
  /// kase.decisions, queries run by the engine node that serves `queries`
  /// (kafka::NodeOptions::queries; not owned, must outlive the Server).
  static Status start_kafka(const std::string& brokers, kafka::PartitionTap* queries, const ServerOptions& options,
                            std::unique_ptr<Server>* out);

  /// The bound port.
  [[nodiscard]] uint16_t port() const;
  /// True once a commit failed: the ledger refuses work and the node should stop.
  [[nodiscard]] bool failed() const;
  [[nodiscard]] ServerStats stats() const;

  /// The Prometheus exposition (metrics.h), rendered on the engine thread
  /// between batches: it sees every request queued before it. io_error when
  /// the engine does not answer within `wait` or is stopping.
  Status metrics(std::chrono::milliseconds wait, std::string* out);

  /// Stops accepting; the engine decides and commits everything queued; the
  /// answers are written (bounded wait); then the threads end. Idempotent.
  void stop();

  class Impl;

 private:
  explicit Server(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace kase::adapters::http
