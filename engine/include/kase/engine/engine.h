// The pure fold: (state, request) -> (state', verdict).
//
// No I/O, no clock, no randomness. Time is the request's intake time stamp.
// Iteration over unordered containers never reaches an output: the state hash
// (projections/) sorts its keys.
//
// Thread-safety: an Engine is owned by one thread (one per partition).
#pragma once

#include <array>
#include <climits>
#include <cstring>
#include <deque>
#include <span>
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "kase/engine/calendar.h"
#include "kase/engine/flat_table.h"
#include "kase/engine/hash.h"
#include "kase/engine/probe.h"
#include "kase/engine/reasons.h"
#include "kase/engine/string_index.h"
#include "kase/events/kase_generated.h"

namespace kase::engine {

using Cents = int64_t;
using fb::AccessMode;

/// The outcome of one request: data, never an exception.
struct Verdict {
  bool accepted = true;
  const char* reason = reason::kOk;  // stable code, see reasons.h
  const char* rule = "";      // rule ID, e.g. "R9"
  Cents amount = -1;
  Cents limit = -1;
  Cents day_total = -1;       // the user's day total before this request

  static Verdict ok(const char* rule) { Verdict v; v.rule = rule; return v; }
  static Verdict reject(const char* reason, const char* rule) {
    Verdict v;
    v.accepted = false;
    v.reason = reason;
    v.rule = rule;
    return v;
  }
};

/// One check the fold made for a request, for `kase audit explain`: which
/// check, under which rule, whether it passed, and the values it compared
/// (e.g. "amount 1,200.00 <= per-order limit 5,000.00").
struct TraceCheck {
  const char* check = "";  // stable name, e.g. "limit.per_order"
  const char* rule = "";   // rule ID, e.g. "R9"
  bool passed = true;
  std::string detail;
};

/// Collects the checks of every request applied while it is attached
/// (Engine::set_trace), in the order the engine made them; the last entry of
/// a request is its decision. Thread-safety: used by the engine's thread.
struct Trace {
  std::vector<TraceCheck> checks;
  void add(const char* check, const char* rule, bool passed, std::string detail) {
    checks.push_back(TraceCheck{check, rule, passed, std::move(detail)});
  }
};

/// Cents as euros with thousands separators: 120000 -> "1,200.00".
std::string format_cents(Cents c);

// ---- State ------------------------------------------------------------------
// Names (people, accounts, clients) are interned: the tables are keyed by small
// integer ids, so that the hot path hashes integers, not strings, and orders
// hold their signers without allocating. Ids never leave the process: the
// persisted keys and the state hash use the names (projections/).
inline constexpr char kKeySep = '\x1f';  // joins the parts of a persisted key

using NameId = uint32_t;
inline constexpr NameId kNoName = UINT32_MAX;

/// Two names as one key, e.g. (user, account).
using PairKey = uint64_t;
constexpr PairKey pair_key(NameId a, NameId b) noexcept { return static_cast<uint64_t>(a) << 32 | b; }
constexpr NameId first_of(PairKey k) noexcept { return static_cast<NameId>(k >> 32); }
constexpr NameId second_of(PairKey k) noexcept { return static_cast<NameId>(k); }

/// Interned names. Thread-safety: owned by the engine's thread.
class Names {
 public:
  Names() = default;
  Names(const Names&) = delete;
  Names& operator=(const Names&) = delete;
  /// The id of `s`, adding it when new.
  NameId intern(std::string_view s);
  /// The id of `s`, or kNoName.
  [[nodiscard]] NameId find(std::string_view s) const noexcept {
    const uint64_t* id = ids_.find(s);
    return id == nullptr ? kNoName : static_cast<NameId>(*id);
  }
  [[nodiscard]] std::string_view name(NameId id) const { return names_[id]; }
  [[nodiscard]] size_t size() const noexcept { return names_.size(); }

 private:
  StringIndex ids_;
  std::vector<std::string_view> names_;  // views into ids_'s stable key copies
};

/// Marks entries touched in the current batch so that the store writes each
/// touched key once per batch. Not part of the state.
struct Dirty {
  uint64_t batch = 0;
};

struct Account : Dirty {
  NameId owner_client = kNoName;
  bool deposit = false;
  bool closed = false;
  bool blocked = false;
  int32_t fiscal_year = 0;
  int32_t signature3_users = 0;  // R8.7, R8.8
  int32_t signature4_users = 0;
};

struct Representative : Dirty {
  bool head = false;
  bool specimen_card = false;
};

struct Grant : Dirty {
  NameId client = kNoName;
  AccessMode mode = AccessMode::none;
  Cents per_order_limit = 0;
  Cents daily_limit = 0;
  NameId application = kNoName;  // R7, R31: the application it was granted under, if any
};

enum class ApplicationStatus : uint8_t { submitted = 0, in_force = 1, superseded = 2, terminated = 3, annulled = 4 };
inline constexpr size_t kApplicationKinds = static_cast<size_t>(fb::ApplicationKind::MAX) + 1;

/// R3–R5, R7, R18, R20, R30, R31: one application document.
struct Application : Dirty {
  NameId client = kNoName;
  NameId user = kNoName;
  fb::ApplicationKind kind = fb::ApplicationKind::ekase;
  ApplicationStatus status = ApplicationStatus::submitted;
  int64_t signed_us = 0;
  int64_t registered_us = 0;
  DateYmd lapses_on = 0;  // R31: 3 years after registration (Riga date); 0 = never
  int64_t submitted_us = 0;  // intake of the application (R22 deadlines run from here)
  int64_t attached_us = 0;   // R22.2: first rights granted under it
  // R10 (schema version 2): the foreign accounts whose owner's permission the
  // application carries; registering it records the permissions for the client.
  std::vector<NameId> permitted_accounts;
};
/// R10: the most owner permissions one application carries.
inline constexpr size_t kOwnerPermissionsPerApplicationMax = 256;

/// R22.1, R22.2: an application registered or attached after its deadline,
/// or still waiting past it.
struct LateApplication {
  std::string client, application, user;
  fb::ApplicationKind kind = fb::ApplicationKind::ekase;
  const char* step = "";     // "registration" (R22.1) or "attachment" (R22.2)
  const char* rule = "";
  DateYmd deadline = 0;      // the last Riga business day allowed
  int64_t done_us = 0;       // when it happened; 0 = still waiting
};

/// Derived (rebuilt on load): the application in force per kind for (user, client).
struct InForce {
  std::array<NameId, kApplicationKinds> by_kind;
  InForce() { by_kind.fill(kNoName); }
};

/// R14, R15: one-day limits; -1 keeps the R7 limit.
struct LimitOverride : Dirty {
  Cents per_order_limit = -1;
  Cents daily_limit = -1;
};
struct OverrideKey {
  PairKey grant = 0;  // (user, account)
  DateYmd date = 0;
  bool operator==(const OverrideKey&) const = default;
};
struct OverrideKeyHash {
  size_t operator()(const OverrideKey& k) const noexcept {
    return IdHash{}(k.grant ^ (static_cast<uint64_t>(static_cast<uint32_t>(k.date)) * 0x9e3779b97f4a7c15ULL));
  }
};

/// R9: the user's total on one account for the business day `date`.
struct DayTotal : Dirty {
  DateYmd date = 0;
  Cents total = 0;
};

enum class OrderStatus : uint8_t { prepared = 0, submitted = 1, cancelled = 2 };

struct Signature {
  NameId user = kNoName;
  AccessMode mode = AccessMode::none;
};

/// R9: a user who counted the order in a day total, and on which day.
struct Counted {
  NameId user = kNoName;
  DateYmd date = 0;
};

/// Longest chain (R8: 2, 1, 3) and most people who count one order (its
/// preparer and three signers).
inline constexpr size_t kSignaturesMax = 3;
inline constexpr size_t kCountedMax = 4;

struct Order : Dirty {
  NameId client = kNoName;
  NameId account = kNoName;
  Cents amount = 0;
  NameId preparer = kNoName;
  std::string_view beneficiary;  // kept by the OrderTable (OrderTable::keep)
  OrderStatus status = OrderStatus::prepared;
  uint8_t signature_count = 0;
  uint8_t counted_count = 0;
  std::array<Signature, kSignaturesMax> signatures{};
  std::array<Counted, kCountedMax> counted{};

  [[nodiscard]] std::span<const Signature> signed_by() const { return {signatures.data(), signature_count}; }
  [[nodiscard]] std::span<const Counted> counted_by() const { return {counted.data(), counted_count}; }
};

/// Orders by (client, order id), the largest table: open addressing over
/// (hash, entry) slots, entries in a deque in insertion order. A lookup
/// touches one slot and the entry; prefetch() starts both loads early so that
/// a batch can overlap them. Entries are pairs of the persisted key
/// (client ␟ order) and the order; they are never erased.
class OrderTable {
 public:
  using Entry = std::pair<const std::string_view, Order>;

  OrderTable() : index_(kInitialSlots) {}
  OrderTable(const OrderTable&) = delete;
  OrderTable& operator=(const OrderTable&) = delete;
  [[nodiscard]] Entry* find(std::string_view client, std::string_view order) const noexcept {
    return index_.find(hash(client, order), [&](const Entry& e) { return matches(e, client, order); });
  }
  /// Adds an order. Precondition: find(client, order) == nullptr.
  Entry& emplace(std::string_view client, std::string_view order);
  /// By persisted key (client ␟ order), adding it when absent (loading state).
  Order& operator[](std::string_view key);
  /// By persisted key; throws std::out_of_range when absent (tests, tools).
  [[nodiscard]] const Order& at(std::string_view key) const;
  /// A copy of `s` that lives as long as the table (an order's beneficiary).
  std::string_view keep(std::string_view s) { return arena_.keep(s); }
  void prefetch(std::string_view client, std::string_view order) const noexcept {
    index_.prefetch(hash(client, order));
  }

  [[nodiscard]] size_t size() const noexcept { return entries_.size(); }
  [[nodiscard]] bool empty() const noexcept { return entries_.empty(); }
  [[nodiscard]] auto begin() const { return entries_.begin(); }
  [[nodiscard]] auto end() const { return entries_.end(); }

 private:
  static constexpr size_t kInitialSlots = 1 << 12;
  static uint64_t hash(std::string_view client, std::string_view order) noexcept {
    return IdHash{}(NameHash{}(client) * 0x9e3779b97f4a7c15ULL ^ NameHash{}(order));
  }
  static bool matches(const Entry& e, std::string_view client, std::string_view order) noexcept {
    const std::string_view k = e.first;
    return k.size() == client.size() + 1 + order.size() && k.substr(0, client.size()) == client &&
           k.substr(client.size() + 1) == order;
  }

  SlotIndex<Entry> index_;
  std::deque<Entry> entries_;
  StringArena arena_;  // the keys and beneficiaries: one allocation per MiB, not two per order
};

/// R25–R29: a person's identification state, shared by every client the
/// person works for (identity facts span clients).
struct Person : Dirty {
  uint8_t failures = 0;                           // consecutive wrong entries (R28.1)
  fb::BlockCause block = fb::BlockCause::none;
  fb::Means blocked_means = fb::Means::unknown;   // decides R29.1 or R29.2
  int64_t last_online_us = 0;                     // R28.4
  DateYmd short_day = 0;
  uint8_t short_intervals = 0;
  uint8_t means_registered = 0;  // R22: bit per fb::Means
  uint8_t means_exception = 0;   // R22.1.2: code card / calculator as a Treasury exception
  uint8_t means_activated = 0;   // R24: code card / calculator activated
  // Kafka, in the person's identity partition only: the other partitions
  // where the person is known (IdentityFact home), sorted; they receive the
  // person's identity state whenever it changes.
  std::vector<int32_t> homes;
};

/// R28.1, R28.4 thresholds (IdentityPolicy events).
struct IdentityPolicy {
  int32_t failures_to_block = 3;
  int64_t request_interval_us = 180LL * 1000 * 1000;
  int32_t short_intervals_to_block = 3;
};

/// R16, R21.1.1: what kind of client it is.
struct ClientInfo : Dirty {
  fb::ClientKind kind = fb::ClientKind::other;
};
/// R19: a person's roles for a client (fb::PersonRole bits).
struct Roles : Dirty {
  uint16_t bits = 0;
};

/// Rights in ePlans/eEstimates (R6), eReports (R19) and eLoans (R21).
enum class RightKind : uint8_t { plan = 0, report = 1, loan = 2 };
struct RightKey {
  NameId user = kNoName;
  NameId client = kNoName;
  uint32_t scope = 0;  // plan: fb::Service; report: the attached institution's NameId; loan: 0
  RightKind kind = RightKind::plan;
  bool operator==(const RightKey&) const = default;
};
struct RightKeyHash {
  size_t operator()(const RightKey& k) const noexcept {
    return IdHash{}(pair_key(k.user, k.client) ^ (static_cast<uint64_t>(k.scope) << 8 | static_cast<uint8_t>(k.kind)) *
                                                     0x9e3779b97f4a7c15ULL);
  }
};
struct ServiceRight : Dirty {
  uint8_t mode = 0;    // plan: fb::PlanMode; report: fb::ReportMode bits; loan: fb::LoanMode
  uint8_t groups = 0;  // report: fb::ReportGroup bits; loan: fb::LoanGroup bits
  NameId application = kNoName;  // R5, R18, R20, R31: the application it was granted under, if any
};
/// R16: an institution structure, per client, report type and year.
struct StructureKey {
  NameId client = kNoName;
  uint8_t type = 0;  // fb::ReportType
  int32_t year = 0;
  bool operator==(const StructureKey&) const = default;
};
struct StructureKeyHash {
  size_t operator()(const StructureKey& k) const noexcept {
    return IdHash{}((static_cast<uint64_t>(k.client) << 32) ^ (static_cast<uint64_t>(k.type) << 24) ^
                    static_cast<uint32_t>(k.year));
  }
};
struct Structure : Dirty {
  std::vector<NameId> institutions;
};

// ---- Documents in ePlans, eEstimates, eReports, eLoans (R6, R16, R19, R21) ----

/// Where a document stands. A financing plan: draft → approved → checked →
/// submitted. An estimate: draft → approved → signed (final). A report:
/// draft → checked → signed (finance employee) → submitted (head) → accepted.
/// A loan document: draft → signed → submitted.
enum class DocumentStatus : uint8_t { draft = 0, checked = 1, approved = 2, signed_once = 3, submitted = 4, accepted = 5 };
inline constexpr uint8_t kDocumentStatusMax = 5;
/// One transition of a document (the history's step).
enum class DocumentStep : uint8_t {
  create = 0, update = 1, check = 2, approve = 3, sign = 4, submit = 5, accept = 6, view = 7, appropriation = 8
};
inline constexpr uint8_t kDocumentStepMax = 8;
/// In whose role a signature was given.
enum class SignRole : uint8_t { none = 0, head = 1, finance_employee = 2, signer = 3 };
inline constexpr uint8_t kSignRoleMax = 3;

/// A document is keyed by its owner (the institution), its service and its id.
struct DocumentKey {
  NameId client = kNoName;
  NameId document = kNoName;
  uint8_t service = 0;  // fb::Service
  bool operator==(const DocumentKey&) const = default;
};
struct DocumentKeyHash {
  size_t operator()(const DocumentKey& k) const noexcept {
    return IdHash{}(pair_key(k.client, k.document) ^ (static_cast<uint64_t>(k.service) * 0x9e3779b97f4a7c15ULL));
  }
};
struct Document : Dirty {
  fb::DocumentKind kind = fb::DocumentKind::financing_plan;
  DocumentStatus status = DocumentStatus::draft;
  std::string digest;           // the current content's digest
  Cents amount = 0;             // a financing plan's total; a loan document's amount
  Cents appropriated = 0;       // R2: appropriations received against the plan; an agreement's disbursements submitted
  fb::ReportType report_type = fb::ReportType::annual;  // reports (R16)
  int32_t year = 0;
  std::string period;
  NameId first_signer = kNoName;  // the finance employee (reports), the loan signer, the head (estimates)
  NameId accepted_by = kNoName;   // the client that accepted a report (R19.2.4, R19.2.7)
  NameId agreement = kNoName;     // a disbursement request's loan agreement (R21.1.2)
  fb::AuditVerdict verdict = fb::AuditVerdict::none;  // R19.2.8
  std::string opinion_digest;
  uint32_t history_count = 0;     // entries in document_history
};
/// R16: one report of a kind per institution, report type, year and period.
struct ReportSlotKey {
  NameId client = kNoName;
  NameId period = kNoName;
  int32_t year = 0;
  uint8_t kind = 0;  // fb::DocumentKind
  uint8_t type = 0;  // fb::ReportType
  bool operator==(const ReportSlotKey&) const = default;
};
struct ReportSlotKeyHash {
  size_t operator()(const ReportSlotKey& k) const noexcept {
    return IdHash{}(pair_key(k.client, k.period) ^ (static_cast<uint64_t>(static_cast<uint32_t>(k.year)) << 20) ^
                    (static_cast<uint64_t>(k.kind) << 8) ^ k.type);
  }
};
/// One entry of a document's history: who did what, when, by which request.
struct HistoryKey {
  DocumentKey document;
  uint32_t seq = 0;
  bool operator==(const HistoryKey&) const = default;
};
struct HistoryKeyHash {
  size_t operator()(const HistoryKey& k) const noexcept {
    return IdHash{}(DocumentKeyHash{}(k.document) ^ (static_cast<uint64_t>(k.seq) << 40));
  }
};
struct DocumentEvent : Dirty {
  int64_t at_us = 0;
  std::string request_id;
  NameId actor = kNoName;
  NameId acting_for = kNoName;  // the client whose rights the actor used
  DocumentStep step = DocumentStep::create;
  DocumentStatus status = DocumentStatus::draft;  // after the step
  SignRole role = SignRole::none;
  fb::AuditVerdict verdict = fb::AuditVerdict::none;
  std::string digest;           // the content's (create, update) or the audit opinion's digest
  Cents amount = -1;            // the plan or loan amount, or the appropriation; -1 = none
};
/// A document's history holds at most this many entries; a step beyond it is refused.
inline constexpr uint32_t kDocumentHistoryMax = 1000;

const char* document_status_name(DocumentStatus s) noexcept;
const char* document_step_name(DocumentStep s) noexcept;
const char* sign_role_name(SignRole r) noexcept;
/// The service a kind of document belongs to.
fb::Service service_of(fb::DocumentKind k) noexcept;

/// R36: a message to a client's users.
struct Message : Dirty {
  NameId client = kNoName;
  int64_t posted_us = 0;
};

/// R36: a user with a message older than the read period still unread.
struct OverdueMessage {
  std::string client, user, message;
  int64_t posted_us = 0;
};
inline constexpr int64_t kMessageReadPeriodUs = 7LL * 24 * 3600 * 1000 * 1000;

/// R32, R34: hours and suspension of one e-service.
struct ServiceState {
  int32_t open_minute = 8 * 60;
  int32_t close_minute = 18 * 60;
  bool suspended = false;
  int64_t down_since_us = 0;     // R48: declared unable to work since (0 = working)
  int32_t expected_minutes = 0;  // R48: the outage's expected length
};

/// R48.1, R49: an accepted payment file, keyed by the digest of its bytes.
struct PaymentFile : Dirty {
  NameId client = kNoName;
  NameId account = kNoName;
  NameId signer = kNoName;   // the head or specimen-card person whose R9 limits apply
  int32_t payments = 0;      // R49.4
  int32_t applied = 0;       // payments turned into orders so far
  int32_t decided = 0;       // payments decided so far, turned into orders or refused: each once
  Cents total = 0;           // R49.5
  Cents applied_total = 0;
};

template <class K, class T, class H = IdHash>
using Table = FlatTable<K, T, H>;

struct State {
  Names names;
  Table<NameId, Account> accounts;                 // account
  Table<PairKey, Representative> representatives;  // (client, person)
  Table<PairKey, Grant> grants;                    // (user, account); mode none = revoked
  Table<PairKey, Dirty> permissions;               // (client, account): R10 permission given
  Table<OverrideKey, LimitOverride, OverrideKeyHash> limit_overrides;
  Table<PairKey, DayTotal> day_totals;             // (user, account)
  OrderTable orders;                               // (client, order)
  Table<NameId, Person> persons;                   // person (users and representatives)
  Table<NameId, Application> applications;         // application document id
  Table<PairKey, InForce> in_force;                // derived: (user, client)
  Table<NameId, Dirty> data_exchange;              // clients whose online exchange is established (R24)
  Table<NameId, Message> messages;                 // message id (R36)
  Table<NameId, ClientInfo> clients;               // client kind (R16, R21)
  Table<PairKey, Roles> roles;                     // (client, person) roles (R19)
  Table<RightKey, ServiceRight, RightKeyHash> service_rights;  // R6, R19, R21
  Table<StructureKey, Structure, StructureKeyHash> structures;  // (client, type, year) (R16)
  Table<PairKey, Dirty> message_reads;             // (message, user) (R36)
  Table<DocumentKey, Document, DocumentKeyHash> documents;             // (client, service, document)
  Table<NameId, PaymentFile> payment_files;        // file digest (R48.1, R49)
  Table<HistoryKey, DocumentEvent, HistoryKeyHash> document_history;  // (document, seq)
  Table<ReportSlotKey, NameId, ReportSlotKeyHash> report_slots;      // derived: the report's document id
  int32_t persons_with_means = 0;                  // derived: persons with registered means
  BusinessCalendar calendar;
  std::array<ServiceState, 5> services{};
  IdentityPolicy identity_policy;
  int32_t blocked_persons = 0;                     // derived: persons with a block
};

/// Entries touched since the last take_dirty(), by table. Pointers stay valid
/// while the engine lives: the fold never erases an entry.
struct DirtySet {
  template <class K, class V>
  using List = std::vector<const std::pair<const K, V>*>;
  List<NameId, Account> accounts;
  List<PairKey, Representative> representatives;
  List<PairKey, Grant> grants;
  List<PairKey, Dirty> permissions;
  List<OverrideKey, LimitOverride> limit_overrides;
  List<PairKey, DayTotal> day_totals;
  List<std::string_view, Order> orders;
  List<NameId, Person> persons;
  List<NameId, Application> applications;
  List<NameId, Dirty> data_exchange;
  List<NameId, Message> messages;
  List<PairKey, Dirty> message_reads;
  List<NameId, ClientInfo> clients;
  List<PairKey, Roles> roles;
  List<RightKey, ServiceRight> service_rights;
  List<StructureKey, Structure> structures;
  List<DocumentKey, Document> documents;
  List<NameId, PaymentFile> payment_files;
  List<HistoryKey, DocumentEvent> document_history;
  bool settings = false;  // calendar overrides, service states or identity policy changed
  [[nodiscard]] size_t size() const {
    return accounts.size() + representatives.size() + grants.size() + permissions.size() +
           limit_overrides.size() + day_totals.size() + orders.size() + persons.size() + applications.size() + data_exchange.size() + messages.size() +
           message_reads.size() + clients.size() + roles.size() + service_rights.size() + structures.size() +
           documents.size() + document_history.size() + payment_files.size() + (settings ? 1 : 0);
  }
};

/// Schema versions this engine decides. Older versions stay decidable (R42).
inline constexpr uint16_t kSchemaVersionMin = 1;
inline constexpr uint16_t kSchemaVersionMax = 2;
/// R42: from this version every rights grant names the registered application
/// it stands on (R5, R7, R18, R20) and R10's owner permission travels on the
/// application; requests of older versions are decided as they were.
inline constexpr uint16_t kSchemaVersionGrantsUnderApplications = 2;
/// R42, R14: from this version a one-day limit change names the registered
/// annex 3 application (kind ekase_limit_change) of the user and client it
/// stands on; older requests are decided as they were (the Treasury's word).
inline constexpr uint16_t kSchemaVersionLimitChangesUnderApplications = 2;
/// R42, R21.1.2: from this version a disbursement request names the loan
/// agreement it draws on. Older ones named none and are decided as they were:
/// created and submitted without an agreement (one that names an agreement is
/// checked against it in every version).
inline constexpr uint16_t kSchemaVersionDisbursementsUnderAgreements = 2;

/// Where an engine's fold runs: partition `partition` of `partitions` of the
/// requests topic. Embedded: {0, 1}. The topology never changes a decision;
/// it only says which identity facts a fold sends (Engine::outbox()).
struct Topology {
  int32_t partition = 0;
  int32_t partitions = 1;
};

/// The identity partition of a person: where requests that change the
/// person's identity (logins, breach reports, blocks, restorations, means)
/// are produced and decided, on Kafka (FNV-1a of the person id).
int32_t identity_partition(std::string_view person, int32_t partitions) noexcept;
/// The person whose identity `req` changes, for requests produced to that
/// person's identity partition (LoginAttempt, BreachReported, MeansBlocked,
/// MeansRestored, MeansRegistered, MeansActivated); empty for the others.
std::string_view identity_subject(const fb::Request& req) noexcept;

/// Treasury-wide settings, produced to every partition: calendar overrides,
/// service hours and suspensions, the identity policy.
bool treasury_wide(fb::Payload t) noexcept;
/// The partition of a client's requests on Kafka: Kafka's murmur2 of the
/// client id, where the Java client and librdkafka's murmur2 partitioner put a
/// message keyed by it.
int32_t client_partition(std::string_view client, int32_t partitions) noexcept;

/// A directory fact for other partitions, sent by the fold (DirectoryFact):
/// the acting client's entries a step on another client's document needs
/// (R6.5, R19.2.4, R19.2.7, R19.2.8), or a report accepted by a client of
/// another partition (R19.2.4).
struct DirectoryOut {
  static constexpr int32_t kEveryOther = -1;
  int32_t to = kEveryOther;  // the partition it is for, or every partition but this one
  fb::DirectoryFactKind kind = fb::DirectoryFactKind::client;
  NameId client = kNoName;
  fb::ClientKind client_kind = fb::ClientKind::other;
  NameId person = kNoName;
  uint16_t roles = 0;
  fb::ReportType report_type = fb::ReportType::annual;
  int32_t year = 0;
  std::vector<NameId> institutions;
  fb::Service service = fb::Service::ekase;
  NameId scope = kNoName;
  uint8_t mode = 0;
  uint8_t groups = 0;
  NameId application = kNoName;
  fb::ApplicationKind application_kind = fb::ApplicationKind::eplans_eestimates;
  uint8_t status = 0;
  int64_t signed_us = 0;
  int64_t registered_us = 0;
  int32_t lapses_on = 0;
  NameId document = kNoName;
  fb::DocumentKind document_kind = fb::DocumentKind::report;
  std::string period;
  NameId accepted_by = kNoName;
};

/// An identity fact for another partition, sent by the fold (IdentityFact).
struct IdentityOut {
  int32_t to = 0;  // the partition it is for
  fb::IdentityFactKind kind = fb::IdentityFactKind::home;
  NameId person = kNoName;
  fb::BlockCause block = fb::BlockCause::none;
  fb::Means blocked_means = fb::Means::unknown;
  bool restored = false;
  uint8_t means_registered = 0;
  uint8_t means_exception = 0;
  uint8_t means_activated = 0;
};

class Engine {
 public:
  Engine() = default;
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  /// Decides one verified request and, when accepted, applies it to the state.
  /// Precondition: `req` passed the FlatBuffers verifier.
  Verdict apply(const fb::Request& req);

  /// Starts loading the state `req` will touch (a hint, no effect on the
  /// outcome): callers that hold a batch prefetch a few requests ahead.
  void prefetch(const fb::Request& req) const noexcept;

  [[nodiscard]] const State& state() const noexcept { return state_; }
  /// For loading persisted state only (projections/); not for deciding.
  State& mutable_state() noexcept { return state_; }

  /// Hands over the entries touched since the last call and starts a new batch.
  DirtySet take_dirty();

  /// Attaches a trace sink (not owned; null detaches): every later apply()
  /// records the checks it makes, with the values compared, into it. Tracing
  /// never changes a decision. With no sink, apply() pays one predictable
  /// branch: the payment-order path is compiled a second time for tracing
  /// (the T parameter below), so its untraced copy holds no trace code.
  void set_trace(Trace* trace) noexcept { trace_ = trace; }

  /// What the fold has counted since the engine was made (decisions by kind
  /// and reason, the R9 share of daily limits used); see probe.h.
  [[nodiscard]] const Probe& probe() const noexcept { return probe_; }

  /// Kafka: the partition this fold decides. With more than one partition,
  /// deciding a request may put identity facts for other partitions in the
  /// outbox, in the order they arose; the caller delivers them with the
  /// request's decision (same transaction) and clears the outbox.
  void set_topology(Topology t) noexcept { topology_ = t; }
  [[nodiscard]] const Topology& topology() const noexcept { return topology_; }
  [[nodiscard]] const std::vector<IdentityOut>& outbox() const noexcept { return outbox_; }
  /// The directory facts deciding a request put out (DirectoryFact), after its identity facts.
  [[nodiscard]] const std::vector<DirectoryOut>& directory_outbox() const noexcept { return directory_outbox_; }
  [[nodiscard]] bool has_facts() const noexcept { return !outbox_.empty() || !directory_outbox_.empty(); }
  void clear_outbox() noexcept {
    outbox_.clear();
    directory_outbox_.clear();
  }

 private:
  // T is detail::NoTrace (compiled out) or detail::Tracing (records into a
  // sink when it is not null): see engine/src/checks.h.
  template <class T>
  Verdict decide(const fb::Request& req, T tr);
  Verdict check_envelope(const fb::Request& req) const;
  Verdict check_service_open(fb::Service service, const RigaTime& t) const;
  // The values a check compared, for a trace (off the hot path).
  std::string service_detail(fb::Service service, const RigaTime& t) const;
  std::string application_detail(NameId application, const RigaTime& t) const;
  std::string means_detail(NameId client, NameId user, AccessMode mode, fb::Means means) const;
  std::string name_of(NameId id) const;
  /// Off the hot path: records a check when a trace is attached.
  void note(const char* check, const char* rule, bool passed, std::string detail) const {
    if (trace_ != nullptr) trace_->add(check, rule, passed, std::move(detail));
  }
  [[nodiscard]] bool tracing() const noexcept { return trace_ != nullptr; }

  Verdict on_account_opened(const fb::Request& req, const fb::AccountOpened& p);
  Verdict on_account_closed(const fb::AccountClosed& p);
  Verdict on_account_blocked(const fb::AccountBlocked& p);
  Verdict on_account_unblocked(const fb::AccountUnblocked& p);
  Verdict on_deposit_flag(const fb::AccountDepositFlagSet& p);
  Verdict on_opened_for_year(const fb::AccountOpenedForYear& p);
  Verdict on_representative(const fb::Request& req, const fb::RepresentativeRegistered& p);
  Verdict on_rights_granted(const fb::Request& req, const fb::RightsGranted& p);
  Verdict on_rights_revoked(const fb::Request& req, const fb::RightsRevoked& p);
  Verdict on_limit_change(const fb::Request& req, const RigaTime& t, const fb::LimitChangeOneDay& p);
  template <class T>
  Verdict on_prepare(const fb::Request& req, const RigaTime& t, const flatbuffers::String* order,
                     const flatbuffers::String* account, Cents amount,
                     const flatbuffers::String* beneficiary, bool import, T tr);
  template <class T>
  Verdict on_sign(const fb::Request& req, const RigaTime& t, const fb::PaymentOrderSign& p, T tr);
  template <class T>
  Verdict on_cancel(const fb::Request& req, const fb::PaymentOrderCancel& p, T tr);
  Verdict on_service_hours(const fb::ServiceHoursNotice& p);
  Verdict on_suspension(const fb::ServiceSuspension& p);
  Verdict on_calendar_override(const fb::CalendarOverride& p);
  Verdict on_login(const fb::Request& req, const fb::LoginAttempt& p);
  Verdict on_breach_reported(const fb::Request& req);
  Verdict on_means_blocked(const fb::MeansBlocked& p);
  Verdict on_means_restored(const fb::MeansRestored& p);
  Verdict on_online_request(const fb::Request& req, const RigaTime& t, const fb::OnlineDataRequest& p);
  Verdict on_identity_policy(const fb::IdentityPolicy& p);
  Verdict on_application_submitted(const fb::Request& req, const fb::ApplicationSubmitted& p);
  Verdict on_application_registered(const fb::Request& req, const RigaTime& t, const fb::ApplicationRegistered& p);
  Verdict on_applications_annulled(const fb::Request& req);
  Verdict on_means_registered(const fb::MeansRegistered& p);
  Verdict on_means_activated(const fb::MeansActivated& p);
  Verdict on_data_exchange(const fb::Request& req, const fb::DataExchangeEstablished& p);
  Verdict on_message_posted(const fb::Request& req, const fb::MessagePosted& p);
  Verdict on_message_read(const fb::Request& req, const fb::MessageRead& p);
  Verdict on_client_registered(const fb::Request& req, const fb::ClientRegistered& p);
  Verdict on_roles(const fb::Request& req, const fb::PersonRolesSet& p);
  Verdict on_plan_rights(const fb::Request& req, const fb::PlanRightsGranted& p);
  Verdict on_structure(const fb::Request& req, const fb::InstitutionStructure& p);
  Verdict on_report_rights(const fb::Request& req, const fb::ReportRightsGranted& p);
  Verdict on_loan_rights(const fb::Request& req, const fb::LoanRightsGranted& p);
  fb::ClientKind client_kind(NameId client) const;
  uint16_t roles_of(NameId client, NameId person) const;
  void set_service_right(const RightKey& k, uint8_t mode, uint8_t groups, NameId application);
  /// R7, R30, R31: whether the application rights stand on is in force at t;
  /// `rule` is the one-per-user rule of its kind (R5, R7, R18, R20).
  Verdict check_application(NameId application, const char* rule, const RigaTime& t) const;
  /// R14 (schema version 2): the annex 3 application a one-day change stands on.
  Verdict limit_change_application(const fb::Request& req, const fb::LimitChangeOneDay& p, const RigaTime& t) const;
  /// R5, R7, R18, R20: rights granted under an application need it registered,
  /// in force, of `kind`, for that user and client. From schema version 2 the
  /// application is required and a lapsed one is refused (R31). Hands back its
  /// id (kNoName when none is named) and records the first attachment (R22.2).
  Verdict grant_application(const fb::Request& req, const flatbuffers::String* application, fb::ApplicationKind kind,
                            const flatbuffers::String* user, const char* rule, NameId* out);
  /// R16: whether `institution` is in any of the client's structures.
  bool attached(NameId client, NameId institution) const;
  /// R16, R31: the client's structure for a report type and year: that year's,
  /// for an annual report also the next year's (R16.1 names the report year
  /// and the previous one), else the newest earlier one. Null when none.
  const Structure* structure_in_force(NameId client, fb::ReportType type, int32_t year) const;
  Verdict check_consolidation(NameId owner, const Document& consolidated) const;

  // Documents (documents.cpp).
  struct DocumentRequest;
  struct DocumentRights;
  using DocumentEntry = std::pair<const DocumentKey, Document>;
  Verdict on_document(const fb::Request& req, const RigaTime& t);
  Verdict on_exchange_test(const fb::Request& req, const RigaTime& t, const DocumentRequest& d);
  Verdict on_appropriation(const fb::Request& req, const fb::AppropriationReceived& p);
  Verdict check_disbursement(const DocumentRequest& d, NameId owner, const Document* doc, DocumentEntry** agreement);
  // Fallback payment files (fallback.cpp).
  Verdict on_outage(const fb::Request& req, const fb::ServiceOutage& p);
  Verdict on_payment_file(const fb::Request& req, const fb::PaymentFileSubmitted& p);
  Verdict on_payment_from_file(const fb::Request& req, const RigaTime& t, const fb::PaymentFromFile& p);
  /// The actor's rights for a step on a document of `owner`, through the
  /// client `acting_for` names (R6.5, R16, R19.2.4, R19.2.7, R19.2.8).
  Verdict document_rights(const fb::Request& req, const RigaTime& t, const DocumentRequest& d, NameId owner,
                          fb::ReportType type, int32_t year, DocumentRights* out) const;
  /// The mode and group the step needs, then the document's status (R6, R19, R21).
  Verdict document_step(const DocumentRequest& d, const DocumentRights& rights, NameId owner,
                        fb::DocumentKind kind, const Document* doc, NameId user, DocumentStatus* next,
                        SignRole* role) const;
  void record(DocumentEntry& e, const fb::Request& req, DocumentStep step, NameId acting_for, SignRole role,
              fb::AuditVerdict verdict, std::string_view digest, Cents amount);

  using PersonEntry = std::pair<const NameId, Person>;
  /// The person's entry, created when absent (people get one with their
  /// first grant or registration).
  PersonEntry& person(NameId id);
  /// R28: a blocked person's requests are refused, naming the block.
  Verdict check_not_blocked(const fb::Request& req) const;
  void block(PersonEntry& p, fb::BlockCause cause, fb::Means means);
  /// Identity facts (IdentityFact): what a partition sends when a person
  /// becomes known there, when it changes a person's identity, and what the
  /// identity partition sends to the person's homes.
  Verdict on_identity_fact(const fb::IdentityFact& p);
  [[nodiscard]] bool fanning() const noexcept { return topology_.partitions > 1; }
  [[nodiscard]] int32_t identity_home(NameId person) const;
  /// A change decided here: to the identity partition, or from it to the homes.
  void identity_changed(PersonEntry& e, IdentityOut change);
  void send_state(const PersonEntry& e, int32_t to);
  /// Directory facts (DirectoryFact): a client's kind, roles, structures,
  /// ePlans/eReports rights and the applications they stand on, copied to the
  /// other partitions; a report accepted by a client of another partition.
  Verdict on_directory_fact(const fb::DirectoryFact& f);
  void share_client(NameId client, fb::ClientKind kind);
  void share_roles(NameId client, NameId person, uint16_t roles);
  void share_structure(const StructureKey& k, const Structure& st);
  void share_right(const RightKey& k, const ServiceRight& r);
  void share_application(NameId id, const Application& a);
  void share_accepted_report(const DocumentKey& k, const Document& d);
  void put_service_right(const RightKey& k, uint8_t mode, uint8_t groups, NameId application);
  /// R28.4: counts an online data request; blocks after too many short intervals.
  bool count_online_request(NameId user, const RigaTime& t, int64_t intake_us);

  using AccountEntry = std::pair<const NameId, Account>;
  using GrantEntry = std::pair<const PairKey, Grant>;
  AccountEntry* find_account(const flatbuffers::String* name);
  /// R7, R30: ends a grant (mode none), keeping the account's counts right.
  void revoke(GrantEntry& g);
  Verdict set_account_flag(const flatbuffers::String* account, bool Account::*flag, bool value,
                           const char* already);
  /// The live grant of `user` on `account` for the request's client, or null.
  GrantEntry* find_grant(const fb::Request& req, const flatbuffers::String* user,
                         const flatbuffers::String* account);

  /// The user's grant on the account for the request's client, after the
  /// R11–R13 fall-backs, or a rejection.
  struct ActingRights {
    Grant* grant = nullptr;
    Account* account = nullptr;
  };
  template <class T>
  Verdict acting_rights(NameId client, NameId user, NameId account, const RigaTime& t, fb::Means means,
                        ActingRights* out, T tr);
  /// R22.1, R24: the means of the request are registered, activated and strong
  /// enough for the mode; online modes need the client's data exchange.
  Verdict check_means(NameId client, NameId user, AccessMode mode, fb::Means means) const;
  /// R9, R14, R15: the limits in force for the user on the account that day.
  void limits_for(PairKey grant_key, const Grant& g, DateYmd date, Cents* per_order, Cents* daily) const;
  using DayTotalEntry = std::pair<const PairKey, DayTotal>;
  /// R9: checks the limits; says whether the order enters the user's day total
  /// and hands back the user's day-total entry when there is one.
  template <class T>
  Verdict check_limits(NameId user, NameId account, const Grant& g, const Order* order, Cents amount,
                       const RigaTime& t, bool* count, DayTotalEntry** day_total, T tr);
  /// Adds the order to the user's day total; `daily` is the limit in force
  /// (for the probe's share of the limit used).
  void count_in_day_total(Order& o, NameId user, Cents amount, DateYmd date, Cents daily, DayTotalEntry* entry);


  template <class K, class T>
  void touch(std::pair<const K, T>& entry, std::vector<const std::pair<const K, T>*>& list) {
    if (entry.second.batch != batch_) {
      entry.second.batch = batch_;
      list.push_back(&entry);
    }
  }

  /// R32: whether a local day is a business day, cached for the last day
  /// seen; calendar overrides invalidate it.
  bool is_business_day(const RigaTime& t) const;

  State state_;
  DirtySet dirty_;
  RigaClock clock_;
  mutable int64_t business_day_number_ = INT64_MIN;
  mutable bool business_day_ = false;
  uint64_t batch_ = 1;
  Trace* trace_ = nullptr;  // not owned; null on the hot path
  Probe probe_;
  Topology topology_;
  std::vector<IdentityOut> outbox_;
  std::vector<DirectoryOut> directory_outbox_;
};

/// R36: the users (holding rights for the message's client) who have not read
/// a message posted more than 7 days before `now_us`, sorted by client, user,
/// message. Pure: a read model over the state.
std::vector<OverdueMessage> overdue_messages(const State& s, int64_t now_us);

/// R22: the applications past their deadlines at `now_us` — registration within
/// 1 business day, attachment of services and modes within 3 business days
/// after the application — sorted by client and application. Pure.
std::vector<LateApplication> late_applications(const State& s, int64_t now_us);

/// The `n`th business day after `from` (n >= 1), by the calendar with its overrides.
DateYmd add_business_days(const BusinessCalendar& c, DateYmd from, int n);

/// "R8.5" etc. for a mode; "R8" for none.
const char* rule_of(AccessMode mode) noexcept;
/// R8.1, R8.2, R8.3, R8.9: modes that only view.
bool is_view_mode(AccessMode mode) noexcept;
/// R9: modes that carry per-order and daily limits (R8.4–R8.8, R8.10).
bool has_limits(AccessMode mode) noexcept;

}  // namespace kase::engine
