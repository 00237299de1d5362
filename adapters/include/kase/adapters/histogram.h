// A histogram's counts for the adapters' probes (fold time, batch sizes,
// decision latency, Kafka commits): plain integers over fixed upper bounds,
// nothing of Prometheus (adapters/src/metrics.cpp writes them out).
//
// Thread-safety: filled and read on one thread (the engine's or the node's).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>

namespace kase::adapters {

class Histogram {
 public:
  static constexpr size_t kBoundsMax = 24;
  /// `bounds`: ascending upper bounds, at most kBoundsMax; must outlive the
  /// histogram (use the named arrays below).
  explicit Histogram(std::span<const double> bounds) noexcept : bounds_(bounds) {}

  void observe(double v) noexcept {
    size_t i = 0;
    while (i < bounds_.size() && v > bounds_[i]) ++i;
    ++counts_[i];
    sum_ += v;
    ++count_;
  }
  /// Adds another histogram's counts. Precondition: the same bounds.
  void merge(const Histogram& o) noexcept {
    for (size_t i = 0; i <= bounds_.size(); ++i) counts_[i] += o.counts_[i];
    sum_ += o.sum_;
    count_ += o.count_;
  }

  [[nodiscard]] std::span<const double> bounds() const noexcept { return bounds_; }
  /// Per bucket (not cumulative); the last one is above every bound.
  [[nodiscard]] std::span<const uint64_t> counts() const noexcept { return {counts_.data(), bounds_.size() + 1}; }
  [[nodiscard]] double sum() const noexcept { return sum_; }
  [[nodiscard]] uint64_t count() const noexcept { return count_; }

 private:
  std::span<const double> bounds_;
  std::array<uint64_t, kBoundsMax + 1> counts_{};
  double sum_ = 0;
  uint64_t count_ = 0;
};

/// Seconds from a request's intake to its decision.
inline constexpr std::array<double, 16> kLatencySecondsBounds = {
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60};
/// Seconds one batch takes to fold (verify, decide, chain, build records).
inline constexpr std::array<double, 14> kFoldSecondsBounds = {
    0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1};
/// Requests in one batch (up to kBatchRequestsMax, 8192).
inline constexpr std::array<double, 14> kBatchRequestsBounds = {1,   2,   4,    8,    16,   32,   64,
                                                                128, 256, 512, 1024, 2048, 4096, 8192};
/// Seconds a Kafka transaction takes to commit.
inline constexpr std::array<double, 13> kCommitSecondsBounds = {
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};

}  // namespace kase::adapters
