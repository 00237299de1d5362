#include "kase/engine/probe.h"

namespace kase::engine {
namespace {

using fb::Payload;

/// The payloads that name their service, in slot order (see kServiceSlots).
constexpr Payload kServicePayloads[kServiceSlots] = {
    Payload::PlanRightsGranted, Payload::ServiceHoursNotice, Payload::ServiceSuspension, Payload::DocumentCreate,
    Payload::DocumentUpdate,    Payload::DocumentCheck,      Payload::DocumentApprove,   Payload::DocumentSign,
    Payload::DocumentSubmit,    Payload::DocumentAccept,     Payload::DocumentView,      Payload::ServiceOutage,
};

/// Payload type -> its slot among kServicePayloads, or -1: one load per decision.
constexpr std::array<int8_t, kPayloadTypes> kSlotOf = [] {
  std::array<int8_t, kPayloadTypes> a{};
  a.fill(-1);
  for (size_t i = 0; i < kServiceSlots; ++i) a[static_cast<size_t>(kServicePayloads[i])] = static_cast<int8_t>(i);
  return a;
}();

int service_slot(Payload t) noexcept { return kSlotOf[static_cast<size_t>(t)]; }

fb::Service service_field(const fb::Request& req) noexcept {
  switch (req.payload_type()) {
    case Payload::PlanRightsGranted: return req.payload_as_PlanRightsGranted()->service();
    case Payload::ServiceHoursNotice: return req.payload_as_ServiceHoursNotice()->service();
    case Payload::ServiceSuspension: return req.payload_as_ServiceSuspension()->service();
    case Payload::DocumentCreate: return req.payload_as_DocumentCreate()->service();
    case Payload::DocumentUpdate: return req.payload_as_DocumentUpdate()->service();
    case Payload::DocumentCheck: return req.payload_as_DocumentCheck()->service();
    case Payload::DocumentApprove: return req.payload_as_DocumentApprove()->service();
    case Payload::DocumentSign: return req.payload_as_DocumentSign()->service();
    case Payload::DocumentSubmit: return req.payload_as_DocumentSubmit()->service();
    case Payload::DocumentAccept: return req.payload_as_DocumentAccept()->service();
    case Payload::DocumentView: return req.payload_as_DocumentView()->service();
    case Payload::ServiceOutage: return req.payload_as_ServiceOutage()->service();
    default: return fb::Service::ekase;
  }
}

/// The area of a payload that does not name its service.
Area area_of(Payload t) noexcept {
  switch (t) {
    case Payload::LoginAttempt:
    case Payload::BreachReported:
    case Payload::MeansBlocked:
    case Payload::MeansRestored:
    case Payload::MeansRegistered:
    case Payload::MeansActivated:
    case Payload::IdentityFact:
      return Area::identity;
    case Payload::ApplicationSubmitted:
    case Payload::ApplicationRegistered:
    case Payload::ApplicationsAnnulled:
      return Area::applications;
    case Payload::MessagePosted:
    case Payload::MessageRead:
      return Area::messages;
    case Payload::CalendarOverride:
    case Payload::IdentityPolicy:
    case Payload::ClientRegistered:
    case Payload::PersonRolesSet:
    case Payload::NONE:
      return Area::treasury;
    case Payload::InstitutionStructure:
    case Payload::ReportRightsGranted:
    case Payload::DirectoryFact:  // mostly eReports' directory (R16, R19); ePlans' rights too (R6.5)
      return Area::ereports;
    case Payload::LoanRightsGranted:
      return Area::eloans;
    case Payload::AppropriationReceived:
      return Area::eplans;  // R2: appropriations against a financing plan
    default:
      return Area::ekase;  // accounts, rights, limits, orders, online requests, payment files
  }
}

}  // namespace

const char* area_name(Area a) noexcept {
  static constexpr const char* kNames[kAreas] = {"ekase",    "eplans",       "eestimates", "ereports", "eloans",
                                                 "identity", "applications", "messages",   "treasury"};
  const auto i = static_cast<size_t>(a);
  return i < kAreas ? kNames[i] : "treasury";
}

size_t kind_of(const fb::Request& req) noexcept {
  const Payload t = req.payload_type();
  if (t > Payload::MAX || req.payload() == nullptr) return static_cast<size_t>(Payload::NONE);
  const int slot = service_slot(t);
  if (slot < 0) return static_cast<size_t>(t);
  auto service = static_cast<size_t>(service_field(req));
  if (service >= kServices) service = 0;  // out of the enum: counted under ekase, rejected by the fold
  return kPayloadTypes + static_cast<size_t>(slot) * kServices + service;
}

KindLabels labels_of(size_t kind) noexcept {
  KindLabels l;
  if (kind < kPayloadTypes) {
    l.type = static_cast<Payload>(kind);
    l.area = area_of(l.type);
    return l;
  }
  const size_t i = kind - kPayloadTypes;
  if (i >= kServiceSlots * kServices) return l;
  l.type = kServicePayloads[i / kServices];
  l.area = static_cast<Area>(i % kServices);
  return l;
}

}  // namespace kase::engine
