// The HTTP front's decisions index over Kafka (DecisionIndex): what a
// restarted node finds again, and where it reads on.
#include "kase/adapters/decision_index.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <span>
#include <string>

namespace kase::adapters {
namespace {

std::span<const uint8_t> bytes(const std::string& s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

class DecisionIndexTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/kase-index-test-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::unique_ptr<DecisionIndex> open() {
    std::unique_ptr<DecisionIndex> index;
    const Status s = DecisionIndex::open(dir_, &index);
    EXPECT_TRUE(s.ok()) << s.to_string();
    return index;
  }
  std::string dir_;
};

TEST_F(DecisionIndexTest, ARestartedFrontFindsEveryDecisionAndReadsOnFromWhereItStopped) {
  {
    auto index = open();
    EXPECT_EQ(index->size(), 0u);
    EXPECT_TRUE(index->next_offsets().empty());  // a new index reads every partition from the start
    std::string first;
    bool added = false;
    ASSERT_TRUE(index->add(0, 0, "r1", bytes("decision of r1"), &first, &added).ok());
    EXPECT_TRUE(added);
    EXPECT_EQ(first, "decision of r1");
    ASSERT_TRUE(index->add(3, 41, "r2", bytes("decision of r2"), &first, &added).ok());
    // A duplicate's record repeats the first decision of its id: the first stays.
    ASSERT_TRUE(index->add(0, 1, "r1", bytes("duplicate of r1"), &first, &added).ok());
    EXPECT_FALSE(added);
    EXPECT_EQ(first, "decision of r1");
    // A record that is no decision only moves its partition on.
    ASSERT_TRUE(index->add(3, 42, "", {}, nullptr, &added).ok());
    EXPECT_FALSE(added);
    EXPECT_EQ(index->size(), 2u);
  }
  auto index = open();
  EXPECT_EQ(index->size(), 2u);
  std::string record;
  ASSERT_TRUE(index->find("r1", &record));
  EXPECT_EQ(record, "decision of r1");
  ASSERT_TRUE(index->find("r2", &record));
  EXPECT_EQ(record, "decision of r2");
  EXPECT_FALSE(index->find("r3", &record));
  EXPECT_FALSE(index->find("", &record));
  const std::map<int32_t, int64_t> want{{0, 2}, {3, 43}};
  EXPECT_EQ(index->next_offsets(), want);
}

TEST_F(DecisionIndexTest, AnIndexReadFromAnotherClusterStartsAfresh) {
  {
    auto index = open();
    EXPECT_EQ(index->cluster(), "");
    ASSERT_TRUE(index->reset("cluster-A").ok());  // a new index learns its cluster
    ASSERT_TRUE(index->add(0, 7, "r1", bytes("decision of r1"), nullptr, nullptr).ok());
  }
  auto index = open();
  EXPECT_EQ(index->cluster(), "cluster-A");
  EXPECT_EQ(index->size(), 1u);
  // Offsets of cluster A mean nothing in cluster B: nothing of A is kept.
  ASSERT_TRUE(index->reset("cluster-B").ok());
  EXPECT_EQ(index->cluster(), "cluster-B");
  EXPECT_EQ(index->size(), 0u);
  EXPECT_TRUE(index->next_offsets().empty());
  std::string record;
  EXPECT_FALSE(index->find("r1", &record));
  index.reset();
  index = open();
  EXPECT_EQ(index->size(), 0u);
  EXPECT_EQ(index->cluster(), "cluster-B");
}

TEST_F(DecisionIndexTest, ADirectoryThatCannotBeOpenedIsAClearError) {
  std::filesystem::remove_all(dir_);
  {
    std::FILE* f = std::fopen(dir_.c_str(), "w");  // a file where the directory should be
    ASSERT_NE(f, nullptr);
    std::fclose(f);
  }
  std::unique_ptr<DecisionIndex> index;
  const Status s = DecisionIndex::open(dir_, &index);
  EXPECT_EQ(s.code(), Errc::io_error);
  EXPECT_NE(s.message().find("decisions index"), std::string::npos) << s.message();
  std::filesystem::remove(dir_);
}

}  // namespace
}  // namespace kase::adapters
