#include "kase/events/codec.h"

#include <openssl/sha.h>

#include <array>
#include <cstring>
#include <memory>
#include <stdexcept>

#include "flatbuffers/idl.h"
#include "kase/events/build.h"

namespace kase::events {

const fb::Request* verify_request(std::span<const uint8_t> bytes) noexcept {
  if (bytes.empty() || bytes.size() > kRequestBytesMax) return nullptr;
  flatbuffers::Verifier v(bytes.data(), bytes.size(), /*max_depth=*/32, /*max_tables=*/4096);
  if (!fb::VerifyRequestBuffer(v)) return nullptr;
  return fb::GetRequest(bytes.data());
}

const fb::LogRecord* verify_log_record(std::span<const uint8_t> bytes) noexcept {
  if (bytes.empty()) return nullptr;
  flatbuffers::Verifier v(bytes.data(), bytes.size(), 64, 1u << 16);
  if (!v.VerifyBuffer<fb::LogRecord>(nullptr)) return nullptr;
  return flatbuffers::GetRoot<fb::LogRecord>(bytes.data());
}

const fb::Request* nested_request(const fb::LogRecord& record) noexcept {
  const auto* r = record.request();
  // The smallest buffer: a root offset and a vtable offset (FLATBUFFERS_MIN_BUFFER_SIZE).
  constexpr size_t kMinBuffer = sizeof(flatbuffers::uoffset_t) + sizeof(flatbuffers::soffset_t);
  if (r == nullptr || r->size() < kMinBuffer || r->size() > kRequestBytesMax) return nullptr;
  return flatbuffers::GetRoot<fb::Request>(r->data());
}

std::string to_hex(const Hash& h) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string s(64, '0');
  for (size_t i = 0; i < h.size(); ++i) {
    s[2 * i] = kDigits[h[i] >> 4];
    s[2 * i + 1] = kDigits[h[i] & 15];
  }
  return s;
}

namespace {
/// The value of each lower-case hex digit; 0x80 for every other byte.
constexpr std::array<uint8_t, 256> kNibble = [] {
  std::array<uint8_t, 256> t{};
  t.fill(0x80);
  for (int c = '0'; c <= '9'; ++c) t[c] = static_cast<uint8_t>(c - '0');
  for (int c = 'a'; c <= 'f'; ++c) t[c] = static_cast<uint8_t>(c - 'a' + 10);
  return t;
}();
}  // namespace

bool from_hex(std::string_view hex, Hash* out) {
  if (hex.size() != 64) return false;
  // Without a branch per digit: audit verify decodes a stored hash per log
  // record, and a digit-or-letter branch mispredicts half the time.
  uint8_t bad = 0;
  for (size_t i = 0; i < 32; ++i) {
    const uint8_t hi = kNibble[static_cast<uint8_t>(hex[2 * i])];
    const uint8_t lo = kNibble[static_cast<uint8_t>(hex[2 * i + 1])];
    bad |= hi | lo;
    (*out)[i] = static_cast<uint8_t>(hi << 4 | (lo & 15));
  }
  return (bad & 0x80) == 0;
}

namespace {
/// Appends the chain's message field by field: little-endian u64s, and
/// strings as their length then their bytes.
struct Message {
  uint8_t* p;
  void u64(uint64_t v) {
    for (int i = 0; i < 8; ++i) *p++ = static_cast<uint8_t>(v >> (8 * i));
  }
  void bytes(const void* data, size_t n) {
    if (n != 0) std::memcpy(p, data, n);
    p += n;
  }
  void str(std::string_view s) {
    u64(s.size());
    bytes(s.data(), s.size());
  }
};
}  // namespace

Hash chain_next(const Hash& previous, std::span<const uint8_t> request, const DecisionFields& d) {
  // The message (R37): the previous hash, the request bytes, then the
  // decision's fields. Built in one buffer and hashed in one call: one
  // SHA256_Update per field cost more than the hashing on short records.
  const size_t n = previous.size() + 8 + request.size() + 8 + d.request_id.size() + 8 + 8 + 8 + d.reason.size() +
                   8 + d.rule.size() + 8 * 3 + 8 + d.detail.size();
  constexpr size_t kOnStack = 2048;
  uint8_t stack[kOnStack];
  std::unique_ptr<uint8_t[]> heap;
  uint8_t* buf = stack;
  if (n > kOnStack) {
    heap = std::make_unique<uint8_t[]>(n);
    buf = heap.get();
  }
  Message m{buf};
  m.bytes(previous.data(), previous.size());
  m.u64(request.size());
  m.bytes(request.data(), request.size());
  m.str(d.request_id);
  m.u64(d.offset);
  m.u64(d.accepted ? 0 : 1);
  m.str(d.reason);
  m.str(d.rule);
  m.u64(static_cast<uint64_t>(d.amount_cents));
  m.u64(static_cast<uint64_t>(d.limit_cents));
  m.u64(static_cast<uint64_t>(d.day_total_cents));
  m.str(d.detail);
  // Not the one-shot SHA256(): OpenSSL 3 looks the digest up in its
  // providers on every such call, which costs more than the hashing.
  SHA256_CTX c;
  SHA256_Init(&c);
  SHA256_Update(&c, buf, static_cast<size_t>(m.p - buf));
  Hash out;
  SHA256_Final(out.data(), &c);
  return out;
}

flatbuffers::Offset<fb::Decision> build_decision(flatbuffers::FlatBufferBuilder& b,
                                                 const DecisionFields& d, const Hash* hash) {
  const auto id = b.CreateString(d.request_id.data(), d.request_id.size());
  const auto reason = b.CreateString(d.reason.data(), d.reason.size());
  const auto rule = b.CreateString(d.rule.data(), d.rule.size());
  const auto detail = d.detail.empty() ? flatbuffers::Offset<flatbuffers::String>()
                                       : b.CreateString(d.detail.data(), d.detail.size());
  flatbuffers::Offset<flatbuffers::String> h;
  if (hash != nullptr) {
    static constexpr char kDigits[] = "0123456789abcdef";
    char hex[64];
    for (size_t i = 0; i < hash->size(); ++i) {
      hex[2 * i] = kDigits[(*hash)[i] >> 4];
      hex[2 * i + 1] = kDigits[(*hash)[i] & 15];
    }
    h = b.CreateString(hex, sizeof hex);
  }
  b.ForceDefaults(true);  // offset 0 and every outcome are always written
  fb::DecisionBuilder db(b);
  db.add_request_id(id);
  db.add_offset(d.offset);
  db.add_outcome(d.accepted ? fb::Outcome::accepted : fb::Outcome::rejected);
  db.add_reason(reason);
  db.add_rule(rule);
  b.ForceDefaults(false);
  db.add_amount_cents(d.amount_cents);  // -1 (not applicable) is the default: left out
  db.add_limit_cents(d.limit_cents);
  db.add_day_total_cents(d.day_total_cents);
  if (!d.detail.empty()) db.add_detail(detail);
  if (hash != nullptr) db.add_hash(h);
  return db.Finish();
}

JsonCodec::JsonCodec() {
  flatbuffers::IDLOptions opts;
  opts.strict_json = true;
  opts.natural_utf8 = true;
  opts.indent_step = -1;
  // Print what is present: decisions write their always-shown fields
  // explicitly (ForceDefaults) and leave out numbers that do not apply.
  parser_ = std::make_unique<flatbuffers::Parser>(opts);
  std::string schema(schema_text());
  // R42: the intake must tell a request that leaves schema_version out from
  // one that states 1, the schema's default, which the parser would not
  // store. Here alone the field is an optional scalar: whatever the JSON
  // states is stored and what it leaves out stays absent. The binary layout
  // is the same (an absent field reads as 1 with the real schema).
  constexpr std::string_view kVersionField = "schema_version: ushort = 1;";
  const size_t at = schema.find(kVersionField);
  if (at == std::string::npos || schema.find(kVersionField, at + 1) != std::string::npos)
    throw std::logic_error("kase schema: expected one field \"schema_version: ushort = 1;\"");
  schema.replace(at, kVersionField.size(), "schema_version: ushort = null;");
  if (!parser_->Parse(schema.c_str())) {
    throw std::logic_error("kase schema does not parse: " + parser_->error_);
  }
}

JsonCodec::~JsonCodec() = default;

JsonStatus JsonCodec::request_from_json(std::string_view json, int64_t stamp_us, std::span<const uint8_t>* out,
                                        std::string* error) {
  if (json.size() > kRequestBytesMax) {
    *error = "request larger than " + std::to_string(kRequestBytesMax) + " bytes";
    return JsonStatus::malformed;
  }
  text_.assign(json);  // Parse needs a NUL-terminated string
  if (text_.find('\0') != std::string::npos) {
    *error = "NUL byte in JSON";
    return JsonStatus::malformed;
  }
  // ParseJson, unlike Parse, never reads schema declarations from the input.
  if (!parser_->ParseJson(text_.c_str())) {
    *error = parser_->error_;
    return JsonStatus::malformed;
  }
  std::span<const uint8_t> bytes(parser_->builder_.GetBufferPointer(), parser_->builder_.GetSize());
  const fb::Request* req = verify_request(bytes);
  if (req == nullptr) {
    *error = "request does not verify (missing required field or too large)";
    return JsonStatus::malformed;
  }
  if (req->payload_type() != fb::Payload::NONE && req->payload() == nullptr) {
    // A union type without its value verifies, but means nothing (and the
    // object API cannot re-pack it).
    *error = "payload_type given without payload";
    return JsonStatus::malformed;
  }
  if (is_engine_fact(req->payload_type()) || req->channel() == fb::Channel::engine) {
    *error = "identity and directory facts (payloads IdentityFact, DirectoryFact; channel engine) are written by "
             "kase itself between Kafka partitions; no channel may send one (R41)";
    return JsonStatus::engine_only;
  }
  if (is_engine_fact_id(req->request_id()->string_view())) {
    *error = "request ids containing /identity/ or /directory/ are kase's own, for its facts between Kafka "
             "partitions (R41): choose another request_id";
    return JsonStatus::engine_only;
  }
  // R42: present only when the JSON stated it (see the constructor).
  const bool versioned = flatbuffers::IsFieldPresent(req, fb::Request::VT_SCHEMA_VERSION);
  if (versioned && req->schema_version() < kSchemaVersionCurrent) {
    *error = "schema_version " + std::to_string(req->schema_version()) + " is older than the current version " +
             std::to_string(kSchemaVersionCurrent) + ": a new request is written in version " +
             std::to_string(kSchemaVersionCurrent) + " (leave schema_version out, or state " +
             std::to_string(kSchemaVersionCurrent) + "); older versions are only read from old logs (R42)";
    return JsonStatus::schema_version_retired;
  }
  const bool stamp = req->intake_us() == 0 && stamp_us > 0;
  if (!versioned || stamp) {
    // Intake sets the version and the time stamp once; rebuild with them.
    std::unique_ptr<fb::RequestT> obj(req->UnPack());
    if (!versioned) obj->schema_version = kSchemaVersionCurrent;
    if (stamp) obj->intake_us = stamp_us;
    stamped_.Clear();
    stamped_.Finish(fb::Request::Pack(stamped_, obj.get()));
    bytes = {stamped_.GetBufferPointer(), stamped_.GetSize()};
  }
  *out = bytes;
  return JsonStatus::ok;
}

std::string JsonCodec::request_to_json(const fb::Request& r) {
  std::string text;
  if (!flatbuffers::GenerateTextFromTable(*parser_, &r, "kase.fb.Request", &text)) return "{}";
  return text;
}

std::string JsonCodec::decision_to_json(const fb::Decision& d) {
  std::string text;
  if (!flatbuffers::GenerateTextFromTable(*parser_, &d, "kase.fb.Decision", &text)) return "{}";
  return text;
}

}  // namespace kase::events
