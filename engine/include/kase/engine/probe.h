// What the fold counts for operations: plain integers in arrays indexed by
// small enums, no I/O, no clock, no strings or maps per decision. The
// adapters read them (and only they know Prometheus: adapters/src/metrics.cpp).
// Counting never changes a decision.
//
// Thread-safety: owned by the engine's thread, like the Engine; read it there
// (e.g. between batches).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

#include "kase/engine/reasons.h"
#include "kase/events/kase_generated.h"

namespace kase::engine {

/// Where a request belongs, for the `service` label: one of the five
/// e-services (R2), or, for requests outside any one of them, the area.
enum class Area : uint8_t {
  ekase = 0, eplans = 1, eestimates = 2, ereports = 3, eloans = 4,  // = fb::Service
  identity = 5,      // logins, means, blocks (R22–R29)
  applications = 6,  // applications (R3–R5, R7, R18, R20, R30, R31)
  messages = 7,      // messages (R36)
  treasury = 8,      // Treasury-wide settings: calendar, identity policy, client register, roles
};
inline constexpr size_t kAreas = 9;
const char* area_name(Area a) noexcept;

inline constexpr size_t kPayloadTypes = static_cast<size_t>(fb::Payload::MAX) + 1;
/// Payloads that name their e-service in a field (documents, plan rights,
/// service hours, suspensions, outages) are counted per service.
inline constexpr size_t kServiceSlots = 12;
inline constexpr size_t kServices = 5;
/// A counting slot: the payload type, or (type, service) for the payloads above.
inline constexpr size_t kKinds = kPayloadTypes + kServiceSlots * kServices;

/// R9: buckets of the share of a daily limit a user has used, after each
/// accepted payment-order action that enters the day total: bucket i holds
/// shares in ((i)/10, (i+1)/10], the last one exactly the limit.
inline constexpr size_t kLimitShareBuckets = 10;

struct Probe {
  /// Decisions by kind (see kind_of) and reason code (reason::Index); the
  /// reason `ok` is an acceptance, every other one a rejection.
  std::array<std::array<uint64_t, reason::kCount>, kKinds> decisions{};
  /// Decisions whose reason is not in the table (never, by construction; the
  /// metrics show it so that a gap cannot hide).
  uint64_t unknown_reason = 0;
  std::array<uint64_t, kLimitShareBuckets> limit_share{};  // not cumulative
  uint64_t limit_share_count = 0;
  /// Sum of the shares in millionths (integer, so that the fold stays exact).
  uint64_t limit_share_sum_ppm = 0;

  /// Counts one decision. Called by Engine::apply.
  void count(size_t kind, const char* reason) noexcept {
    const size_t r = reason::index_of(reason);
    if (r < reason::kCount) [[likely]] {
      ++decisions[kind][r];
    } else {
      ++unknown_reason;
    }
  }
  /// R9: counts a day total after an accepted action (0 < daily).
  void count_limit_share(int64_t day_total, int64_t daily) noexcept {
    if (daily <= 0 || day_total < 0) return;
    // Limits may be any int64: in double, no product can overflow.
    const double share = static_cast<double>(day_total) / static_cast<double>(daily);
    const double tenths = share * 10;  // bucket i: (i/10, (i+1)/10]
    size_t bucket = 0;
    while (bucket + 1 < kLimitShareBuckets && tenths > static_cast<double>(bucket + 1)) ++bucket;
    ++limit_share[bucket];
    ++limit_share_count;
    limit_share_sum_ppm += static_cast<uint64_t>(share * 1e6);
  }
};

/// The counting slot of a request (its payload type, or type and service).
size_t kind_of(const fb::Request& req) noexcept;
/// The payload type and area of a slot, for the labels.
struct KindLabels {
  fb::Payload type = fb::Payload::NONE;
  Area area = Area::treasury;
};
KindLabels labels_of(size_t kind) noexcept;

}  // namespace kase::engine
