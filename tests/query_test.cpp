// Read models: a person's rights and means, overdue messages (R36), as JSON.
#include "harness.h"
#include "kase/adapters/query.h"

namespace kase::testing {
namespace {

TEST(Query, MergedListsOfPartitionsHoldEachElementOnceSortedByPerson) {
  // Over Kafka the HTTP API merges a list query over the node's partitions: a
  // person known to two partitions is listed once.
  const std::vector<std::string> parts = {
      R"([{"person":"u3","cause":"wrong_entries"},{"person":"u1","cause":"fraud"}])",
      R"([])",
      R"([{"person":"u1","cause":"fraud"},{"person":"u2","cause":"user_report"}])",
  };
  EXPECT_EQ(adapters::merge_json_arrays(parts),
            R"([{"person":"u1","cause":"fraud"},{"person":"u2","cause":"user_report"},)"
            R"({"person":"u3","cause":"wrong_entries"}])");
  EXPECT_EQ(adapters::merge_json_arrays(std::vector<std::string>{"[]", "not json"}), "[]");
}

TEST(Query, PersonShowsRightsLimitsTodayAndMeans) {
  Harness h;
  ASSERT_TRUE(h.open_account("A1").accepted);
  ASSERT_TRUE(h.grant("u1", "A1", AccessMode::signature_2, 1'000 * kEur, 3'000 * kEur).accepted);
  ASSERT_TRUE(h.apply(events::means_registered(h.treasury(), "u1", fb::Means::eid_card, false)).accepted);
  ASSERT_TRUE(h.apply(events::with_means(events::po_prepare(h.as("u1"), "po1", "A1", 700 * kEur), fb::Means::eid_card))
                  .accepted);
  const std::string j = adapters::person_json(h.engine.state(), "u1", h.now);
  EXPECT_NE(j.find(R"("mode":"signature_2")"), std::string::npos) << j;
  EXPECT_NE(j.find(R"("day_total_cents":70000)"), std::string::npos) << j;
  EXPECT_NE(j.find(R"("registered":["eid_card"])"), std::string::npos) << j;
  EXPECT_NE(j.find(R"("block":"none")"), std::string::npos) << j;
  // Tomorrow the day total is zero again.
  const std::string next = adapters::person_json(h.engine.state(), "u1", riga(20261201, 9, 0));
  EXPECT_NE(next.find(R"("day_total_cents":0)"), std::string::npos) << next;
  EXPECT_NE(adapters::person_json(h.engine.state(), "nobody", h.now).find(R"("known":false)"), std::string::npos);
  ASSERT_TRUE(h.report_rights("u1", "C1", fb::ReportGroup::view_prepare, fb::ReportMode::view | fb::ReportMode::manage)
                  .accepted);
  const std::string with_reports = adapters::person_json(h.engine.state(), "u1", h.now);
  EXPECT_NE(with_reports.find(R"("modes":["view","manage"])"), std::string::npos) << with_reports;
}

TEST(Query, R36_OverdueMessagesAsJsonLines) {
  Harness h;
  ASSERT_TRUE(h.open_account("A1").accepted);
  ASSERT_TRUE(h.grant("u1", "A1", AccessMode::view_all).accepted);
  ASSERT_TRUE(h.apply(events::message_posted(h.treasury(), "m1", "s")).accepted);
  const std::string lines = adapters::overdue_messages_jsonl(h.engine.state(), h.now + 8LL * 86'400'000'000LL);
  EXPECT_EQ(lines, "{\"client\":\"C1\",\"user\":\"u1\",\"message\":\"m1\",\"posted_us\":" + std::to_string(h.now) +
                       ",\"rule\":\"R36\"}\n");
}

TEST(Query, R37_R47_DocumentStateAndHistoryAsJson) {
  Harness h;
  ASSERT_TRUE(h.plan_rights("im", fb::Service::eplans, fb::PlanMode::institution_manage)
                  .accepted);
  ASSERT_TRUE(h.plan_rights("ia", fb::Service::eplans, fb::PlanMode::approve).accepted);
  const int64_t created = h.now;
  ASSERT_TRUE(h.apply(events::document_create(h.as("im"), fb::Service::eplans, "P1", fb::DocumentKind::financing_plan,
                                              "sha256:p1", 1'000 * kEur))
                  .accepted);
  const std::string create_id = h.ids.back();
  h.now += kUsPerMinute;
  ASSERT_TRUE(h.apply(events::document_approve(h.as("ia"), fb::Service::eplans, "P1")).accepted);
  const std::string j = adapters::document_json(h.engine.state(), "C1", fb::Service::eplans, "P1");
  EXPECT_NE(j.find(R"("known":true,"kind":"financing_plan","status":"approved","digest":"sha256:p1")"),
            std::string::npos)
      << j;
  EXPECT_NE(j.find(R"("appropriated_cents":0)"), std::string::npos) << j;
  EXPECT_NE(j.find(R"({"seq":0,"at_us":)" + std::to_string(created) + R"(,"request_id":")" + create_id +
                   R"(","actor":"im","step":"create","status":"draft","digest":"sha256:p1","amount_cents":100000})"),
            std::string::npos)
      << j;
  EXPECT_NE(j.find(R"("actor":"ia","step":"approve","status":"approved"})"), std::string::npos) << j;
  EXPECT_NE(adapters::document_json(h.engine.state(), "C1", fb::Service::eestimates, "P1").find(R"("known":false)"),
            std::string::npos);
}

}  // namespace
}  // namespace kase::testing
