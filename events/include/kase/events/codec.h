// Request and decision codec: the binary FlatBuffers form is the log's; the
// JSON form comes from FlatBuffers' schema-driven parser and generator.
//
// Thread-safety: a JsonCodec holds a flatbuffers::Parser and is owned by one
// thread. verify_request() and HashChain are free of shared state.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "kase/events/kase_generated.h"

namespace flatbuffers {
class Parser;
}

namespace kase::events {

/// The schema text (events/schema/kase.fbs), compiled into the binary.
std::string_view schema_text() noexcept;

/// Largest request accepted anywhere (a named limit).
inline constexpr size_t kRequestBytesMax = 64 * 1024;

/// A FlatBuffers string as a view; empty when the field is absent.
inline std::string_view sv(const flatbuffers::String* s) noexcept {
  return s == nullptr ? std::string_view{} : std::string_view{s->data(), s->size()};
}

/// Runs the FlatBuffers verifier; returns the request or nullptr.
/// Every binary decode goes through here.
const fb::Request* verify_request(std::span<const uint8_t> bytes) noexcept;
const fb::LogRecord* verify_log_record(std::span<const uint8_t> bytes) noexcept;
/// The request of a record verify_log_record() passed (which verifies the
/// nested request too), or nullptr when it has none or one over
/// kRequestBytesMax: no second verification pass.
const fb::Request* nested_request(const fb::LogRecord& record) noexcept;

/// The fields of a decision, before they are serialised.
struct DecisionFields {
  std::string_view request_id;
  uint64_t offset = 0;
  bool accepted = true;
  std::string_view reason;
  std::string_view rule;
  int64_t amount_cents = -1;
  int64_t limit_cents = -1;
  int64_t day_total_cents = -1;
  std::string_view detail;
};

using Hash = std::array<uint8_t, 32>;
std::string to_hex(const Hash& h);
bool from_hex(std::string_view hex, Hash* out);

/// SHA-256 chain over decisions (R37): each link hashes the previous link,
/// the request bytes exactly as logged and the decision's fields.
Hash chain_next(const Hash& previous, std::span<const uint8_t> request, const DecisionFields& d);

/// Serialises a decision as a Decision table in `b`; `hash` is null for
/// answers that never reached the log.
flatbuffers::Offset<fb::Decision> build_decision(flatbuffers::FlatBufferBuilder& b,
                                                 const DecisionFields& d, const Hash* hash);

/// What request_from_json() made of its input.
enum class JsonStatus : uint8_t {
  ok,
  /// Not a request: bad JSON, unknown fields, wrong types, missing required
  /// fields, trailing input (`request.malformed_json`).
  malformed,
  /// R42: it names a schema version older than kSchemaVersionCurrent, which
  /// a new request may not (`request.schema_version_retired`).
  schema_version_retired,
  /// R41: an identity fact (IdentityFact) or the channel `engine`, which only
  /// kase itself writes, between Kafka partitions (`auth.engine_only`).
  engine_only,
};

class JsonCodec {
 public:
  JsonCodec();
  ~JsonCodec();
  JsonCodec(const JsonCodec&) = delete;
  JsonCodec& operator=(const JsonCodec&) = delete;

  /// The intake of a new request written as JSON (kase submit, kase produce,
  /// the HTTP API): parses it and verifies the result. A request without
  /// intake_us gets `stamp_us` (when > 0).
  ///
  /// R42: a new request is written in the current schema version. One that
  /// leaves `schema_version` out gets kSchemaVersionCurrent; one that names
  /// an older version is refused (JsonStatus::schema_version_retired), so a
  /// channel cannot choose the older rules (version 1 grants without an
  /// application). Newer versions pass, for the fold to refuse
  /// (`request.unsupported_schema_version`). Older requests are read from
  /// the log's binary form, never from here; tools that must write one build
  /// it with events::with_schema_version() (build.h).
  ///
  /// On JsonStatus::ok the binary request is in `out` (valid until the next
  /// call); otherwise `error` says what is wrong.
  [[nodiscard]] JsonStatus request_from_json(std::string_view json, int64_t stamp_us, std::span<const uint8_t>* out,
                                             std::string* error);

  /// One-line JSON of a request or a decision table.
  std::string request_to_json(const fb::Request& r);
  std::string decision_to_json(const fb::Decision& d);

 private:
  std::unique_ptr<flatbuffers::Parser> parser_;
  std::string text_;
  flatbuffers::FlatBufferBuilder stamped_{512};
};

}  // namespace kase::events
