// Envelope codec: the JSON form from FlatBuffers' parser, the verifier on
// every binary decode, and old logs staying readable (R42).
#include <openssl/sha.h>

#include <fstream>
#include <random>

#include "harness.h"

namespace kase::testing {
namespace {

constexpr const char* kGood =
    R"({"request_id":"r1","client_id":"C1","actor":"u1","channel":"portal","intake_us":5,)"
    R"("payload_type":"PaymentOrderSign","payload":{"order":"po1"}})";

TEST(JsonCodec, ParsesTheSchemaDrivenJsonForm) {
  events::JsonCodec c;
  std::span<const uint8_t> bin;
  std::string err;
  ASSERT_EQ(c.request_from_json(kGood, 0, &bin, &err), events::JsonStatus::ok) << err;
  const fb::Request* r = events::verify_request(bin);
  ASSERT_NE(r, nullptr);
  EXPECT_EQ(r->request_id()->str(), "r1");
  EXPECT_EQ(r->intake_us(), 5);
  EXPECT_EQ(r->payload_type(), fb::Payload::PaymentOrderSign);
  EXPECT_EQ(r->payload_as_PaymentOrderSign()->order()->str(), "po1");
  // And back: the generator prints what the parser reads.
  const std::string json = c.request_to_json(*r);
  std::span<const uint8_t> again;
  ASSERT_EQ(c.request_from_json(json, 0, &again, &err), events::JsonStatus::ok) << err << " in " << json;
  EXPECT_EQ(c.request_to_json(*events::verify_request(again)), json);
}

TEST(JsonCodec, StampsIntakeTimeOnlyWhenAbsent) {
  events::JsonCodec c;
  std::span<const uint8_t> bin;
  std::string err;
  ASSERT_EQ(c.request_from_json(
                R"({"request_id":"r","client_id":"C","actor":"u","payload_type":"PaymentOrderSign","payload":{"order":"o"}})",
                777, &bin, &err),
            events::JsonStatus::ok);
  EXPECT_EQ(events::verify_request(bin)->intake_us(), 777);
  ASSERT_EQ(c.request_from_json(kGood, 777, &bin, &err), events::JsonStatus::ok);
  EXPECT_EQ(events::verify_request(bin)->intake_us(), 5);
}

TEST(JsonCodec, RejectsBadInputWithAMessage) {
  events::JsonCodec c;
  std::span<const uint8_t> bin;
  const std::pair<const char*, const char*> cases[] = {
      {"not json", "expecting: {"},
      {R"({"request_id":"r","client_id":"C","bogus":1})", "unknown field: bogus"},
      {R"({"request_id":"r","client_id":"C","intake_us":"soon"})", "enum values need to be qualified"},
      {R"({"client_id":"C"})", "required field is missing: request_id"},
      {R"({"request_id":"r","client_id":"C","payload_type":"Nope","payload":{}})", "Nope"},
      {R"({"request_id":"r","client_id":"C","channel":"carrier_pigeon"})", "carrier_pigeon"},
      {R"({"request_id":"r","client_id":"C"} table Evil { x:int; })", "error"},
      {R"({"request_id":"r","client_id":"C")", "error"},
      {"", "error"},
      // Found by the fuzzer: a union type with no value.
      {R"({"request_id":"x","client_id":"C1","payload_type":"PaymentOrderImport"})", "without payload"},
  };
  for (const auto& [json, needle] : cases) {
    std::string err;
    EXPECT_EQ(c.request_from_json(json, 0, &bin, &err), events::JsonStatus::malformed) << json;
    EXPECT_NE(err.find(needle), std::string::npos) << json << " gave: " << err;
  }
  // The codec still works after errors, and schema text in input never changed the schema.
  std::string err;
  EXPECT_EQ(c.request_from_json(kGood, 0, &bin, &err), events::JsonStatus::ok) << err;
  EXPECT_EQ(c.request_from_json(R"({"request_id":"r","client_id":"C","payload_type":"Evil","payload":{"x":1}})", 0,
                                &bin, &err),
            events::JsonStatus::malformed);
}

TEST(JsonCodec, RejectsOversizeInput) {
  events::JsonCodec c;
  std::span<const uint8_t> bin;
  std::string err;
  const std::string big = std::string(R"({"request_id":")") + std::string(events::kRequestBytesMax, 'x') + "\"}";
  EXPECT_EQ(c.request_from_json(big, 0, &bin, &err), events::JsonStatus::malformed);
  EXPECT_NE(err.find("larger than"), std::string::npos);
}

TEST(Verifier, GarbageAndTruncatedBytesNeverDecode) {
  Harness h;
  const std::string good = events::po_prepare(h.as("u"), "po1", "A1", 100);
  ASSERT_NE(events::verify_request(events::bytes_of(good)), nullptr);
  for (size_t n = 0; n < good.size(); ++n) {
    const std::string cut = good.substr(0, n);
    const fb::Request* r = events::verify_request(events::bytes_of(cut));
    if (r != nullptr) (void)h.engine.apply(*r);  // if it verifies, the engine must cope
  }
  std::mt19937_64 rng(42);
  for (int i = 0; i < 20000; ++i) {
    std::string mutated = good;
    mutated[rng() % mutated.size()] = static_cast<char>(rng());
    const fb::Request* r = events::verify_request(events::bytes_of(mutated));
    if (r != nullptr) (void)h.engine.apply(*r);
  }
  EXPECT_EQ(events::verify_request({}), nullptr);
}

/// The requests of tests/fixtures/log_v0.bin, a log written with the older
/// schema v0 (tests/fixtures/kase_v0.fbs): per request a 4-byte little-endian
/// length, then the bytes.
std::vector<std::string> log_v0_requests() {
  std::ifstream in(std::string(KASE_FIXTURES) + "/log_v0.bin", std::ios::binary);
  EXPECT_TRUE(in.good());
  std::vector<std::string> requests;
  while (true) {
    uint8_t len_bytes[4];
    if (!in.read(reinterpret_cast<char*>(len_bytes), 4)) break;
    const uint32_t len = len_bytes[0] | len_bytes[1] << 8 | len_bytes[2] << 16 | static_cast<uint32_t>(len_bytes[3]) << 24;
    std::string r(len, '\0');
    EXPECT_TRUE(in.read(r.data(), len));
    requests.push_back(std::move(r));
  }
  return requests;
}

// R42: a log written with the older schema v0 (tests/fixtures/kase_v0.fbs)
// still verifies, decides and prints with today's code.
TEST(SchemaVersions, R42_OldSchemaLogStaysReadable) {
  const std::vector<std::string> requests = log_v0_requests();
  ASSERT_EQ(requests.size(), 8u);
  engine::Engine e;
  events::JsonCodec c;
  std::vector<std::string> outcomes;
  for (const auto& r : requests) {
    const fb::Request* req = events::verify_request(events::bytes_of(r));
    ASSERT_NE(req, nullptr);
    EXPECT_EQ(req->schema_version(), 1);
    EXPECT_NE(c.request_to_json(*req), "{}");
    const engine::Verdict v = e.apply(*req);
    outcomes.push_back(std::string(v.accepted ? "+" : "-") + v.reason);
  }
  const std::vector<std::string> expected = {"+ok", "+ok", "+ok", "+ok", "+ok", "+ok", "+ok",
                                             "-limit.daily_exceeded"};
  EXPECT_EQ(outcomes, expected);
  // Replayed again in a fresh engine, as `kase replay` does: the same decisions,
  // rules and numbers on every replay of the old bytes (R42).
  auto decide_all = [&] {
    engine::Engine fresh;
    std::vector<std::string> out;
    for (const auto& r : requests) {
      const engine::Verdict v = fresh.apply(*events::verify_request(events::bytes_of(r)));
      out.push_back(std::string(v.accepted ? "+" : "-") + v.reason + "/" + v.rule + "/" + std::to_string(v.amount) +
                    "/" + std::to_string(v.limit) + "/" + std::to_string(v.day_total));
    }
    return out;
  };
  const std::vector<std::string> first = decide_all();
  EXPECT_EQ(first, decide_all());
  const std::vector<std::string> decided = {"+ok/R13/-1/-1/-1",
                                            "+ok/R8.6/-1/-1/-1",
                                            "+ok/R4/-1/-1/-1",
                                            "+ok/R8.8/-1/-1/-1",
                                            "+ok/R8.6/90000/150000/0",
                                            "+ok/R8.6/90000/150000/90000",
                                            "+ok/R8.8/90000/900000/0",
                                            "-limit.daily_exceeded/R9/90000/150000/90000"};
  EXPECT_EQ(first, decided);
  EXPECT_EQ(e.state().orders.at(std::string("C1") + engine::kKeySep + "po1").status, engine::OrderStatus::submitted);
}

/// The old log's requests decided under the current rules: grants without
/// an application are refused (R7), and so is everything that needed them.
const std::vector<std::string> kOldLogUnderCurrentRules = {
    "+ok/R13",           "-grant.application_missing/R7", "+ok/R4",           "-grant.application_missing/R7",
    "-rights.none/R8",   "-order.unknown/R8",             "-order.unknown/R8", "-rights.none/R8"};
/// A verdict as "+reason/rule" or "-reason/rule".
std::string outcome(const engine::Verdict& v) { return std::string(v.accepted ? "+" : "-") + v.reason + "/" + v.rule; }

// R42, R7: the envelope's version is the gate. The old log's grants name no
// application and stand (above); the same requests written as the current
// version are refused, and so is everything that needed the rights.
TEST(SchemaVersions, R42_R7_OldLogDecidesAsBeforeOnlyUnderItsOwnVersion) {
  static_assert(events::kSchemaVersionCurrent == engine::kSchemaVersionMax);
  static_assert(engine::kSchemaVersionGrantsUnderApplications == engine::kSchemaVersionMax);
  engine::Engine e;
  std::vector<std::string> outcomes;
  for (const std::string& old : log_v0_requests()) {
    const std::string now = events::with_schema_version(old, events::kSchemaVersionCurrent);
    const fb::Request* req = events::verify_request(events::bytes_of(now));
    ASSERT_NE(req, nullptr);
    EXPECT_EQ(req->schema_version(), events::kSchemaVersionCurrent);
    outcomes.push_back(outcome(e.apply(*req)));
  }
  EXPECT_EQ(outcomes, kOldLogUnderCurrentRules);
}

// R42, R7: the same old requests in their JSON form (log_v0.jsonl: no
// schema_version) entered as *new* requests are written in the current
// version, so they are decided as the rewritten log above, not as the old log.
TEST(SchemaVersions, R42_R7_OldLogsJsonEnteredAnewIsDecidedByTheCurrentRules) {
  std::ifstream in(std::string(KASE_FIXTURES) + "/log_v0.jsonl");
  ASSERT_TRUE(in.good());
  events::JsonCodec c;
  engine::Engine e;
  std::vector<std::string> outcomes;
  std::string line;
  while (std::getline(in, line)) {
    std::span<const uint8_t> bin;
    std::string err;
    ASSERT_EQ(c.request_from_json(line, 0, &bin, &err), events::JsonStatus::ok) << err;
    outcomes.push_back(outcome(e.apply(*events::verify_request(bin))));
  }
  EXPECT_EQ(outcomes, kOldLogUnderCurrentRules);
}

TEST(Envelope, TimeStampsBeyondYear9999AreRefused) {
  // Found by the fuzzer: calendar arithmetic overflowed near INT64_MAX.
  Harness h;
  h.now = INT64_MAX - 1;
  const engine::Verdict v = h.prepare("u", "po", "A1", 1);
  EXPECT_FALSE(v.accepted);
  EXPECT_STREQ(v.reason, reason::kValueInvalid);
}

TEST(SchemaVersions, R42_UnknownFutureVersionIsRejectedNotMisread) {
  events::JsonCodec c;
  std::span<const uint8_t> bin;
  std::string err;
  ASSERT_EQ(
      c.request_from_json(
          R"({"request_id":"r","client_id":"C","actor":"u","intake_us":1,"schema_version":9,"payload_type":"PaymentOrderSign","payload":{"order":"o"}})",
          0, &bin, &err),
      events::JsonStatus::ok);
  engine::Engine e;
  const engine::Verdict v = e.apply(*events::verify_request(bin));
  EXPECT_FALSE(v.accepted);
  EXPECT_STREQ(v.reason, reason::kUnsupportedSchema);
}

// R42, R7: a new JSON request that leaves schema_version out is written in the
// current version, so the current rules decide it: a grant naming no
// application is refused. Before, it read as version 1 and the grant stood.
TEST(SchemaVersions, R42_R7_JsonWithoutVersionIsDecidedByTheCurrentRules) {
  Harness h;
  ASSERT_TRUE(h.open_account("A1").accepted);
  events::JsonCodec c;
  std::span<const uint8_t> bin;
  std::string err;
  ASSERT_EQ(c.request_from_json(
                R"({"request_id":"g","client_id":"C1","actor":"op","channel":"treasury","intake_us":1796025600000000,)"
                R"("payload_type":"RightsGranted","payload":{"user":"u1","account":"A1","mode":"view_all"}})",
                0, &bin, &err),
            events::JsonStatus::ok)
      << err;
  const fb::Request* req = events::verify_request(bin);
  ASSERT_NE(req, nullptr);
  EXPECT_EQ(req->schema_version(), events::kSchemaVersionCurrent);
  EXPECT_NE(c.request_to_json(*req).find(R"("schema_version": 2)"), std::string::npos) << c.request_to_json(*req);
  EXPECT_REJECTED(h.engine.apply(*req), reason::kGrantApplicationMissing, "R7");
  // Stamping the intake time keeps the version given.
  ASSERT_EQ(c.request_from_json(
                R"({"request_id":"g2","client_id":"C1","actor":"op","channel":"treasury",)"
                R"("payload_type":"RightsGranted","payload":{"user":"u1","account":"A1","mode":"view_all"}})",
                1796025600000000, &bin, &err),
            events::JsonStatus::ok)
      << err;
  EXPECT_EQ(events::verify_request(bin)->schema_version(), events::kSchemaVersionCurrent);
  EXPECT_EQ(events::verify_request(bin)->intake_us(), 1796025600000000);
}

// R42: a new request cannot choose an older version's rules by naming it:
// the intake refuses it with request.schema_version_retired (it never reaches
// the log). The current version and newer ones pass (the fold refuses
// versions it does not know, above).
TEST(SchemaVersions, R42_NewJsonRequestNamingAnOlderVersionIsRefused) {
  events::JsonCodec c;
  std::span<const uint8_t> bin;
  auto with_version = [](const std::string& version) {
    return R"({"request_id":"g","client_id":"C1","actor":"op","channel":"treasury","intake_us":1796025600000000,)"
           R"("schema_version":)" +
           version + R"(,"payload_type":"RightsGranted","payload":{"user":"u1","account":"A1","mode":"view_all"}})";
  };
  for (const char* older : {"1", "0"}) {
    std::string err;
    EXPECT_EQ(c.request_from_json(with_version(older), 0, &bin, &err), events::JsonStatus::schema_version_retired)
        << older;
    EXPECT_NE(err.find("older than the current version 2"), std::string::npos) << err;
  }
  // The key spelled with an escape is the same key.
  std::string err;
  std::string escaped = with_version("1");
  escaped.replace(escaped.find("schema_version"), 14, "schema\\u005fversion");
  EXPECT_NE(c.request_from_json(escaped, 0, &bin, &err), events::JsonStatus::ok) << escaped;
  for (const char* ok : {"2", "3"}) {
    ASSERT_EQ(c.request_from_json(with_version(ok), 0, &bin, &err), events::JsonStatus::ok) << err;
    EXPECT_EQ(events::verify_request(bin)->schema_version(), std::stoi(ok));
  }
  // The fold itself still decides version 1 as before (old logs, R42): the
  // gate is at intake, and the binary writer of older versions stays.
  Harness h;
  ASSERT_TRUE(h.open_account("A1").accepted);
  EXPECT_ACCEPTED(h.apply(
      events::with_schema_version(events::rights_granted(h.treasury(), "u1", "A1", AccessMode::view_all, 0, 0), 1)));
}

TEST(HashChain, R37_EveryFieldOfTheDecisionAndRequestIsBound) {
  Harness h;
  const std::string req = events::po_prepare(h.as("u"), "po1", "A1", 100);
  events::DecisionFields d;
  d.request_id = "t-1";
  d.offset = 7;
  d.reason = "ok";
  d.rule = "R9";
  d.amount_cents = 100;
  const events::Hash prev{};
  const events::Hash base = events::chain_next(prev, events::bytes_of(req), d);
  EXPECT_EQ(base, events::chain_next(prev, events::bytes_of(req), d));
  auto differs = [&](events::DecisionFields x, std::string r = {}, events::Hash p = {}) {
    const std::string& bytes = r.empty() ? req : r;
    return events::chain_next(p, events::bytes_of(bytes), x) != base;
  };
  events::DecisionFields x = d;
  x.offset = 8;
  EXPECT_TRUE(differs(x));
  x = d;
  x.accepted = false;
  EXPECT_TRUE(differs(x));
  x = d;
  x.reason = "limit.daily_exceeded";
  EXPECT_TRUE(differs(x));
  x = d;
  x.amount_cents = 101;
  EXPECT_TRUE(differs(x));
  std::string other = req;
  other[other.size() / 2] ^= 1;
  EXPECT_TRUE(differs(d, other));
  events::Hash p{};
  p[0] = 1;
  EXPECT_TRUE(differs(d, {}, p));
  events::Hash back;
  ASSERT_TRUE(events::from_hex(events::to_hex(base), &back));
  EXPECT_EQ(back, base);
}

TEST(Codec, FromHexTakesOnlySixtyFourLowerCaseDigits) {
  events::Hash h;
  const std::string good = "00112233445566778899aabbccddeeff0123456789abcdef0f1e2d3c4b5a6978";
  ASSERT_TRUE(events::from_hex(good, &h));
  EXPECT_EQ(h[0], 0x00);
  EXPECT_EQ(h[5], 0x55);
  EXPECT_EQ(h[10], 0xaa);
  EXPECT_EQ(h[15], 0xff);
  EXPECT_EQ(h[31], 0x78);
  EXPECT_EQ(events::to_hex(h), good);
  EXPECT_FALSE(events::from_hex(good.substr(0, 63), &h));
  EXPECT_FALSE(events::from_hex(good + "0", &h));
  for (const int c : std::initializer_list<int>{'A', 'B', 'C', 'D', 'E', 'F', 'G', 'g', 'x', ' ', '/', ':', '@', '`', 0, 0x80, 0xff}) {
    for (const size_t at : {size_t{0}, size_t{31}, size_t{63}}) {
      std::string bad = good;
      bad[at] = static_cast<char>(c);
      EXPECT_FALSE(events::from_hex(bad, &h)) << "byte " << c << " at " << at;
    }
  }
}

/// The chain's message as events/README.md defines it, hashed field by field:
/// how every log so far was chained. chain_next() must never change it.
events::Hash chain_by_fields(const events::Hash& prev, const std::string& request, const events::DecisionFields& d) {
  SHA256_CTX c;
  SHA256_Init(&c);
  auto u64 = [&](uint64_t v) {
    uint8_t b[8];
    for (int i = 0; i < 8; ++i) b[i] = static_cast<uint8_t>(v >> (8 * i));
    SHA256_Update(&c, b, sizeof b);
  };
  auto str = [&](std::string_view s) {
    u64(s.size());
    SHA256_Update(&c, s.data(), s.size());
  };
  SHA256_Update(&c, prev.data(), prev.size());
  str(request);
  str(d.request_id);
  u64(d.offset);
  u64(d.accepted ? 0 : 1);
  str(d.reason);
  str(d.rule);
  u64(static_cast<uint64_t>(d.amount_cents));
  u64(static_cast<uint64_t>(d.limit_cents));
  u64(static_cast<uint64_t>(d.day_total_cents));
  str(d.detail);
  events::Hash out;
  SHA256_Final(out.data(), &c);
  return out;
}

TEST(HashChain, R37_TheChainedMessageNeverChanges) {
  Harness h;
  events::Hash prev{};
  prev[3] = 7;
  events::DecisionFields d;
  d.request_id = "t-1";
  d.offset = 12345;
  d.accepted = false;
  d.reason = "limit.daily_exceeded";
  d.rule = "R9";
  d.amount_cents = 120'000;
  d.limit_cents = 4'900'000;
  d.day_total_cents = 4'800'000;
  // A short request, and one larger than chain_next's stack buffer.
  for (const std::string& req : {events::po_prepare(h.as("u"), "po1", "A1", 100),
                                 events::po_prepare(h.as("u"), "po2", "A1", 100, std::string(5000, 'b'))}) {
    EXPECT_EQ(events::to_hex(events::chain_next(prev, events::bytes_of(req), d)), events::to_hex(chain_by_fields(prev, req, d)));
    d.detail = "a parser message";
    EXPECT_EQ(events::chain_next(prev, events::bytes_of(req), d), chain_by_fields(prev, req, d));
    d.detail = {};
  }
}

}  // namespace
}  // namespace kase::testing
