// Read models over the state, as JSON (Boost.JSON): what a person holds, and
// which users have overdue unread messages (R36). Used by `kase query`.
#pragma once

#include <cstdint>
#include <span>
#include <string>

#include "kase/engine/engine.h"
#include "kase/projections/store.h"

namespace kase::adapters {

/// Rebuilds the state as of `at_us` (requests with intake_us <= at_us) from a
/// store's log into `engine`.
Status state_at(projections::Store* store, int64_t at_us, engine::Engine* engine);

/// A person's rights per account (mode, limits, today's total, the
/// application they stand on), means and block, as one JSON object.
std::string person_json(const engine::State& s, std::string_view person, int64_t at_us);

/// R36: one JSON object per line for each user with a message unread for more
/// than 7 days at `at_us`.
std::string overdue_messages_jsonl(const engine::State& s, int64_t at_us);

/// R22: one JSON object per line for each application registered or attached
/// late, or still waiting past its deadline, at `at_us`.
std::string late_applications_jsonl(const engine::State& s, int64_t at_us);

/// A document's current state and full history — who did what, when, by
/// which request — as one JSON object (R37, R47). `"known": false` when the
/// client has no such document in that service.
std::string document_json(const engine::State& s, std::string_view client, fb::Service service,
                          std::string_view document);
/// The service of `name` when it is one with documents (eplans, eestimates,
/// ereports, eloans).
bool document_service(std::string_view name, fb::Service* out);
/// Whether `user` holds rights in `service` on `client`'s own documents: what
/// a user certificate needs to read one (R41).
bool holds_document_rights(const engine::State& s, std::string_view user, std::string_view client,
                           fb::Service service);

/// A payment order of a client: account, amount, preparer, status and the
/// signatures so far (R8), as one JSON object; empty when there is no such order.
std::string order_json(const engine::State& s, std::string_view client, std::string_view order);

/// An application (R3) with its status, validity (R31) and its R22 deadlines
/// (registration within 1 business day, attachment within 3), as one JSON
/// object; empty when there is no such application.
std::string application_json(const engine::State& s, std::string_view application);

/// R28: every person whose means are blocked, with the cause and its rule, as
/// a JSON array sorted by person.
std::string blocks_json(const engine::State& s);

/// JSON lines as one JSON array.
std::string jsonl_to_array(std::string_view lines);

/// JSON arrays (of objects) as one: the elements in order, each distinct
/// element once (Kafka partitions that each know a person list it once).
/// Objects with a "person" field are sorted by it, as blocks_json sorts.
std::string merge_json_arrays(std::span<const std::string> arrays);

}  // namespace kase::adapters
