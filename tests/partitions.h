// Partitions of kase.requests without a broker: N real Ledgers, fed as the
// Kafka producer feeds them (Treasury-wide settings to every partition,
// identity requests to the person's identity partition, the rest to the
// client's partition by Kafka's murmur2) and delivering each decision's
// identity and directory facts to their partitions, as a Kafka node does in
// the decision's transaction. tests/kafka_test.sh does the same on a real broker.
#pragma once

#include <deque>
#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "kase/adapters/ledger.h"
#include "kase/engine/engine.h"
#include "kase/events/build.h"
#include "kase/events/codec.h"
#include "kase/projections/store.h"

namespace kase::testing {

/// What a partition answered.
struct Said {
  bool accepted = false;
  std::string reason;
  std::string rule;
};

class Cluster {
 public:
  explicit Cluster(int32_t n) : n_(n) {
    for (int32_t p = 0; p < n; ++p) {
      stores_.push_back(projections::make_memory_store());
      std::unique_ptr<adapters::Ledger> l;
      EXPECT_TRUE(adapters::Ledger::open(stores_.back().get(), &l).ok());
      l->set_topology({p, n});
      ledgers_.push_back(std::move(l));
    }
  }

  /// Produces `bytes` and delivers the facts it causes until none are left;
  /// the answer of the partition that decided it (for a Treasury-wide
  /// setting, of the client's partition's copy).
  Said send(const std::string& bytes) {
    const fb::Request* r = events::verify_request(events::bytes_of(bytes));
    EXPECT_NE(r, nullptr);
    if (r == nullptr) return {};
    const int32_t home = engine::client_partition(events::sv(r->client_id()), n_);
    Said said;
    if (engine::treasury_wide(r->payload_type())) {
      for (int32_t p = 0; p < n_; ++p) {
        const Said s = deliver(p, bytes);
        if (p == home) said = s;
      }
    } else {
      const std::string_view subject = engine::identity_subject(*r);
      said = deliver(subject.empty() ? home : engine::identity_partition(subject, n_), bytes);
    }
    if (!hold) flush();
    return said;
  }

  /// Delivers the facts held back (or not yet delivered) until none are left.
  void flush() {
    while (!facts_.empty()) {
      const adapters::Answer::Fact f = std::move(facts_.front());
      facts_.pop_front();
      const Said s = deliver(f.partition, f.request);
      // Facts are always taken: the fold decides them, it does not judge them.
      EXPECT_TRUE(s.accepted) << s.reason << " " << s.rule;
      const fb::Request* fr = events::verify_request(events::bytes_of(f.request));
      ++(fr->payload_type() == fb::Payload::DirectoryFact ? directory_facts : identity_facts);
    }
  }

  /// While set, facts wait for flush(): the moment between a decision and
  /// its facts' arrival in the other partitions.
  bool hold = false;

  [[nodiscard]] int32_t size() const { return n_; }
  [[nodiscard]] const engine::State& state(int32_t p) const { return ledgers_[p]->state(); }
  uint64_t identity_facts = 0;
  uint64_t directory_facts = 0;

 private:
  Said deliver(int32_t p, const std::string& bytes) {
    EXPECT_GE(p, 0);
    EXPECT_LT(p, n_);
    if (p < 0 || p >= n_) return {};
    const std::span<const uint8_t> one[] = {events::bytes_of(bytes)};
    std::vector<adapters::Answer> answers;
    EXPECT_TRUE(ledgers_[p]->submit(one, &answers).ok());
    EXPECT_EQ(answers.size(), 1u);
    if (answers.size() != 1) return {};
    const fb::Decision* d = answers[0].decision();
    for (auto& f : answers[0].facts) facts_.push_back(std::move(f));
    return {d->outcome() == fb::Outcome::accepted, std::string(d->reason()->string_view()),
            std::string(d->rule()->string_view())};
  }

  int32_t n_;
  std::vector<std::unique_ptr<projections::Store>> stores_;
  std::vector<std::unique_ptr<adapters::Ledger>> ledgers_;
  std::deque<adapters::Answer::Fact> facts_;
};

}  // namespace kase::testing
