// Identity facts between partitions (DESIGN.md, "partition self-sufficiency"):
// a person's means, blocks and restorations are decided in the person's
// identity partition and delivered to every partition where the person is
// known. Three real Ledgers stand for three partitions of kase.requests; the
// test routes requests as the Kafka producer does (engine::identity_subject,
// engine::identity_partition) and delivers each answer's facts to their
// partition, as the Kafka node does in the decision's transaction
// (tests/kafka_test.sh, scenario identity, does the same on a real broker).
#include <deque>

#include "harness.h"
#include "kase/adapters/ledger.h"

namespace kase::testing {
namespace {

using adapters::Answer;
using adapters::Ledger;
using fb::BlockCause;
using fb::Means;

/// What a partition answered.
struct Said {
  bool accepted = false;
  std::string reason;
  std::string rule;
};

class Partitions : public ::testing::Test {
 protected:
  static constexpr int32_t kN = 3;
  static constexpr int32_t kIdentity = 2;  // the person's identity partition

  void SetUp() override {
    for (int32_t p = 0; p < kN; ++p) {
      stores_.push_back(projections::make_memory_store());
      std::unique_ptr<Ledger> l;
      ASSERT_TRUE(Ledger::open(stores_.back().get(), &l).ok());
      l->set_topology({p, kN});
      ledgers_.push_back(std::move(l));
    }
    // A person whose identity partition is neither client's: C1 is in
    // partition 0 and C2 in partition 1 (as the client-id key would place them).
    for (int i = 0; person_.empty(); ++i) {
      const std::string name = "u" + std::to_string(i);
      if (engine::identity_partition(name, kN) == kIdentity) person_ = name;
    }
    c1_.client = "C1";
    c1_.also = [this](const std::string& b) { send(b, 0); };
    c2_.client = "C2";
    c2_.also = [this](const std::string& b) { send(b, 1); };
  }

  /// Produces `bytes` as the Kafka producer would: Treasury-wide settings to
  /// every partition, identity requests to their person's identity partition,
  /// the rest to the client's; then delivers facts until none are left.
  void send(const std::string& bytes, int32_t client_partition) {
    const fb::Request* r = events::verify_request(events::bytes_of(bytes));
    ASSERT_NE(r, nullptr);
    const fb::Payload t = r->payload_type();
    if (t == fb::Payload::CalendarOverride || t == fb::Payload::ServiceHoursNotice ||
        t == fb::Payload::ServiceSuspension || t == fb::Payload::IdentityPolicy) {
      for (int32_t p = 0; p < kN; ++p) deliver(p, bytes, true);
    } else {
      const std::string_view subject = engine::identity_subject(*r);
      deliver(subject.empty() ? client_partition : engine::identity_partition(subject, kN), bytes, true);
    }
    while (!facts_.empty()) {
      const Answer::Fact f = std::move(facts_.front());
      facts_.pop_front();
      deliver(f.partition, f.request, false);
    }
  }
  void deliver(int32_t p, const std::string& bytes, bool said) {
    ASSERT_GE(p, 0);
    ASSERT_LT(p, kN);
    const std::span<const uint8_t> one[] = {events::bytes_of(bytes)};
    std::vector<Answer> answers;
    ASSERT_TRUE(ledgers_[p]->submit(one, &answers).ok());
    ASSERT_EQ(answers.size(), 1u);
    const fb::Decision* d = answers[0].decision();
    if (said) {
      last_ = {d->outcome() == fb::Outcome::accepted, std::string(d->reason()->string_view()),
               std::string(d->rule()->string_view())};
      last_partition_ = p;
    } else {
      // Facts are always taken: the fold decides them, it does not judge them.
      EXPECT_EQ(d->outcome(), fb::Outcome::accepted) << d->reason()->str();
      const fb::Request* f = events::verify_request(events::bytes_of(bytes));
      if (f->payload_as_IdentityFact()->person()->string_view() == person_) ++facts_delivered_;
    }
    for (auto& f : answers[0].facts) facts_.push_back(std::move(f));
  }

  const engine::Person* person_in(int32_t p) const {
    const engine::State& s = ledgers_[p]->state();
    const auto* e = s.persons.find(s.names.find(person_));
    return e == nullptr ? nullptr : &e->second;
  }
  /// The person's block as partition p knows it.
  BlockCause block_in(int32_t p) const {
    const engine::Person* x = person_in(p);
    return x == nullptr ? BlockCause::none : x->block;
  }

  /// C1 and C2 each grant the person signature-2 rights on their own account.
  void grant_in_both() {
    ASSERT_TRUE(c1_.open_account("A1").accepted);
    ASSERT_TRUE(c1_.grant(person_, "A1", AccessMode::signature_2).accepted);
    ASSERT_TRUE(last_.accepted) << last_.reason;
    ASSERT_TRUE(c2_.open_account("A2").accepted);
    ASSERT_TRUE(c2_.grant(person_, "A2", AccessMode::signature_2).accepted);
    ASSERT_TRUE(last_.accepted) << last_.reason;
  }
  Said login(bool ok) {
    (void)c1_.apply(events::login_attempt(c1_.as(person_), Means::unified_login, ok));
    EXPECT_EQ(last_partition_, kIdentity) << "a login is decided in the identity partition";
    return last_;
  }
  Said prepare(Harness& h, const std::string& order, const std::string& account, Means means = Means::unknown) {
    std::string b = events::po_prepare(h.as(person_), order, account, 100, "supplier");
    if (means != Means::unknown) b = events::with_means(b, means);
    (void)h.apply(b);
    return last_;
  }

  std::vector<std::unique_ptr<projections::Store>> stores_;
  std::vector<std::unique_ptr<Ledger>> ledgers_;
  std::deque<Answer::Fact> facts_;
  std::string person_;
  Harness c1_, c2_;
  Said last_;
  int32_t last_partition_ = -1;
  int facts_delivered_ = 0;
};

#define EXPECT_SAID(said, code, rule_id)                 \
  do {                                                   \
    const Said s_ = (said);                              \
    EXPECT_EQ(s_.reason, std::string(code)) << s_.rule;  \
    EXPECT_EQ(s_.rule, std::string(rule_id));            \
  } while (0)

TEST_F(Partitions, R25_TheIdentityPartitionLearnsWhereThePersonIsKnown) {
  EXPECT_SAID(login(true), reason::kUnknownPerson, "R25");  // known nowhere yet
  grant_in_both();
  const engine::Person* home = person_in(kIdentity);
  ASSERT_NE(home, nullptr);
  EXPECT_EQ(home->homes, (std::vector<int32_t>{0, 1}));
  EXPECT_SAID(login(true), reason::kOk, "R25");
  EXPECT_EQ(facts_delivered_, 2);  // about the person: one "home" from each client partition
}

TEST_F(Partitions, R28_1_ABlockDecidedInTheIdentityPartitionHoldsInEveryClientPartition) {
  grant_in_both();
  facts_delivered_ = 0;
  EXPECT_SAID(login(false), reason::kLoginFailed, "R28.1");
  EXPECT_SAID(login(false), reason::kLoginFailed, "R28.1");
  EXPECT_EQ(block_in(0), BlockCause::none);
  EXPECT_SAID(login(false), reason::kBlockedWrongCredentials, "R28.1");
  // The block reached both client partitions, in the transaction of the third login.
  EXPECT_EQ(block_in(0), BlockCause::wrong_credentials);
  EXPECT_EQ(block_in(1), BlockCause::wrong_credentials);
  EXPECT_SAID(prepare(c1_, "po1", "A1"), reason::kBlockedWrongCredentials, "R28.1");
  EXPECT_SAID(prepare(c2_, "po2", "A2"), reason::kBlockedWrongCredentials, "R28.1");
  EXPECT_EQ(facts_delivered_, 2);  // the identity partition's state, to each home
  // R29.1: the support service restores it in the identity partition; every client follows.
  (void)c1_.apply(events::means_restored(c1_.treasury(), person_, false));
  EXPECT_EQ(last_partition_, kIdentity);
  EXPECT_SAID(last_, reason::kOk, "R29.1");
  EXPECT_SAID(prepare(c1_, "po1", "A1"), reason::kOk, "R8.6");
  EXPECT_SAID(prepare(c2_, "po2", "A2"), reason::kOk, "R8.6");
}

TEST_F(Partitions, R28_2_R28_3_TreasuryBlocksAndTheUsersReportReachEveryClient) {
  grant_in_both();
  (void)c2_.apply(events::means_blocked(c2_.treasury(), person_, BlockCause::suspicion));
  EXPECT_EQ(last_partition_, kIdentity);
  EXPECT_SAID(prepare(c1_, "po1", "A1"), reason::kBlockedSuspicion, "R28.2");
  (void)c1_.apply(events::means_restored(c1_.treasury(), person_, true));  // R29.2, by application
  EXPECT_SAID(last_, reason::kOk, "R29.2");
  (void)c1_.apply(events::breach_reported(c1_.as(person_), Means::esignature_card));
  EXPECT_EQ(last_partition_, kIdentity);
  EXPECT_SAID(prepare(c2_, "po2", "A2"), reason::kBlockedReported, "R28.3");
}

TEST_F(Partitions, R28_4_ARateBlockInOneClientPartitionGoesThroughTheIdentityPartitionToTheOthers) {
  ASSERT_TRUE(c1_.open_account("A1").accepted);
  ASSERT_TRUE(c1_.apply(events::data_exchange_established(c1_.treasury())).accepted);  // R24
  ASSERT_TRUE(c1_.grant(person_, "A1", AccessMode::online_view).accepted);
  ASSERT_TRUE(c2_.open_account("A2").accepted);
  ASSERT_TRUE(c2_.grant(person_, "A2", AccessMode::signature_2).accepted);
  auto online = [&](int minute) {
    c1_.now = riga(kMonday, 9, 0) + minute * kUsPerMinute;
    (void)c1_.apply(events::online_data_request(c1_.as(person_, Channel::online), "A1"));
    EXPECT_EQ(last_partition_, 0) << "a data request is decided in its client's partition";
    return last_;
  };
  EXPECT_SAID(online(0), reason::kOk, "R8.9");
  EXPECT_SAID(online(1), reason::kOk, "R8.9");
  EXPECT_SAID(online(2), reason::kOk, "R8.9");
  EXPECT_SAID(online(3), reason::kBlockedRequestRate, "R28.4");
  // Partition 0 told the identity partition, which told partition 1.
  EXPECT_EQ(block_in(kIdentity), BlockCause::request_rate);
  EXPECT_EQ(block_in(1), BlockCause::request_rate);
  EXPECT_SAID(prepare(c2_, "po2", "A2"), reason::kBlockedRequestRate, "R28.4");
  EXPECT_SAID(login(true), reason::kBlockedRequestRate, "R28.4");
  // R29.2: restored by application in the identity partition; both clients follow.
  (void)c2_.apply(events::means_restored(c2_.treasury(), person_, true));
  EXPECT_SAID(last_, reason::kOk, "R29.2");
  EXPECT_EQ(block_in(0), BlockCause::none);
  EXPECT_SAID(prepare(c2_, "po2", "A2"), reason::kOk, "R8.6");
}

TEST_F(Partitions, R22_R24_MeansRegisteredAndActivatedInTheIdentityPartitionHoldInEveryClient) {
  grant_in_both();
  // R22.1.2: a code card only as a Treasury exception, and used only once activated (R24).
  (void)c1_.apply(events::means_registered(c1_.treasury(), person_, Means::code_card, true));
  EXPECT_EQ(last_partition_, kIdentity);
  EXPECT_SAID(last_, reason::kOk, "R22.1");
  EXPECT_SAID(prepare(c2_, "po2", "A2", Means::code_card), reason::kMeansNotActivated, "R24");
  EXPECT_SAID(prepare(c2_, "po2", "A2", Means::unified_login), reason::kMeansNotRegistered, "R25");
  (void)c1_.apply(events::means_activated(c1_.treasury(), person_, Means::code_card));
  EXPECT_SAID(last_, reason::kOk, "R24");
  EXPECT_SAID(prepare(c1_, "po1", "A1", Means::code_card), reason::kOk, "R8.6");
  EXPECT_SAID(prepare(c2_, "po2", "A2", Means::code_card), reason::kOk, "R8.6");
}

TEST_F(Partitions, APersonKnownLaterGetsTheIdentityAsItStands) {
  ASSERT_TRUE(c1_.open_account("A1").accepted);
  ASSERT_TRUE(c1_.grant(person_, "A1", AccessMode::signature_2).accepted);
  (void)c1_.apply(events::means_blocked(c1_.treasury(), person_, BlockCause::suspicion));
  EXPECT_SAID(last_, reason::kOk, "R28.2");
  // C2 grants rights only now: its partition learns of the block from the identity partition.
  ASSERT_TRUE(c2_.open_account("A2").accepted);
  ASSERT_TRUE(c2_.grant(person_, "A2", AccessMode::signature_2).accepted);
  EXPECT_EQ(block_in(1), BlockCause::suspicion);
  EXPECT_SAID(prepare(c2_, "po2", "A2"), reason::kBlockedSuspicion, "R28.2");
}

TEST_F(Partitions, R42_FactsAreInTheLogAndReplayAsDecided) {
  grant_in_both();
  for (int i = 0; i < 3; ++i) (void)login(false);
  (void)c1_.apply(events::means_restored(c1_.treasury(), person_, false));
  ASSERT_GT(facts_delivered_, 0);
  for (int32_t p = 0; p < kN; ++p) {
    // A restart loads what the fold stored (the homes too) ...
    std::unique_ptr<Ledger> again;
    ASSERT_TRUE(Ledger::open(stores_[p].get(), &again).ok());
    EXPECT_EQ(projections::state_hash(again->state()), projections::state_hash(ledgers_[p]->state())) << p;
    if (p == kIdentity) {
      const engine::State& s = again->state();
      const auto* e = s.persons.find(s.names.find(person_));
      ASSERT_NE(e, nullptr);
      EXPECT_EQ(e->second.homes, (std::vector<int32_t>{0, 1})) << "the homes are stored and loaded";
    }
    // ... and a re-fold of the partition's log recomputes every decision, facts included.
    adapters::ReplayResult r;
    ASSERT_TRUE(adapters::replay(stores_[p].get(), true, &r).ok());
    EXPECT_TRUE(r.intact) << r.error;
    EXPECT_EQ(r.state_hash, projections::state_hash(ledgers_[p]->state())) << p;
  }
  EXPECT_EQ(person_in(kIdentity)->homes, (std::vector<int32_t>{0, 1}));
}

TEST_F(Partitions, R41_OnlyKaseWritesIdentityFacts) {
  grant_in_both();
  events::IdentityFactFields f;
  f.person = person_;
  f.kind = fb::IdentityFactKind::state;
  f.partition = kIdentity;
  f.block = BlockCause::suspicion;
  // Through a channel, even the Treasury's: refused by the fold ...
  const std::string forged = events::identity_fact(c1_.treasury(), f);
  deliver(0, forged, true);
  EXPECT_SAID(last_, reason::kEngineOnly, "R41");
  EXPECT_EQ(block_in(0), BlockCause::none);
  // ... the engine channel carries nothing else ...
  deliver(0, events::means_blocked(c1_.as("operator", Channel::engine), person_, BlockCause::suspicion), true);
  EXPECT_SAID(last_, reason::kEngineOnly, "R41");
  // ... and JSON intake (kase submit, kase produce, HTTP) refuses both before the log.
  events::JsonCodec codec;
  const std::string json = codec.request_to_json(*events::verify_request(events::bytes_of(forged)));
  std::span<const uint8_t> out;
  std::string error;
  EXPECT_EQ(codec.request_from_json(json, 1, &out, &error), events::JsonStatus::engine_only);
  EXPECT_NE(error.find("kase itself"), std::string::npos) << error;
  EXPECT_EQ(adapters::json_refusal_reason(events::JsonStatus::engine_only), std::string(reason::kEngineOnly));
}

// R37, R47: `kase audit explain` of a fact names where it came from and what it says.
TEST(Topology, R37_AFactExplainsItsOrigin) {
  engine::Engine e;
  engine::Trace trace;
  e.set_trace(&trace);
  events::IdentityFactFields f;
  f.person = "u7";
  f.kind = fb::IdentityFactKind::state;
  f.partition = 2;
  f.origin = "login-3";
  f.block = BlockCause::wrong_credentials;
  f.blocked_means = Means::unified_login;
  const std::string b =
      events::identity_fact({"login-3/identity/2/0", "C1", "kase", Channel::engine, riga(kMonday, 10, 0)}, f);
  const engine::Verdict v = e.apply(*events::verify_request(events::bytes_of(b)));
  EXPECT_TRUE(v.accepted) << v.reason;
  bool found = false;
  for (const auto& c : trace.checks) {
    if (std::string(c.check) != "identity.fact") continue;
    found = true;
    EXPECT_NE(c.detail.find("from partition 2, caused by request login-3"), std::string::npos) << c.detail;
    EXPECT_NE(c.detail.find("block wrong_credentials (means unified_login)"), std::string::npos) << c.detail;
  }
  EXPECT_TRUE(found);
  EXPECT_EQ(e.state().blocked_persons, 1);
}

TEST(Topology, OnePartitionSendsNoFacts) {
  auto store = projections::make_memory_store();
  std::unique_ptr<Ledger> l;
  ASSERT_TRUE(Ledger::open(store.get(), &l).ok());
  Harness h;
  std::vector<std::string> sent;
  h.also = [&](const std::string& b) { sent.push_back(b); };
  ASSERT_TRUE(h.open_account("A1").accepted);
  ASSERT_TRUE(h.grant("u", "A1", AccessMode::signature_2).accepted);
  sent.push_back(events::means_blocked(h.treasury(), "u", BlockCause::suspicion));
  std::vector<std::span<const uint8_t>> spans;
  for (const auto& b : sent) spans.push_back(events::bytes_of(b));
  std::vector<Answer> answers;
  ASSERT_TRUE(l->submit(spans, &answers).ok());
  ASSERT_EQ(answers.size(), sent.size());
  EXPECT_TRUE(answers.back().decision()->outcome() == fb::Outcome::accepted);
  for (const auto& a : answers) EXPECT_TRUE(a.facts.empty());
}

TEST(Topology, IdentityPartitionIsStableAndInRange) {
  // FNV-1a of the person id: the same on every node and every build.
  EXPECT_EQ(engine::identity_partition("anyone", 1), 0);
  for (const char* p : {"u1", "s2", "head1", "a-much-longer-person-id"}) {
    const int32_t x = engine::identity_partition(p, 12);
    EXPECT_GE(x, 0);
    EXPECT_LT(x, 12);
    EXPECT_EQ(x, engine::identity_partition(p, 12));
  }
  // Pinned: producers and folds of every version must agree on these.
  EXPECT_EQ(engine::identity_partition("u1", 12), 11);
  EXPECT_EQ(engine::identity_partition("s2", 12), 4);
  EXPECT_EQ(engine::identity_partition("head1", 12), 6);
}

}  // namespace
}  // namespace kase::testing
