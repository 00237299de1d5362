// The HTTP API's pure part: the route table, who a client certificate is, and
// the intake of one POSTed JSON request (parse, authorise, stamp). No sockets
// and no Asio: the server (http.h) and the fuzz target share it.
//
// Thread-safety: free functions without shared state; a JsonCodec is per thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "kase/events/codec.h"

namespace kase::adapters::http {

/// Named limits of the HTTP server, each configurable (kase run flags).
struct Limits {
  size_t body_bytes_max = events::kRequestBytesMax;  // --http-body-max: larger bodies get 413
  size_t header_bytes_max = 8 * 1024;                // --http-header-max: larger headers get 431
  size_t connections_max = 1024;                     // --http-connections-max: more are closed at once
  size_t requests_per_connection_max = 10000;        // --http-requests-per-connection: then Connection: close
  std::chrono::milliseconds idle_timeout{30'000};    // --http-idle-ms: keep-alive wait for the next request
  std::chrono::milliseconds read_timeout{10'000};    // --http-read-ms: TLS handshake, one whole request, one
                                                     // response write; slower clients are cut off
  std::chrono::milliseconds decision_wait{2'000};    // --http-decision-wait-ms: then 202 + Location
  size_t queue_requests_max = 65536;                 // --http-queue-max: waiting for the engine; then 503
};

/// Who is on the other end of the connection, from its client certificate
/// (R22.1.3, R41). The certificate's subject CN is the name; its OU says the kind.
enum class CertKind : uint8_t {
  user,      // an online data-exchange user (R8.9, R8.10): acts only as CN
  channel,   // OU=kase-channel: a channel service, acts for any user on its channels
  treasury,  // OU=kase-treasury: the Treasury back office (channel "treasury" allowed)
};
inline constexpr std::string_view kChannelOu = "kase-channel";
inline constexpr std::string_view kTreasuryOu = "kase-treasury";

struct Identity {
  CertKind kind = CertKind::user;
  std::string name;  // subject CN
};

/// The kind a certificate with these subject OUs has.
CertKind kind_of(std::span<const std::string> organisational_units);

enum class RouteId : uint8_t {
  submit,             // POST /v1/requests
  decision,           // GET /v1/decisions/{request_id}
  person,             // GET /v1/persons/{person_id}
  order,              // GET /v1/clients/{client_id}/orders/{order_id}
  application,        // GET /v1/applications/{application_id}
  late_applications,  // GET /v1/late-applications
  blocks,             // GET /v1/blocks
  overdue_messages,   // GET /v1/overdue-messages
  document,           // GET /v1/clients/{client_id}/documents/{service}/{document_id}
  healthz,            // GET /healthz
  readyz,             // GET /readyz
};

struct Route {
  std::string_view method;
  std::string_view path;  // a template: {name} is one percent-encoded segment
  RouteId id;
};

/// Every route the server answers (the OpenAPI document must list exactly these).
std::span<const Route> routes();

/// The result of matching a method and a request target.
struct Match {
  unsigned status = 404;   // 200 when matched; 404 no such path; 405 path known, method not
  RouteId id = RouteId::healthz;
  std::vector<std::string> params;  // percent-decoded path parameters, in order
  std::string allow;                // for 405: the methods the path has
};
Match match(std::string_view method, std::string_view target);

/// Percent-encoding of one path segment (RFC 3986 unreserved kept), and back;
/// decode fails on a bad escape or a decoded NUL.
std::string percent_encode(std::string_view s);
bool percent_decode(std::string_view s, std::string* out);

/// A refusal before the log: an HTTP status and a stable code (reasons.h).
struct Refusal {
  unsigned status = 400;
  std::string code;
  std::string message;
};
/// {"code": ..., "message": ...}
std::string refusal_json(const Refusal& r);
/// A JSON string literal (quotes included) of `s`; invalid UTF-8 bytes become U+FFFD.
std::string json_string(std::string_view s);

/// Intake of one POST /v1/requests body for `who` (R41, R22.1.3, R47):
///  - the JSON form must parse (unknown fields, wrong types, missing required
///    fields: 400 request.malformed_json); intake_us must be absent: the server
///    stamps every request with `now_us` (R28.4 then counts the server's times);
///  - a user certificate acts only as itself: actor absent or equal to its CN
///    (else 403), channel online (absent is taken as online), means the X.509
///    certificate (R22.1.3; absent is taken as it);
///  - a channel certificate may name any actor but not the treasury channel;
///  - a Treasury certificate may send anything.
/// On success the binary request is in `out` (owned) and true is returned.
bool intake(events::JsonCodec& codec, const Identity& who, std::string_view body, int64_t now_us,
            std::string* out, Refusal* refusal);

/// Whether `who` may read what a route names; for user certificates the
/// route-specific ownership checks happen where the data is (the engine thread).
bool may_query(const Identity& who, RouteId id);

/// Applies the header and body limits to a Beast request parser.
template <class Parser>
void limit_parser(Parser& p, const Limits& l) {
  p.header_limit(static_cast<std::uint32_t>(l.header_bytes_max));
  p.body_limit(l.body_bytes_max);
}

}  // namespace kase::adapters::http
