// Directory facts between partitions (DirectoryFact): what a receiving
// partition takes and what it refuses. The flows themselves (R6.5, R19.2.4,
// R19.2.7, R19.2.8 across eight partitions) run in rules_documents_test.cpp,
// whose every document test is also decided on partitions (tests/partitions.h).
#include "harness.h"
#include "partitions.h"

namespace kase::testing {
namespace {

constexpr int32_t kN = 8;

/// A directory fact from partition `from`, as the Ledger writes one.
std::string fact(const events::DirectoryFactFields& f, const std::string& id = "grant-1/directory/7/0") {
  return events::directory_fact(events::Envelope{id, "M", "kase", fb::Channel::engine, riga(kMonday, 10, 0)}, f);
}

engine::Verdict decide(engine::Engine& e, const std::string& bytes) {
  const fb::Request* r = events::verify_request(events::bytes_of(bytes));
  EXPECT_NE(r, nullptr);
  return r == nullptr ? engine::Verdict::reject("test.invalid", "") : e.apply(*r);
}

// R41: a fact's id has a shape no channel may take, or a forged request could
// hold the id before the fact arrives (the log keeps the first of an id).
TEST(DirectoryFacts, R41_FactIdsAreReservedAtIntake) {
  events::JsonCodec codec;
  Harness h;
  h.client = "M";
  const std::string pre_empting =
      codec.request_to_json(*events::verify_request(events::bytes_of(events::client_registered(
          events::Envelope{"grant-1/directory/7/0", "M", "operator", fb::Channel::treasury, 0}, fb::ClientKind::ministry))));
  std::span<const uint8_t> out;
  std::string error;
  EXPECT_EQ(codec.request_from_json(pre_empting, 1, &out, &error), events::JsonStatus::engine_only);
  EXPECT_NE(error.find("/directory/"), std::string::npos) << error;
  const std::string identity_shaped =
      codec.request_to_json(*events::verify_request(events::bytes_of(events::client_registered(
          events::Envelope{"x/identity/2/0", "M", "operator", fb::Channel::treasury, 0}, fb::ClientKind::ministry))));
  EXPECT_EQ(codec.request_from_json(identity_shaped, 1, &out, &error), events::JsonStatus::engine_only);
  // An id that merely contains a slash is the channel's to choose.
  const std::string ordinary =
      codec.request_to_json(*events::verify_request(events::bytes_of(events::client_registered(
          events::Envelope{"portal/2026/11/30/1", "M", "operator", fb::Channel::treasury, 0}, fb::ClientKind::ministry))));
  EXPECT_EQ(codec.request_from_json(ordinary, 1, &out, &error), events::JsonStatus::ok) << error;
}

// R47: a partition's own clients are decided there; a copy never overwrites them.
TEST(DirectoryFacts, R47_APartitionsOwnClientIsNeverOverwrittenByACopy) {
  const int32_t m = engine::client_partition("M", kN);
  const int32_t i = engine::client_partition("I", kN);
  ASSERT_NE(m, i);
  engine::Engine in_i;
  in_i.set_topology({i, kN});
  events::DirectoryFactFields f;
  f.kind = fb::DirectoryFactKind::client;
  f.client_kind = fb::ClientKind::ministry;
  f.partition = m;
  // About M, from M's partition: taken.
  f.client = "M";
  EXPECT_ACCEPTED(decide(in_i, fact(f)));
  // About I, whose partition this is: refused, I stays what it was.
  f.client = "I";
  EXPECT_REJECTED(decide(in_i, fact(f, "grant-2/directory/7/0")), reason::kValueInvalid, "R47");
  const auto& st = in_i.state();
  EXPECT_EQ(st.clients.find(st.names.find("I")), nullptr);
  // Said to come from this very partition, or from one that does not exist: refused.
  f.client = "M";
  f.partition = i;
  EXPECT_REJECTED(decide(in_i, fact(f, "grant-3/directory/4/0")), reason::kValueInvalid, "R47");
  f.partition = kN;
  EXPECT_REJECTED(decide(in_i, fact(f, "grant-4/directory/8/0")), reason::kValueInvalid, "R47");
}

// R3: application ids are the Treasury's document ids, one per client; a copy
// of another client's application under an id this partition holds is refused.
TEST(DirectoryFacts, R3_ACopiedApplicationNeverReplacesAnotherClientsOne) {
  Harness h;
  const int32_t m = engine::client_partition("M", kN);
  const int32_t i = engine::client_partition("I", kN);
  h.engine.set_topology({i, kN});
  h.client = "I";
  const std::string app = h.application("u1", fb::ApplicationKind::ereports_users);
  events::DirectoryFactFields f;
  f.kind = fb::DirectoryFactKind::application;
  f.client = "M";
  f.partition = m;
  f.person = "u9";
  f.application = app;
  f.application_kind = fb::ApplicationKind::ereports_users;
  f.status = static_cast<uint8_t>(engine::ApplicationStatus::in_force);
  f.lapses_on = 20291130;
  EXPECT_REJECTED(decide(h.engine, fact(f)), reason::kApplicationExists, "R3");
  const auto& st = h.engine.state();
  const auto* a = st.applications.find(st.names.find(app));
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(a->second.client, st.names.find("I"));
  EXPECT_EQ(a->second.user, st.names.find("u1"));
  // Under a fresh id the copy is taken, in force for its user and client.
  f.application = "APP-M-u9";
  EXPECT_ACCEPTED(decide(h.engine, fact(f, "grant-2/directory/7/0")));
  const auto* in_force = st.in_force.find(engine::pair_key(st.names.find("u9"), st.names.find("M")));
  ASSERT_NE(in_force, nullptr);
  EXPECT_EQ(in_force->second.by_kind[static_cast<size_t>(fb::ApplicationKind::ereports_users)],
            st.names.find("APP-M-u9"));
  // Superseded there: no longer in force here.
  f.status = static_cast<uint8_t>(engine::ApplicationStatus::superseded);
  EXPECT_ACCEPTED(decide(h.engine, fact(f, "grant-3/directory/7/0")));
  EXPECT_EQ(in_force->second.by_kind[static_cast<size_t>(fb::ApplicationKind::ereports_users)], engine::kNoName);
}

// R19.2.4: only a report is copied as accepted, with a valid period and year.
TEST(DirectoryFacts, R19_2_4_OnlyReportsAreCopiedAsAccepted) {
  const int32_t m = engine::client_partition("M", kN);
  const int32_t i = engine::client_partition("I", kN);
  engine::Engine in_m;
  in_m.set_topology({m, kN});
  events::DirectoryFactFields f;
  f.kind = fb::DirectoryFactKind::report;
  f.client = "I";
  f.partition = i;
  f.document = "R1";
  f.accepted_by = "M";
  f.year = 2026;
  f.period = "Y";
  f.document_kind = fb::DocumentKind::financing_plan;
  EXPECT_REJECTED(decide(in_m, fact(f)), reason::kValueInvalid, "R19.2.4");
  f.document_kind = fb::DocumentKind::report;
  f.year = 0;
  EXPECT_REJECTED(decide(in_m, fact(f, "a-2/directory/4/0")), reason::kValueInvalid, "R19.2.4");
  f.year = 2026;
  f.period = "";
  EXPECT_REJECTED(decide(in_m, fact(f, "a-3/directory/4/0")), reason::kValueInvalid, "R19.2.4");
  f.period = "Y";
  EXPECT_ACCEPTED(decide(in_m, fact(f, "a-4/directory/4/0")));
  const auto& st = in_m.state();
  const auto* d = st.documents.find(engine::DocumentKey{st.names.find("I"), st.names.find("R1"),
                                                        static_cast<uint8_t>(fb::Service::ereports)});
  ASSERT_NE(d, nullptr);
  EXPECT_EQ(d->second.status, engine::DocumentStatus::accepted);
  EXPECT_EQ(d->second.accepted_by, st.names.find("M"));
}

// Between a change's decision and its fact's arrival the owner's partition
// decides with the directory as it was (README, "Running on Kafka"): held
// back, an R30 termination leaves the ministry's user acting on the
// institution's plan; delivered, the user is refused as on the single log.
TEST(DirectoryFacts, R30_ATerminationReachesTheOwnersPartitionWithItsFact) {
  Harness h;
  Cluster kafka{kN};
  h.also = [&](const std::string& bytes) { (void)kafka.send(bytes); };
  const auto at = [&](const std::string& client, auto&& f) {
    h.client = client;
    return f();
  };
  ASSERT_ACCEPTED_ALL(
      at("M", [&] { return h.apply(events::client_registered(h.treasury(), fb::ClientKind::ministry)); }),
      at("M", [&] {
        return h.apply(events::institution_structure(h.treasury(), fb::ReportType::annual, 2026, {"I"}));
      }),
      at("M", [&] { return h.plan_rights("mm", fb::Service::eplans, fb::PlanMode::ministry_manage); }),
      at("I", [&] { return h.plan_rights("im", fb::Service::eplans, fb::PlanMode::institution_manage); }));
  h.also = nullptr;
  h.client = "I";
  const std::string create =
      events::document_create(h.as("im"), fb::Service::eplans, "P1", fb::DocumentKind::financing_plan, "sha256:p1",
                              100 * kEur, "", "");
  EXPECT_TRUE(kafka.send(create).accepted);
  const auto view = [&] {
    h.client = "I";
    return kafka.send(events::document_view(h.as("mm"), fb::Service::eplans, "P1", "M"));
  };
  EXPECT_TRUE(view().accepted);
  // M's registrar terminates mm (R30), decided in M's partition; its facts are held back.
  h.client = "M";
  const std::string termination_app = "APP-M-mm-termination";
  const uint64_t before = kafka.directory_facts;
  kafka.hold = true;
  EXPECT_TRUE(kafka.send(events::application_submitted(h.treasury(), termination_app,
                                                       fb::ApplicationKind::termination, "mm", "registrar", h.now,
                                                       "sha256:annex6"))
                  .accepted);
  EXPECT_TRUE(kafka.send(events::application_registered(h.treasury(), termination_app)).accepted);
  EXPECT_TRUE(view().accepted) << "I's partition has not heard of the termination yet";
  kafka.hold = false;
  kafka.flush();
  EXPECT_GT(kafka.directory_facts, before);
  const Said after = view();
  EXPECT_FALSE(after.accepted);
  EXPECT_EQ(after.reason, reason::kNoRights) << after.rule;
}

}  // namespace
}  // namespace kase::testing
