// The embedded ledger: log, decisions, hash chain, projections, restarts.
#include <filesystem>
#include <random>

#include "harness.h"
#include "kase/adapters/demo.h"
#include "kase/adapters/ledger.h"

namespace kase::testing {
namespace {

using adapters::Answer;
using adapters::Ledger;
namespace fs = std::filesystem;


std::vector<std::span<const uint8_t>> spans(const std::vector<std::string>& v, size_t from, size_t to) {
  std::vector<std::span<const uint8_t>> out;
  for (size_t i = from; i < to && i < v.size(); ++i) out.push_back(events::bytes_of(v[i]));
  return out;
}

/// Submits `reqs` in batches of `batch` and returns every LogRecord in order.
std::vector<std::string> run_all(Ledger& l, const std::vector<std::string>& reqs, size_t batch) {
  std::vector<std::string> out;
  std::vector<Answer> answers;
  for (size_t i = 0; i < reqs.size(); i += batch) {
    const auto s = spans(reqs, i, i + batch);
    EXPECT_TRUE(l.submit(s, &answers).ok());
    for (auto& a : answers) out.push_back(std::move(a.record));
  }
  return out;
}

std::string decision_line(const std::string& record) {
  events::JsonCodec c;
  return c.decision_to_json(*flatbuffers::GetRoot<fb::LogRecord>(record.data())->decision());
}

const std::vector<std::string>& demo() {
  static const std::vector<std::string> d = adapters::demo_requests(1);
  return d;
}

TEST(Ledger, R47_EveryRequestAcceptedOrRejectedIsLogged) {
  auto store = projections::make_memory_store();
  std::unique_ptr<Ledger> l;
  ASSERT_TRUE(Ledger::open(store.get(), &l).ok());
  Harness h;
  const std::vector<std::string> reqs = {
      events::account_opened(h.treasury(), "A1", "C1", false, 2026),
      events::po_prepare(h.as("nobody"), "po1", "A1", 100),  // rejected: no rights
  };
  std::vector<Answer> answers;
  ASSERT_TRUE(l->submit(spans(reqs, 0, 2), &answers).ok());
  ASSERT_EQ(answers.size(), 2u);
  EXPECT_EQ(answers[1].decision()->outcome(), fb::Outcome::rejected);
  EXPECT_EQ(answers[1].decision()->reason()->str(), reason::kNoRights);
  std::vector<uint64_t> offsets;
  ASSERT_TRUE(store->scan_log(0, [&](uint64_t off, std::span<const uint8_t> b) {
    const fb::LogRecord* r = events::verify_log_record(b);
    EXPECT_NE(r, nullptr);
    EXPECT_NE(r->request_nested_root(), nullptr);
    offsets.push_back(off);
    return true;
  }).ok());
  EXPECT_EQ(offsets, (std::vector<uint64_t>{0, 1}));
}

TEST(Ledger, MalformedBytesAreAnsweredButNotLogged) {
  auto store = projections::make_memory_store();
  std::unique_ptr<Ledger> l;
  ASSERT_TRUE(Ledger::open(store.get(), &l).ok());
  const std::string junk = "\x04\x00\x00\x00garbage bytes that are no flatbuffer";
  std::vector<std::span<const uint8_t>> in = {events::bytes_of(junk)};
  std::vector<Answer> answers;
  ASSERT_TRUE(l->submit(in, &answers).ok());
  ASSERT_EQ(answers.size(), 1u);
  EXPECT_EQ(answers[0].decision()->reason()->str(), reason::kMalformedBinary);
  EXPECT_EQ(l->meta().next_offset, 0u);
}

TEST(Ledger, IdempotentRequestIdReturnsOriginalDecisionAndChangesNothing) {
  auto store = projections::make_memory_store();
  std::unique_ptr<Ledger> l;
  ASSERT_TRUE(Ledger::open(store.get(), &l).ok());
  const auto& reqs = demo();
  const auto first = run_all(*l, std::vector<std::string>(reqs.begin(), reqs.begin() + 400), 100);
  const auto hash = projections::state_hash(l->state());
  const auto next = l->meta().next_offset;
  // Resubmit everything, in one batch, plus a duplicate inside that batch.
  std::vector<std::string> again(reqs.begin(), reqs.begin() + 400);
  again.push_back(reqs[10]);
  std::vector<Answer> answers;
  ASSERT_TRUE(l->submit(spans(again, 0, again.size()), &answers).ok());
  ASSERT_EQ(answers.size(), 401u);
  for (size_t i = 0; i < 400; ++i) {
    EXPECT_TRUE(answers[i].duplicate);
    EXPECT_EQ(answers[i].record, first[i]);
  }
  EXPECT_EQ(answers[400].record, first[10]);
  EXPECT_EQ(projections::state_hash(l->state()), hash);
  EXPECT_EQ(l->meta().next_offset, next);
}

TEST(Ledger, DuplicateWithinOneBatchOfNewRequests) {
  auto store = projections::make_memory_store();
  std::unique_ptr<Ledger> l;
  ASSERT_TRUE(Ledger::open(store.get(), &l).ok());
  Harness h;
  const std::string a = events::account_opened(h.treasury(), "A1", "C1", false, 2026);
  std::vector<std::span<const uint8_t>> in = {events::bytes_of(a), events::bytes_of(a)};
  std::vector<Answer> answers;
  ASSERT_TRUE(l->submit(in, &answers).ok());
  ASSERT_EQ(answers.size(), 2u);
  EXPECT_FALSE(answers[0].duplicate);
  EXPECT_TRUE(answers[1].duplicate);
  EXPECT_EQ(answers[0].record, answers[1].record);
  EXPECT_EQ(l->meta().next_offset, 1u);
}

TEST(Ledger, DeterministicByteIdenticalDecisionsAndStateHash) {
  std::vector<std::string> runs[2];
  events::Hash hashes[2];
  for (int i = 0; i < 2; ++i) {
    auto store = projections::make_memory_store();
    std::unique_ptr<Ledger> l;
    ASSERT_TRUE(Ledger::open(store.get(), &l).ok());
    runs[i] = run_all(*l, demo(), i == 0 ? 1024 : 7);  // batch size must not matter
    hashes[i] = projections::state_hash(l->state());
  }
  ASSERT_EQ(runs[0].size(), demo().size());
  EXPECT_EQ(runs[0], runs[1]);
  EXPECT_EQ(hashes[0], hashes[1]);
}

TEST(Ledger, R37_ReplayVerifiesChainDecisionsAndProjections) {
  TempDir dir;
  std::unique_ptr<projections::Store> store;
  ASSERT_TRUE(projections::open_rocks_store(dir.path, {}, &store).ok());
  std::unique_ptr<Ledger> l;
  ASSERT_TRUE(Ledger::open(store.get(), &l).ok());
  run_all(*l, demo(), 512);
  const auto live_hash = projections::state_hash(l->state());
  adapters::ReplayResult r;
  ASSERT_TRUE(adapters::replay(store.get(), true, &r).ok());
  EXPECT_TRUE(r.intact) << r.error;
  EXPECT_EQ(r.records, demo().size());
  EXPECT_EQ(r.state_hash, live_hash);
  EXPECT_EQ(r.chain_head, l->meta().chain_head);
}

// R37: what was recorded never changes unnoticed: a rewritten record is caught.
TEST(Ledger, R37_TamperedDecisionOrRequestIsDetected) {
  for (int what = 0; what < 3; ++what) {
    auto store = projections::make_memory_store();
    std::unique_ptr<Ledger> l;
    ASSERT_TRUE(Ledger::open(store.get(), &l).ok());
    const auto records = run_all(*l, std::vector<std::string>(demo().begin(), demo().begin() + 300), 100);
    const uint64_t victim = 150;
    // Rebuild the record with one thing changed.
    const std::string tampered = rebuilt_record(
        events::bytes_of(records[victim]), [&](events::DecisionFields& d, std::string& request, events::Hash& hash) {
          d.offset = victim;
          if (what == 0) d.accepted = !d.accepted;             // flip the outcome
          if (what == 1) request[request.size() - 3] ^= 0x20;  // touch the request bytes
          if (what == 2) hash[5] ^= 1;                         // forge the hash
        });
    // Rewrite the whole segment that holds offset 150 (batches of 100: 100..199).
    projections::Batch batch;
    for (uint64_t off = 100; off < 200; ++off) {
      const fb::LogRecord* r = flatbuffers::GetRoot<fb::LogRecord>(records[off].data());
      batch.add_record(off, r->decision()->request_id()->string_view(),
                       events::bytes_of(off == victim ? tampered : records[off]));
    }
    batch.meta = l->meta();
    ASSERT_TRUE(store->commit(batch).ok());
    adapters::ReplayResult r;
    ASSERT_TRUE(adapters::replay(store.get(), true, &r).ok());
    EXPECT_FALSE(r.intact) << "tampering " << what << " not caught";
    EXPECT_NE(r.error.find("offset 150"), std::string::npos) << r.error;
  }
}

// Restart at random points: reopening the data directory continues where it
// stopped and ends in the same decisions and state as one uninterrupted run.
TEST(Ledger, RestartAtRandomPointsGivesTheSameDecisionsAndState) {
  const auto& reqs = demo();
  auto reference_store = projections::make_memory_store();
  std::unique_ptr<Ledger> reference;
  ASSERT_TRUE(Ledger::open(reference_store.get(), &reference).ok());
  const auto expected = run_all(*reference, reqs, 256);
  const auto expected_hash = projections::state_hash(reference->state());

  const uint64_t seed = ::testing::UnitTest::GetInstance()->random_seed();
  SCOPED_TRACE("seed " + std::to_string(seed));
  std::mt19937_64 rng(seed);
  TempDir dir;
  std::vector<std::string> got;
  size_t i = 0;
  while (i < reqs.size()) {
    std::unique_ptr<projections::Store> store;
    ASSERT_TRUE(projections::open_rocks_store(dir.path, {}, &store).ok());
    std::unique_ptr<Ledger> l;
    ASSERT_TRUE(Ledger::open(store.get(), &l).ok());
    EXPECT_EQ(l->meta().next_offset, got.size());
    const size_t stop = std::min(reqs.size(), i + 1 + rng() % 900);
    while (i < stop) {
      const size_t n = std::min(stop - i, 1 + rng() % 200);
      std::vector<Answer> answers;
      ASSERT_TRUE(l->submit(spans(reqs, i, i + n), &answers).ok());
      for (auto& a : answers) got.push_back(std::move(a.record));
      i += n;
    }
  }
  ASSERT_EQ(got.size(), expected.size());
  for (size_t k = 0; k < got.size(); ++k) ASSERT_EQ(got[k], expected[k]) << "first difference at " << k << ": "
                                                                          << decision_line(got[k]) << " vs "
                                                                          << decision_line(expected[k]);
  std::unique_ptr<projections::Store> store;
  ASSERT_TRUE(projections::open_rocks_store(dir.path, {}, &store).ok());
  std::unique_ptr<Ledger> l;
  ASSERT_TRUE(Ledger::open(store.get(), &l).ok());
  EXPECT_EQ(projections::state_hash(l->state()), expected_hash);
}

// A failed commit answers nothing of its batch and stops the ledger; after a
// reopen the lost batch is simply submitted again (channels retry by request id).
TEST(Ledger, FailedCommitLosesNoAcceptedDecision) {
  const auto& reqs = demo();
  auto reference_store = projections::make_memory_store();
  std::unique_ptr<Ledger> reference;
  ASSERT_TRUE(Ledger::open(reference_store.get(), &reference).ok());
  const auto expected = run_all(*reference, reqs, 100);

  auto inner = projections::make_memory_store();
  std::vector<std::string> got;
  size_t i = 0;
  for (int64_t fail_after : {3, 0, 5, 1000000}) {
    projections::FaultyStore faulty(inner.get(), fail_after);
    std::unique_ptr<Ledger> l;
    ASSERT_TRUE(Ledger::open(&faulty, &l).ok());
    ASSERT_EQ(l->meta().next_offset, got.size());
    i = got.size();
    bool failed = false;
    while (i < reqs.size()) {
      std::vector<Answer> answers;
      Status s = l->submit(spans(reqs, i, i + 100), &answers);
      if (!s.ok()) {
        EXPECT_EQ(s.code(), Errc::io_error);
        EXPECT_TRUE(answers.empty());
        std::vector<Answer> more;
        EXPECT_EQ(l->submit(spans(reqs, i, i + 1), &more).code(), Errc::failed_state);
        failed = true;
        break;
      }
      for (auto& a : answers) got.push_back(std::move(a.record));
      i += 100;
    }
    if (!failed) break;
  }
  ASSERT_EQ(got.size(), expected.size());
  EXPECT_EQ(got, expected);
}

TEST(Ledger, PersistedStateLoadsBackToTheSameHash) {
  TempDir dir;
  events::Hash live;
  {
    std::unique_ptr<projections::Store> store;
    ASSERT_TRUE(projections::open_rocks_store(dir.path, {}, &store).ok());
    std::unique_ptr<Ledger> l;
    ASSERT_TRUE(Ledger::open(store.get(), &l).ok());
    run_all(*l, demo(), 333);
    live = projections::state_hash(l->state());
  }
  std::unique_ptr<projections::Store> store;
  ASSERT_TRUE(projections::open_rocks_store(dir.path, {}, &store).ok());
  engine::State loaded;
  projections::Meta meta;
  ASSERT_TRUE(store->load(&loaded, &meta).ok());
  EXPECT_EQ(projections::state_hash(loaded), live);
  EXPECT_EQ(meta.next_offset, demo().size());
}

TEST(Ledger, CorruptStateValueIsReportedNotCrashed) {
  auto store = projections::make_memory_store();
  projections::Batch b;
  engine::State s;
  const engine::NameId a1 = s.names.intern("A1");
  s.accounts[a1].owner_client = s.names.intern("C1");
  b.dirty.accounts.push_back(&*s.accounts.find(a1));
  b.state = &s;
  ASSERT_TRUE(store->commit(b).ok());
  engine::State ok;
  projections::Meta m;
  ASSERT_TRUE(store->load(&ok, &m).ok());
  EXPECT_EQ(ok.names.name(ok.accounts.at(ok.names.find("A1")).owner_client), "C1");
  EXPECT_EQ(projections::state_hash(ok), projections::state_hash(s));
  // Truncated value.
  for (size_t cut = 0; cut < 20; ++cut) {
    std::string v;
    projections::encode_value(s.accounts.at(a1), s.names, &v);
    v.resize(std::min(v.size(), cut));
    engine::State broken;
    EXPECT_FALSE(projections::decode_entry(projections::Family::accounts, "A1", v, &broken).ok());
  }
}

}  // namespace
}  // namespace kase::testing

namespace kase::testing {
namespace {

TEST(Segment, TruncatedOrGarbledSegmentsAreReportedNotOverread) {
  projections::Batch b;
  const std::string rec(40, 'x');
  for (uint64_t off = 7; off < 12; ++off) b.add_record(off, "id-" + std::to_string(off), events::bytes_of(rec));
  const std::string seg(b.segment());
  {
    projections::SegmentReader r(seg);
    ASSERT_TRUE(r.valid_header());
    uint64_t off;
    std::span<const uint8_t> bytes;
    std::vector<uint64_t> seen;
    while (r.next(&off, &bytes)) {
      seen.push_back(off);
      EXPECT_EQ(bytes.size(), rec.size());
      EXPECT_EQ(reinterpret_cast<uintptr_t>(bytes.data()) % 8, reinterpret_cast<uintptr_t>(seg.data()) % 8);
    }
    EXPECT_FALSE(r.corrupt());
    EXPECT_EQ(seen, (std::vector<uint64_t>{7, 8, 9, 10, 11}));
  }
  for (size_t cut = 0; cut < seg.size(); ++cut) {
    projections::SegmentReader r(std::string_view(seg).substr(0, cut));
    uint64_t off;
    std::span<const uint8_t> bytes;
    size_t n = 0;
    while (r.next(&off, &bytes)) ++n;
    EXPECT_TRUE(!r.valid_header() || r.corrupt() || n < 5) << cut;
    EXPECT_TRUE(r.corrupt() || !r.valid_header()) << "truncation at " << cut << " not noticed";
  }
  size_t ids = 0;
  EXPECT_TRUE(projections::for_each_id(b.ids(), 7, [&](std::string_view id, uint64_t off) {
    EXPECT_EQ(id, "id-" + std::to_string(off));
    ++ids;
  }));
  EXPECT_EQ(ids, 5u);
  EXPECT_FALSE(projections::for_each_id(b.ids().substr(0, b.ids().size() - 1), 7, [](auto, auto) {}));
}

}  // namespace
}  // namespace kase::testing

namespace kase::testing {
namespace {

// Pipelined group commit gives the same answers in the same order as the
// synchronous path, one batch later, and none before its batch is durable.
TEST(LedgerPipeline, SameAnswersAsSynchronousSubmit) {
  const auto& reqs = demo();
  auto sync_store = projections::make_memory_store();
  std::unique_ptr<Ledger> sync_ledger;
  ASSERT_TRUE(Ledger::open(sync_store.get(), &sync_ledger).ok());
  const auto expected = run_all(*sync_ledger, reqs, 300);

  TempDir dir;
  std::unique_ptr<projections::Store> store;
  ASSERT_TRUE(projections::open_rocks_store(dir.path, {}, &store).ok());
  std::unique_ptr<Ledger> l;
  ASSERT_TRUE(Ledger::open(store.get(), &l).ok());
  std::vector<std::string> got;
  std::vector<Answer> answers;
  for (size_t i = 0; i < reqs.size(); i += 300) {
    ASSERT_TRUE(l->submit_pipelined(spans(reqs, i, i + 300), &answers).ok());
    if (i == 0) {
      EXPECT_TRUE(answers.empty());  // the first batch is still in flight
    }
    for (auto& a : answers) got.push_back(std::move(a.record));
  }
  ASSERT_TRUE(l->drain(&answers).ok());
  for (auto& a : answers) got.push_back(std::move(a.record));
  EXPECT_EQ(got, expected);
  // A synchronous submit after pipelined ones keeps the order.
  Harness h;
  h.client = "C9";
  const std::string extra = events::account_opened(h.treasury(), "X9", "C9", false, 2026);
  ASSERT_TRUE(l->submit_pipelined(spans(std::vector<std::string>(reqs.begin(), reqs.begin() + 1), 0, 1), &answers).ok());
  std::vector<std::span<const uint8_t>> one = {events::bytes_of(extra)};
  ASSERT_TRUE(l->submit(one, &answers).ok());
  ASSERT_EQ(answers.size(), 2u);
  EXPECT_TRUE(answers[0].duplicate);
  EXPECT_EQ(answers[1].decision()->request_id()->str(), "t-1");
}

TEST(LedgerPipeline, FailedSyncAnswersNothingOfTheBatchInFlight) {
  const auto& reqs = demo();
  auto inner = projections::make_memory_store();
  // Operations: commit(1) sync(2) commit(3) sync(4) -> fail on the second sync.
  projections::FaultyStore faulty(inner.get(), 3);
  std::unique_ptr<Ledger> l;
  ASSERT_TRUE(Ledger::open(&faulty, &l).ok());
  std::vector<Answer> answers;
  ASSERT_TRUE(l->submit_pipelined(spans(reqs, 0, 100), &answers).ok());
  EXPECT_TRUE(answers.empty());
  ASSERT_TRUE(l->submit_pipelined(spans(reqs, 100, 200), &answers).ok());
  EXPECT_EQ(answers.size(), 100u);  // batch 1, durable
  const Status s = l->submit_pipelined(spans(reqs, 200, 300), &answers);
  EXPECT_FALSE(s.ok());
  EXPECT_TRUE(answers.empty());
  EXPECT_EQ(l->submit(spans(reqs, 300, 301), &answers).code(), Errc::failed_state);
}

}  // namespace
}  // namespace kase::testing

namespace kase::testing {
namespace {

// Identity, means and applications persist, and the derived indexes (blocked
// persons, persons with means, applications in force) are rebuilt on open, so
// that a restarted ledger decides exactly as a continuous one.
TEST(LedgerRestart, DerivedStateIsRebuiltOnOpen) {
  Harness h;
  // R3, R22: an application signed by the head, then registered.
  auto submitted = [&](const std::string& id, fb::ApplicationKind kind, const std::string& user,
                       std::vector<events::AccountPermission> permissions = {}) {
    return events::application_submitted(h.as("head"), id, kind, user, "head", h.now - 1, "d", permissions);
  };
  auto registered = [&](const std::string& id) { return events::application_registered(h.treasury(), id); };
  using K = fb::ApplicationKind;
  std::vector<std::string> first = {
      events::account_opened(h.treasury(), "A1", "C1", false, 2026),
      events::representative(h.treasury(), "head", true, true),
      submitted("app1", K::ekase, "u1"),
      registered("app1"),
      events::rights_granted_under(h.treasury(), "u1", "A1", AccessMode::signature_2, 5'000 * kEur, 9'000 * kEur,
                                   "app1"),
      events::means_registered(h.treasury(), "u1", fb::Means::esignature_card, false),
      // Every other family, so that the reopened state hash covers them.
      events::client_registered(h.treasury(), fb::ClientKind::municipality),
      events::person_roles(h.treasury(), "u1", fb::PersonRole::finance_employee),
      events::institution_structure(h.treasury(), fb::ReportType::annual, 2026, {"I2", "I1"}),
      submitted("rep1", K::ereports_users, "u1"),
      registered("rep1"),
      events::report_rights(h.treasury(), "u1", "I1", fb::ReportGroup::view_prepare, fb::ReportMode::manage_sign,
                            "rep1"),
      submitted("plan1", K::eplans_eestimates, "u1"),
      registered("plan1"),
      events::plan_rights(h.treasury(), "u1", fb::Service::eestimates, fb::PlanMode::approve, "plan1"),
      submitted("loan1", K::eloans, "u1"),
      registered("loan1"),
      events::loan_rights(h.treasury(), "u1", fb::LoanGroup::loan_requests, fb::LoanMode::sign, "loan1"),
      events::message_posted(h.treasury(), "msg1", "hello"),
      events::data_exchange_established(h.treasury()),
      // Documents and their history persist (R6, R19).
      submitted("plan4", K::eplans_eestimates, "u4"),
      registered("plan4"),
      events::plan_rights(h.treasury(), "u4", fb::Service::eplans, fb::PlanMode::institution_manage, "plan4"),
      submitted("plan5", K::eplans_eestimates, "u5"),
      registered("plan5"),
      events::plan_rights(h.treasury(), "u5", fb::Service::eplans, fb::PlanMode::approve, "plan5"),
      events::document_create(h.as("u4"), fb::Service::eplans, "P1", fb::DocumentKind::financing_plan, "d1", 500),
      events::report_rights(h.treasury(), "u1", "C1", fb::ReportGroup::view_prepare, fb::ReportMode::manage_sign,
                            "rep1"),
      events::report_create(h.as("u1"), "R1", fb::DocumentKind::report, "d2", fb::ReportType::annual, 2026, "Y",
                            "", false),
      // R10: a permission submitted before the restart, registered after it.
      events::account_opened(h.treasury(), "F1", "OWNER", false, 2026),
      submitted("app6", K::ekase, "u6", {{"F1", "sha256:owner"}}),
  };
  for (int i = 0; i < 3; ++i) first.push_back(events::login_attempt(h.as("u2"), fb::Means::unified_login, false));
  std::vector<std::string> second = {
      // Depends on the derived in-force index: supersedes app1.
      submitted("app2", K::ekase, "u1"),
      registered("app2"),
      events::with_means(events::po_prepare(h.as("u1"), "po1", "A1", 100), fb::Means::esignature_card),
      events::po_prepare(h.as("u1"), "po2", "A1", 100),
      // Depends on the reloaded structure (binary search over sorted ids).
      submitted("rep3", K::ereports_users, "u3"),
      registered("rep3"),
      events::report_rights(h.treasury(), "u3", "I2", fb::ReportGroup::view_prepare, fb::ReportMode::view, "rep3"),
      events::message_read(h.as("u1"), "msg1"),
      // Depends on the reloaded document (its status and history count).
      events::document_approve(h.as("u5"), fb::Service::eplans, "P1"),
      events::document_approve(h.as("u5"), fb::Service::eplans, "P1"),
      // Depends on the reloaded application's permissions (R10).
      registered("app6"),
      events::rights_granted_under(h.treasury(), "u6", "F1", AccessMode::view_all, 0, 0, "app6"),
  };
  // u2 has no rights: give them some so the logins count.
  first.insert(first.begin() + 2, {submitted("app3", K::ekase, "u2"), registered("app3"),
                                   events::rights_granted_under(h.treasury(), "u2", "A1", AccessMode::view_all, 0, 0,
                                                                "app3")});

  auto expected_store = projections::make_memory_store();
  std::unique_ptr<Ledger> continuous;
  ASSERT_TRUE(Ledger::open(expected_store.get(), &continuous).ok());
  std::vector<std::string> all = first;
  all.insert(all.end(), second.begin(), second.end());
  const auto expected = run_all(*continuous, all, 1000);

  TempDir dir;
  std::vector<std::string> got;
  for (const auto* part : {&first, &second}) {
    std::unique_ptr<projections::Store> store;
    ASSERT_TRUE(projections::open_rocks_store(dir.path, {}, &store).ok());
    std::unique_ptr<Ledger> l;
    ASSERT_TRUE(Ledger::open(store.get(), &l).ok());
    for (auto& r : run_all(*l, *part, 1000)) got.push_back(std::move(r));
    if (part == &second) {
      EXPECT_EQ(projections::state_hash(l->state()), projections::state_hash(continuous->state()));
    }
  }
  ASSERT_EQ(got.size(), expected.size());
  for (size_t i = 0; i < got.size(); ++i) EXPECT_EQ(decision_line(got[i]), decision_line(expected[i])) << i;
  // po2 (ninth from last) stands on the superseded application.
  EXPECT_NE(decision_line(got[got.size() - 9]).find("application.superseded"), std::string::npos);
  EXPECT_NE(decision_line(got[got.size() - 6]).find("\"accepted\""), std::string::npos);  // I2 still attached
  EXPECT_NE(decision_line(got[got.size() - 4]).find("\"accepted\""), std::string::npos);  // P1 approved
  EXPECT_NE(decision_line(got[got.size() - 3]).find("document.wrong_status"), std::string::npos);
  EXPECT_NE(decision_line(got[got.size() - 1]).find("\"accepted\""), std::string::npos);  // R10 permission kept
}

}  // namespace
}  // namespace kase::testing
