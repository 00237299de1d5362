// The pure fold: (state, request) -> (state', verdict).
//
// No I/O, no clock, no randomness. Time is the request's intake time stamp.
// Iteration over unordered containers never reaches an output: the state hash
// (projections/) sorts its keys.
//
// Thread-safety: an Engine is owned by one thread (one per partition).
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "kase/engine/calendar.h"
#include "kase/events/kase_generated.h"

namespace kase::engine {

using Cents = int64_t;
using fb::AccessMode;

/// The outcome of one request: data, never an exception (STYLE.md, "Errors").
struct Verdict {
  bool accepted = true;
  const char* reason = "ok";  // stable code, see reasons.h
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

// ---- State ------------------------------------------------------------------
// Every map key is the RocksDB key of the entry (projections/ persists them
// as they are). Composite keys join their parts with kKeySep.
inline constexpr char kKeySep = '\x1f';

/// Marks entries touched in the current batch so that the store writes each
/// touched key once per batch (DESIGN.md, "Durability"). Not part of the state.
struct Dirty {
  uint64_t batch = 0;
};

struct Account : Dirty {
  std::string owner_client;
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
  std::string client;
  AccessMode mode = AccessMode::none;
  Cents per_order_limit = 0;
  Cents daily_limit = 0;
};

/// R14, R15: one-day limits; -1 keeps the R7 limit.
struct LimitOverride : Dirty {
  Cents per_order_limit = -1;
  Cents daily_limit = -1;
};

/// R9: the user's total on one account for the business day `date`.
struct DayTotal : Dirty {
  DateYmd date = 0;
  Cents total = 0;
};

enum class OrderStatus : uint8_t { prepared = 0, submitted = 1, cancelled = 2 };

struct Signature {
  std::string user;
  AccessMode mode = AccessMode::none;
};

/// R9: a user who counted the order in a day total, and on which day.
struct Counted {
  std::string user;
  DateYmd date = 0;
};

struct Order : Dirty {
  std::string client;
  std::string account;
  Cents amount = 0;
  std::string preparer;
  std::string beneficiary;
  OrderStatus status = OrderStatus::prepared;
  std::vector<Signature> signatures;
  std::vector<Counted> counted;
};

/// R32, R34: hours and suspension of one e-service.
struct ServiceState {
  int32_t open_minute = 8 * 60;
  int32_t close_minute = 18 * 60;
  bool suspended = false;
};

template <class T>
using Table = std::unordered_map<std::string, T>;

struct State {
  Table<Account> accounts;               // account
  Table<Representative> representatives; // client ␟ person
  Table<Grant> grants;                   // user ␟ account (mode none = revoked)
  Table<Dirty> permissions;              // client ␟ account: R10 permission given
  Table<LimitOverride> limit_overrides;  // user ␟ account ␟ YYYYMMDD
  Table<DayTotal> day_totals;            // user ␟ account
  Table<Order> orders;                   // client ␟ order
  BusinessCalendar calendar;
  std::array<ServiceState, 5> services{};
};

/// Entries touched since the last take_dirty(), by table. Pointers stay valid
/// while the engine lives: the fold never erases an entry.
struct DirtySet {
  std::vector<const std::pair<const std::string, Account>*> accounts;
  std::vector<const std::pair<const std::string, Representative>*> representatives;
  std::vector<const std::pair<const std::string, Grant>*> grants;
  std::vector<const std::pair<const std::string, Dirty>*> permissions;
  std::vector<const std::pair<const std::string, LimitOverride>*> limit_overrides;
  std::vector<const std::pair<const std::string, DayTotal>*> day_totals;
  std::vector<const std::pair<const std::string, Order>*> orders;
  bool settings = false;  // calendar overrides or service states changed
  [[nodiscard]] size_t size() const {
    return accounts.size() + representatives.size() + grants.size() + permissions.size() +
           limit_overrides.size() + day_totals.size() + orders.size() + (settings ? 1 : 0);
  }
};

/// Schema versions this engine decides. Older versions stay decidable (R42).
inline constexpr uint16_t kSchemaVersionMin = 1;
inline constexpr uint16_t kSchemaVersionMax = 1;

class Engine {
 public:
  Engine() = default;
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  /// Decides one verified request and, when accepted, applies it to the state.
  /// Precondition: `req` passed the FlatBuffers verifier.
  Verdict apply(const fb::Request& req);

  [[nodiscard]] const State& state() const noexcept { return state_; }
  /// For loading persisted state only (projections/); not for deciding.
  State& mutable_state() noexcept { return state_; }

  /// Hands over the entries touched since the last call and starts a new batch.
  DirtySet take_dirty();

 private:
  Verdict check_envelope(const fb::Request& req) const;
  Verdict check_service_open(fb::Service service, const RigaTime& t) const;

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
  Verdict on_prepare(const fb::Request& req, const RigaTime& t, const flatbuffers::String* order,
                     const flatbuffers::String* account, Cents amount,
                     const flatbuffers::String* beneficiary, bool import);
  Verdict on_sign(const fb::Request& req, const RigaTime& t, const fb::PaymentOrderSign& p);
  Verdict on_cancel(const fb::Request& req, const fb::PaymentOrderCancel& p);
  Verdict on_service_hours(const fb::ServiceHoursNotice& p);
  Verdict on_suspension(const fb::ServiceSuspension& p);
  Verdict on_calendar_override(const fb::CalendarOverride& p);

  /// The user's mode on the account for the request's client, after the
  /// R11–R13 fall-backs, or a rejection.
  struct ActingRights {
    Grant* grant = nullptr;
    Account* account = nullptr;
  };
  Verdict acting_rights(const fb::Request& req, std::string_view user, std::string_view account,
                        const RigaTime& t, ActingRights* out);
  /// R9, R14, R15: the limits in force for the user on the account that day.
  void limits_for(std::string_view user, std::string_view account, const Grant& g, DateYmd date,
                  Cents* per_order, Cents* daily);
  using DayTotalEntry = std::pair<const std::string, DayTotal>;
  /// R9: checks the limits; says whether the order enters the user's day total
  /// and hands back the user's day-total entry when there is one.
  Verdict check_limits(std::string_view user, std::string_view account, const Grant& g,
                       const Order* order, Cents amount, const RigaTime& t, bool* count,
                       DayTotalEntry** day_total);
  void count_in_day_total(Order& o, std::string_view user, Cents amount, DateYmd date,
                          DayTotalEntry* entry);

  const std::string& key(std::string_view a);
  const std::string& key(std::string_view a, std::string_view b);
  const std::string& key(std::string_view a, std::string_view b, std::string_view c);

  template <class T>
  void touch(std::pair<const std::string, T>& entry,
             std::vector<const std::pair<const std::string, T>*>& list) {
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
  std::string key_buf_;  // scratch for composite keys: no allocation per lookup
};

/// "R8.5" etc. for a mode; "R8" for none.
const char* rule_of(AccessMode mode) noexcept;
/// R8.1, R8.2, R8.3, R8.9: modes that only view.
bool is_view_mode(AccessMode mode) noexcept;
/// R9: modes that carry per-order and daily limits (R8.4–R8.8, R8.10).
bool has_limits(AccessMode mode) noexcept;

}  // namespace kase::engine
