// libFuzzer targets for request decoding: binary (verifier) and JSON (parser),
// each followed by the fold, which must never crash on what decodes.
// Built with clang in the `fuzz` preset; with KASE_FUZZ_STANDALONE a plain
// main() replays corpus files so that the targets build and run in every test run.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "kase/engine/engine.h"
#include "kase/events/build.h"
#include "kase/events/codec.h"

namespace {

kase::engine::Engine& engine() {
  // A little state so that decoded requests reach deep into the fold.
  static kase::engine::Engine* e = [] {
    auto* x = new kase::engine::Engine();
    const int64_t t = 1796025600000000;  // Monday 2026-11-30 10:00 Riga
    kase::events::Envelope env{"s", "C1", "op", kase::fb::Channel::treasury, t};
    using K = kase::fb::ApplicationKind;
    for (const std::string& r :
         {kase::events::account_opened(env, "A1", "C1", false, 2026),
          kase::events::representative(env, "head", true, true),
          // R7, R5, R18: rights stand on registered applications (schema version 2).
          kase::events::application_submitted(env, "a-s2", K::ekase, "s2", "head", t, "d"),
          kase::events::application_registered(env, "a-s2"),
          kase::events::application_submitted(env, "a-head", K::ekase, "head", "head", t, "d"),
          kase::events::application_registered(env, "a-head"),
          kase::events::application_submitted(env, "p-s2", K::eplans_eestimates, "s2", "head", t, "d"),
          kase::events::application_registered(env, "p-s2"),
          kase::events::application_submitted(env, "p-head", K::eplans_eestimates, "head", "head", t, "d"),
          kase::events::application_registered(env, "p-head"),
          kase::events::application_submitted(env, "r-s2", K::ereports_users, "s2", "head", t, "d"),
          kase::events::application_registered(env, "r-s2"),
          kase::events::rights_granted_under(env, "s2", "A1", kase::fb::AccessMode::signature_2, 100000, 500000,
                                             "a-s2"),
          kase::events::rights_granted_under(env, "head", "A1", kase::fb::AccessMode::signature_4, 100000, 500000,
                                             "a-head"),
          // A plan and a report, so that document steps get past "unknown".
          kase::events::plan_rights(env, "s2", kase::fb::Service::eplans, kase::fb::PlanMode::institution_manage,
                                    "p-s2"),
          kase::events::plan_rights(env, "head", kase::fb::Service::eplans, kase::fb::PlanMode::approve, "p-head"),
          kase::events::report_rights(env, "s2", "C1", kase::fb::ReportGroup::view_prepare, kase::fb::ReportMode::manage,
                                      "r-s2"),
          kase::events::document_create({"s", "C1", "s2", kase::fb::Channel::portal, t}, kase::fb::Service::eplans, "P1",
                                        kase::fb::DocumentKind::financing_plan, "sha256:p1", 100000),
          kase::events::report_create({"s", "C1", "s2", kase::fb::Channel::portal, t}, "R1",
                                      kase::fb::DocumentKind::report, "sha256:r1", kase::fb::ReportType::annual, 2026,
                                      "Y")}) {
      (void)x->apply(*kase::events::verify_request(kase::events::bytes_of(r)));
    }
    return x;
  }();
  return *e;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::span<const uint8_t> bytes(data, size);
#if defined(KASE_FUZZ_JSON)
  static kase::events::JsonCodec codec;
  std::span<const uint8_t> bin;
  std::string error;
  if (codec.request_from_json(std::string_view(reinterpret_cast<const char*>(data), size), 1796025600000000,
                              &bin, &error) != kase::events::JsonStatus::ok)
    return 0;
  bytes = bin;
#endif
  const kase::fb::Request* req = kase::events::verify_request(bytes);
  if (req == nullptr) return 0;
  (void)engine().apply(*req);
  return 0;
}

#if defined(KASE_FUZZ_STANDALONE)
#include "standalone_main.h"
#endif
