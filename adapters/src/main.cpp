// kase: command-line entry point.
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <csignal>

#include "kase/adapters/audit.h"
#include "kase/adapters/demo.h"
#include "kase/adapters/fallback.h"
#include "kase/adapters/http.h"
#include "kase/adapters/kafka.h"
#include "kase/adapters/ledger.h"
#include "kase/adapters/metrics.h"
#include "kase/adapters/query.h"
#include "kase/engine/calendar.h"
#include "kase/engine/reasons.h"
#include "kase/events/build.h"
#include "kase/events/codec.h"

namespace {

using namespace kase;

constexpr const char* kUsage = R"(kase — event-sourced transaction engine for the State Treasury e-services

usage: kase <command> [options]

commands:
  demo [--data DIR]         build a realistic month of eKase traffic into DIR (default: a new
                            temporary directory) and print a summary; with --jsonl print its
                            request stream as JSON lines instead (input for submit or produce)
  submit --data DIR         read JSON requests, one per line, from stdin; append, decide and
                            print one JSON decision per line (exit 0 even when rejected)
  replay --data DIR [--verify]
                            rebuild state from the log into a fresh state and print the state
                            hash and counts; --verify also checks the hash chain, every stored
                            decision and the persisted projections (exit 1 if not intact)
  get --data DIR REQUEST_ID print the decision recorded for a request id
  query person PERSON --data DIR [--at TIME]
                            a person's rights per account (mode, limits, today's total, the
                            application they stand on), means and block, as JSON
  query messages --data DIR [--at TIME]
                            users with messages unread for more than 7 days (R36), JSON lines
  query deadlines --data DIR [--at TIME]
                            applications registered (R22.1, 1 business day) or attached (R22.2,
                            3 business days) late, or still waiting past the deadline, JSON lines
  query document CLIENT SERVICE DOCUMENT --data DIR [--at TIME]
                            a document of CLIENT in SERVICE (eplans, eestimates, ereports, eloans):
                            its current state and full history (who did what, when, by which
                            request), as JSON
  kafka init --brokers B [--partitions N] [--replication R]
                            create the topics kase.requests, kase.decisions and kase.dead-letter
                            (idempotent; N defaults to 8, R to 1)
  produce --brokers B       read JSON requests, one per line, from stdin and produce them to
                            kase.requests (idempotent producer, acks=all, key = client id); the
                            intake time stamp is set here
  run --brokers B --data DIR [--group G] [--transactional-id T] [--batch N] [--batch-ms MS]
      [--metrics HOST:PORT]
                            the engine node: join consumer group G (default kase-engine), fold
                            each assigned partition into its own RocksDB under DIR, publish
                            decisions to kase.decisions exactly once; stops on SIGINT/SIGTERM.
                            One Kafka transaction per batch; a batch closes at N requests
                            (default 16384, at most 65536; at most 8192 of one partition) or MS
                            milliseconds after its first request (default 5)
  run --listen HOST:PORT --data DIR --tls-cert F --tls-key F --client-ca F [HTTP limits]
      [--metrics HOST:PORT]
                            without --brokers: the HTTP/JSON API over the embedded log, with mutual
                            TLS (see README.md, "HTTP API"); stops on SIGINT/SIGTERM after deciding
                            and committing everything accepted
  run --brokers B --listen HOST:PORT --data DIR [TLS options] [HTTP limits] [--metrics HOST:PORT]
                            the engine node and the HTTP API over Kafka: a POSTed request is
                            accepted once Kafka has it (acks=all) and answered from kase.decisions;
                            queries see the partitions this node holds
  kafka read decisions|dead-letter|requests --brokers B [--follow] [--max N]
                            print a topic from the beginning (read_committed) as JSON lines,
                            without joining the engine's group
  kafka verify --brokers B [--data DIR]
                            re-fold kase.requests from the beginning and check kase.decisions:
                            exactly one decision per request, byte-equal to the re-fold; every
                            identity fact between partitions in kase.requests exactly once;
                            with --data also the engine's partition states (exit 1 on divergence)
  fallback ingest --file PAYMENTS.xml --summary SUMMARY.json --client C (--data DIR | --brokers B)
          [--actor OPERATOR] [--operator-override]
                            a fallback payment file (ISO 20022 pain.001.001.03) and its signed
                            summary (R48.1, R49): says exactly where the summary and the file
                            differ; the file is decided first and its payments become orders that
                            obey R9; nothing of a rejected file is applied; a file ingested twice
                            is applied once. Only while eKase is declared down for more than 6
                            hours (ServiceOutage) unless --operator-override
  audit verify --data DIR | --brokers B
                            check the storage checksums, the SHA-256 hash chain over every decision,
                            every decision recomputed from its request, the projections and the
                            request-id index; prints the first divergence with the offset and both
                            decisions (exit 0 intact, 1 not). On a machine with a second core the
                            embedded log's chain is checked there, beside the fold
  audit history --person P | --account A | --client C (--data DIR | --brokers B)
                [--from TIME] [--to TIME] [--csv]
                            every request of P, A or C with its decision, reason and the rights and
                            limits in force at that moment; JSON lines, or CSV with --csv
  audit state --at TIME | --offset N [--person P | --account A | --client C]
              (--data DIR | --brokers B)
                            the state as it was then: rights, means, blocks, limits and day totals,
                            one-day changes, orders, applications, documents (JSON per partition)
  audit explain REQUEST_ID (--data DIR | --brokers B) [--json]
                            the checks the engine made for that request, in order, with the values
                            it compared, and whether the recomputed decision equals the stored one
                            (exit 1 when the request is not in the log)
                            Audit commands never write: the data directory is opened read-only
                            (beside a running node), Kafka is read from the beginning without
                            joining the engine's group; each partition is reported on its own.
                            On a terminal, long runs show progress on stderr.
  help                      this text

options:
  --data DIR                the embedded data directory (RocksDB); created when missing
  --no-sync                 do not fsync each batch (faster, loses the last batches on a crash)
  --brokers B               Kafka bootstrap servers, e.g. 127.0.0.1:19092
  --listen HOST:PORT        serve HTTP on this address (kase run; 127.0.0.1:0 picks a free port)
  --metrics HOST:PORT       kase run (both modes): Prometheus metrics at http://HOST:PORT/metrics
                            (text format 0.0.4; see README.md, "Operations")
  --tls-cert F, --tls-key F the server's certificate chain and private key (PEM)
  --client-ca F             the CA certificates that issue client certificates (PEM); the subject
                            CN names the user; OU=kase-channel marks a channel service (may act for
                            users), OU=kase-treasury the Treasury back office
  --client-crl F            certificate revocation lists of the client CA (PEM, one or more):
                            revoked client certificates fail the handshake; with it, every
                            client CA needs a current CRL in F; a new list renamed over F
                            applies to new connections within a second
  --plain-http              no TLS, for local development on a loopback address only: every
                            client acts as the Treasury (a warning is printed)
  --http-threads N          Asio threads (default 2)
  --http-body-max BYTES     largest request body (default 65536; larger: 413)
  --http-header-max BYTES   largest request header (default 8192; larger: 431)
  --http-connections-max N  open connections (default 1024; more are closed at once)
  --http-requests-per-connection N
                            requests on one keep-alive connection (default 10000)
  --http-idle-ms MS         keep-alive wait for the next request (default 30000)
  --http-read-ms MS         time for the TLS handshake, one whole request or one answer
                            (default 10000); slower clients are cut off
  --http-decision-wait-ms MS
                            how long POST /v1/requests waits for the decision before it answers
                            202 with the decision's location (default 2000)
  --http-queue-max N        requests waiting for the engine (default 65536; more: 503)
  --at TIME                 the state as of TIME: UTC microseconds or YYYY-MM-DDTHH:MM[:SS]Z
                            (default: now); queries replay the log up to that time

Options take their value as --name VALUE or --name=VALUE.
Request JSON is the FlatBuffers JSON form of events/schema/kase.fbs (see events/README.md);
intake_us is stamped with the current time when absent or 0.
Exit codes: 0 ok, 1 verification failed or input lines refused, 2 usage error, 3 storage or
broker error.
)";

struct Args {
  std::string command;
  std::string data;
  bool verify = false;
  bool sync = true;
  std::string at;
  std::vector<std::string> positional;
  std::string brokers;
  std::string group = "kase-engine";
  std::string transactional_id;
  int partitions = 8;
  int replication = 1;
  size_t batch = adapters::kafka::NodeOptions{}.batch_max;
  int batch_ms = adapters::kafka::NodeOptions{}.batch_ms;
  uint64_t max = 0;
  bool follow = false;
  bool quiet = false;
  bool jsonl = false;
  std::string file, summary, client, actor = "treasury-operator";
  bool operator_override = false;
  std::string listen;
  std::string metrics;  // HOST:PORT of the Prometheus listener
  std::string tls_cert, tls_key, client_ca, client_crl;
  bool plain_http = false;
  size_t http_threads = 2;
  adapters::http::Limits limits;
  bool csv = false;
  bool json = false;
  std::string from, to, person, account;  // --client: shared with fallback
  std::string offset;
};

/// Parses a whole non-negative number within [lo, hi].
bool parse_number(const std::string& s, uint64_t lo, uint64_t hi, uint64_t* out) {
  if (s.empty() || s.size() > 19 || s.find_first_not_of("0123456789") != std::string::npos) return false;
  const uint64_t v = std::stoull(s);
  if (v < lo || v > hi) return false;
  *out = v;
  return true;
}

int usage_error(const std::string& msg) {
  std::fprintf(stderr, "kase: %s\nrun 'kase help' for usage\n", msg.c_str());
  return 2;
}

int storage_error(const Status& s) {
  std::fprintf(stderr, "kase: %s\n", s.to_string().c_str());
  return 3;
}

// The options, one table per kind; parse() is the only reader.
struct TextOption {
  const char* name;
  std::string Args::*field;
};
constexpr TextOption kTextOptions[] = {
    {"--data", &Args::data},         {"--at", &Args::at},
    {"--file", &Args::file},         {"--summary", &Args::summary},
    {"--client", &Args::client},     {"--actor", &Args::actor},
    {"--brokers", &Args::brokers},   {"--group", &Args::group},
    {"--transactional-id", &Args::transactional_id},
    {"--listen", &Args::listen},     {"--tls-cert", &Args::tls_cert},
    {"--metrics", &Args::metrics},
    {"--tls-key", &Args::tls_key},   {"--client-ca", &Args::client_ca},
    {"--client-crl", &Args::client_crl},
    {"--from", &Args::from},         {"--to", &Args::to},
    {"--person", &Args::person},     {"--account", &Args::account},
    {"--offset", &Args::offset},
};

struct NumberOption {
  const char* name;
  uint64_t lo, hi;
  void (*set)(Args*, uint64_t);
};
using Ms = std::chrono::milliseconds;
constexpr NumberOption kNumberOptions[] = {
    {"--partitions", 1, 10000, [](Args* a, uint64_t n) { a->partitions = static_cast<int>(n); }},
    {"--replication", 1, 16, [](Args* a, uint64_t n) { a->replication = static_cast<int>(n); }},
    {"--batch", 1, adapters::kafka::kNodeBatchRequestsMax, [](Args* a, uint64_t n) { a->batch = n; }},
    {"--batch-ms", 1, 10000, [](Args* a, uint64_t n) { a->batch_ms = static_cast<int>(n); }},
    {"--max", 1, UINT64_MAX / 2, [](Args* a, uint64_t n) { a->max = n; }},
    {"--http-threads", 1, 64, [](Args* a, uint64_t n) { a->http_threads = n; }},
    // The codec refuses larger requests anyway (events::kRequestBytesMax).
    {"--http-body-max", 1, events::kRequestBytesMax, [](Args* a, uint64_t n) { a->limits.body_bytes_max = n; }},
    {"--http-header-max", 256, 1 << 20, [](Args* a, uint64_t n) { a->limits.header_bytes_max = n; }},
    {"--http-connections-max", 1, 1'000'000, [](Args* a, uint64_t n) { a->limits.connections_max = n; }},
    {"--http-requests-per-connection", 1, UINT32_MAX,
     [](Args* a, uint64_t n) { a->limits.requests_per_connection_max = n; }},
    {"--http-idle-ms", 1, 3'600'000, [](Args* a, uint64_t n) { a->limits.idle_timeout = Ms(n); }},
    {"--http-read-ms", 1, 3'600'000, [](Args* a, uint64_t n) { a->limits.read_timeout = Ms(n); }},
    {"--http-decision-wait-ms", 0, 600'000, [](Args* a, uint64_t n) { a->limits.decision_wait = Ms(n); }},
    {"--http-queue-max", 1, 10'000'000, [](Args* a, uint64_t n) { a->limits.queue_requests_max = n; }},
};

struct FlagOption {
  const char* name;
  bool Args::*field;
  bool value;
};
constexpr FlagOption kFlagOptions[] = {
    {"--operator-override", &Args::operator_override, true},
    {"--plain-http", &Args::plain_http, true},
    {"--csv", &Args::csv, true},
    {"--json", &Args::json, true},
    {"--follow", &Args::follow, true},
    {"--jsonl", &Args::jsonl, true},
    {"--quiet", &Args::quiet, true},
    {"--verify", &Args::verify, true},
    {"--no-sync", &Args::sync, false},
};

template <typename Option, size_t N>
const Option* find_option(const Option (&table)[N], std::string_view name) {
  for (const Option& o : table) {
    if (name == o.name) return &o;
  }
  return nullptr;
}

/// Parses the command line: `kase COMMAND [--option VALUE | --option=VALUE |
/// --flag | POSITIONAL]...`.
bool parse(int argc, char** argv, Args* a, std::string* err) {
  if (argc < 2) {
    *err = "no command given";
    return false;
  }
  a->command = argv[1];
  for (int i = 2; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      a->command = "help";
      continue;
    }
    if (arg.empty() || arg[0] != '-') {
      a->positional.push_back(arg);
      continue;
    }
    if (const FlagOption* f = find_option(kFlagOptions, arg)) {
      a->*(f->field) = f->value;
      continue;
    }
    // A value option: `--name VALUE` or `--name=VALUE`.
    const size_t eq = arg.find('=');
    const std::string name = arg.substr(0, eq);
    const TextOption* t = find_option(kTextOptions, name);
    const NumberOption* n = t == nullptr ? find_option(kNumberOptions, name) : nullptr;
    if (t == nullptr && n == nullptr) {
      *err = "unknown option " + name;
      return false;
    }
    std::string value;
    if (eq != std::string::npos) {
      value = arg.substr(eq + 1);
    } else if (i + 1 < argc) {
      value = argv[++i];
    } else {
      *err = name + " needs a value";
      return false;
    }
    if (t != nullptr) {
      a->*(t->field) = value;
      continue;
    }
    uint64_t number = 0;
    if (!parse_number(value, n->lo, n->hi, &number)) {
      *err = name + ": expected a number from " + std::to_string(n->lo) + " to " + std::to_string(n->hi) +
             ", got '" + value + "'";
      return false;
    }
    n->set(a, number);
  }
  return true;
}

Status open_store(const Args& a, std::unique_ptr<projections::Store>* store) {
  projections::RocksOptions o;
  o.sync = a.sync;
  return projections::open_rocks_store(a.data, o, store);
}

int64_t now_us() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

/// Reads one line of at most `max` bytes; the rest of a longer line is read
/// and dropped (so that one huge line cannot exhaust memory), and `too_long`
/// says so. False at the end of input.
bool read_line(std::istream& in, std::string* line, size_t max, bool* too_long) {
  line->clear();
  *too_long = false;
  std::streambuf* sb = in.rdbuf();
  bool any = false;
  for (;;) {
    const int c = sb->sbumpc();
    if (c == std::char_traits<char>::eof()) return any;
    any = true;
    if (c == '\n') return true;
    if (line->size() < max) {
      line->push_back(static_cast<char>(c));
    } else {
      *too_long = true;
    }
  }
}

int cmd_submit(const Args& a) {
  if (a.data.empty()) return usage_error("submit needs --data DIR");
  std::unique_ptr<projections::Store> store;
  if (Status s = open_store(a, &store); !s.ok()) return storage_error(s);
  std::unique_ptr<adapters::Ledger> ledger;
  if (Status s = adapters::Ledger::open(store.get(), &ledger); !s.ok()) return storage_error(s);
  events::JsonCodec codec;
  std::ios::sync_with_stdio(false);  // input through cin's own buffer; output stays on stdio

  // Interactive input is answered line by line; piped input in batches.
  const size_t batch_max = isatty(STDIN_FILENO) ? 1 : 1024;
  std::vector<std::string> owned;  // binary requests of this batch
  std::vector<std::span<const uint8_t>> spans;
  std::vector<adapters::Answer> answers;
  // Each input line's answer: either a ledger answer or a parse error.
  struct Slot {
    events::JsonStatus status;
    std::string error;
  };
  std::vector<Slot> slots;

  auto flush = [&]() -> Status {
    spans.clear();
    for (const auto& r : owned) spans.push_back(events::bytes_of(r));
    if (Status s = ledger->submit(spans, &answers); !s.ok()) return s;
    size_t next = 0;
    std::string out;
    for (const Slot& slot : slots) {
      if (slot.status == events::JsonStatus::ok) {
        out += codec.decision_to_json(*answers[next++].decision());
      } else {
        const adapters::Answer bad = adapters::refused_json_answer(slot.status, slot.error);
        out += codec.decision_to_json(*bad.decision());
      }
      out += '\n';
    }
    std::fwrite(out.data(), 1, out.size(), stdout);
    std::fflush(stdout);
    owned.clear();
    slots.clear();
    return {};
  };

  std::string line;
  bool too_long = false;
  const size_t line_bytes_max = events::kRequestBytesMax;
  while (read_line(std::cin, &line, line_bytes_max, &too_long)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (!too_long && line.find_first_not_of(" \t") == std::string::npos) continue;
    std::span<const uint8_t> bin;
    std::string error;
    if (too_long) {
      slots.push_back({events::JsonStatus::malformed, "line longer than " + std::to_string(line_bytes_max) + " bytes"});
    } else if (const events::JsonStatus st = codec.request_from_json(line, now_us(), &bin, &error);
               st == events::JsonStatus::ok) {
      owned.emplace_back(reinterpret_cast<const char*>(bin.data()), bin.size());
      slots.push_back({st, {}});
    } else {
      slots.push_back({st, error});
    }
    if (slots.size() >= batch_max) {
      if (Status s = flush(); !s.ok()) return storage_error(s);
    }
  }
  if (!slots.empty()) {
    if (Status s = flush(); !s.ok()) return storage_error(s);
  }
  return 0;
}

void print_counts(const adapters::ReplayResult& r) {
  std::printf("records         %llu (accepted %llu, rejected %llu)\n",
              static_cast<unsigned long long>(r.records), static_cast<unsigned long long>(r.accepted),
              static_cast<unsigned long long>(r.rejected));
  std::printf("accounts        %zu\nrepresentatives %zu\ngrants          %zu\norders          %zu\n"
              "day totals      %zu\nlimit changes   %zu\npersons         %zu (%zu blocked)\n",
              r.counts.accounts, r.counts.representatives, r.counts.grants, r.counts.orders,
              r.counts.day_totals, r.counts.limit_overrides, r.counts.persons, r.counts.blocked_persons);
  std::printf("state hash      %s\nchain head      %s\n", events::to_hex(r.state_hash).c_str(),
              events::to_hex(r.chain_head).c_str());
}

int cmd_replay(const Args& a) {
  if (a.data.empty()) return usage_error("replay needs --data DIR");
  if (!std::filesystem::exists(a.data)) return usage_error("no data directory " + a.data);
  Args ro = a;
  std::unique_ptr<projections::Store> store;
  projections::RocksOptions o;
  o.create_if_missing = false;
  if (Status s = projections::open_rocks_store(a.data, o, &store); !s.ok()) return storage_error(s);
  adapters::ReplayResult r;
  if (Status s = adapters::replay(store.get(), a.verify, &r); !s.ok()) return storage_error(s);
  print_counts(r);
  if (a.verify) {
    if (!r.intact) {
      std::printf("verify          FAILED: %s\n", r.error.c_str());
      return 1;
    }
    std::printf("verify          ok: hash chain intact, %llu decisions recomputed equal, projections "
                "equal a clean replay\n",
                static_cast<unsigned long long>(r.records));
  }
  return 0;
}

int cmd_get(const Args& a) {
  if (a.data.empty() || a.positional.size() != 1) return usage_error("get needs --data DIR and one REQUEST_ID");
  std::unique_ptr<projections::Store> store;
  if (Status s = open_store(a, &store); !s.ok()) return storage_error(s);
  std::unique_ptr<adapters::Ledger> ledger;
  if (Status s = adapters::Ledger::open(store.get(), &ledger); !s.ok()) return storage_error(s);
  adapters::Answer ans;
  if (Status s = ledger->find(a.positional[0], &ans); !s.ok()) {
    std::fprintf(stderr, "kase: %s\n", s.message().c_str());
    return 1;
  }
  events::JsonCodec codec;
  std::printf("%s\n", codec.decision_to_json(*ans.decision()).c_str());
  return 0;
}

/// UTC micros from "1796025600000000" or "2026-11-30T08:00[:00]Z".
bool parse_time(const std::string& s, int64_t* out) {
  if (!s.empty() && s.find_first_not_of("0123456789") == std::string::npos) {
    if (s.size() > 18) return false;  // beyond year 9999
    *out = std::stoll(s);
    return true;
  }
  int y = 0, mo = 0, d = 0, h = 0, mi = 0, sec = 0;
  char z = 0;
  const int n = std::sscanf(s.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d%c", &y, &mo, &d, &h, &mi, &sec, &z);
  if (n == 7 && z == 'Z') {
  } else if (std::sscanf(s.c_str(), "%4d-%2d-%2dT%2d:%2d%c", &y, &mo, &d, &h, &mi, &z) == 6 && z == 'Z') {
    sec = 0;
  } else {
    return false;
  }
  const int32_t ymd = y * 10000 + mo * 100 + d;
  if (!engine::ymd_valid(ymd) || h > 23 || mi > 59 || sec > 59) return false;
  *out = ((engine::days_from_ymd(ymd) * 86400) + h * 3600 + mi * 60 + sec) * 1'000'000LL;
  return true;
}

/// The services with documents (R2), by their schema names.
int cmd_query(const Args& a) {
  if (a.positional.empty())
    return usage_error("query needs a subject: person PERSON | messages | deadlines | document CLIENT SERVICE DOCUMENT");
  if (a.data.empty()) return usage_error("query needs --data DIR");
  if (!std::filesystem::exists(a.data)) return usage_error("no data directory " + a.data);
  int64_t at = now_us();
  if (!a.at.empty() && !parse_time(a.at, &at)) return usage_error("--at: not a time: " + a.at);
  const std::string& what = a.positional[0];
  if (what == "person" && a.positional.size() != 2) return usage_error("query person needs one PERSON");
  fb::Service service = fb::Service::ekase;
  if (what == "document") {
    if (a.positional.size() != 4) return usage_error("query document needs CLIENT SERVICE DOCUMENT");
    if (!adapters::document_service(a.positional[2], &service))
      return usage_error("query document: not a service with documents: " + a.positional[2] +
                         " (eplans, eestimates, ereports, eloans)");
  }
  if (what != "person" && what != "messages" && what != "deadlines" && what != "document")
    return usage_error("unknown query '" + what + "' (person, messages, deadlines, document)");
  std::unique_ptr<projections::Store> store;
  projections::RocksOptions o;
  o.create_if_missing = false;
  if (Status s = projections::open_rocks_store(a.data, o, &store); !s.ok()) return storage_error(s);
  engine::Engine engine;
  if (Status s = adapters::state_at(store.get(), at, &engine); !s.ok()) return storage_error(s);
  if (what == "person") {
    std::printf("%s\n", adapters::person_json(engine.state(), a.positional[1], at).c_str());
  } else if (what == "document") {
    std::printf("%s\n",
                adapters::document_json(engine.state(), a.positional[1], service, a.positional[3]).c_str());
  } else {
    const std::string lines = what == "messages" ? adapters::overdue_messages_jsonl(engine.state(), at)
                                                 : adapters::late_applications_jsonl(engine.state(), at);
    std::fwrite(lines.data(), 1, lines.size(), stdout);
  }
  return 0;
}

std::string money(uint64_t n) {
  std::string s = std::to_string(n);
  for (int i = static_cast<int>(s.size()) - 3; i > 0; i -= 3) s.insert(static_cast<size_t>(i), ",");
  return s;
}

int cmd_demo(const Args& a) {
  if (a.jsonl) {
    // The demo's request stream as JSON lines (input for produce or submit).
    events::JsonCodec codec;
    std::string out;
    for (const std::string& r : adapters::demo_requests()) {
      const fb::Request* req = events::verify_request(events::bytes_of(r));
      if (req == nullptr) return storage_error({Errc::corruption, "demo request does not verify"});
      out = codec.request_to_json(*req);
      out += '\n';
      std::fwrite(out.data(), 1, out.size(), stdout);
    }
    return 0;
  }
  std::string dir = a.data;
  if (dir.empty()) {
    char tmpl[] = "/tmp/kase-demo-XXXXXX";
    if (mkdtemp(tmpl) == nullptr) return storage_error({Errc::io_error, "cannot create a temporary directory"});
    dir = tmpl;
  }
  adapters::DemoSummary s;
  if (Status st = adapters::run_demo(dir, &s); !st.ok()) {
    if (st.code() == Errc::invalid_argument) return usage_error(st.message());
    return storage_error(st);
  }
  std::printf("kase demo: one month (November 2026) of eKase traffic\n");
  std::printf("  data directory   %s\n", dir.c_str());
  std::printf("  clients          %zu (a ministry and three institutions)\n", s.clients);
  std::printf("  accounts         %zu (operating, with signature-3, deposit, closed, blocked, not opened "
              "for 2026, foreign)\n",
              s.accounts);
  std::printf("  users            %zu, in every eKase mode R8.1-R8.10\n", s.users);
  std::printf("  requests         %s decided and committed in %.3f s (%s requests/s, fsync per batch)\n",
              money(s.requests).c_str(), s.seconds,
              money(static_cast<uint64_t>(static_cast<double>(s.requests) / std::max(s.seconds, 1e-9))).c_str());
  std::printf("  accepted         %s\n  rejected         %s\n", money(s.accepted).c_str(), money(s.rejected).c_str());
  std::vector<std::pair<uint64_t, std::string>> by;
  for (const auto& [k, v] : s.rejections) by.emplace_back(v, k);
  std::sort(by.rbegin(), by.rend());
  std::printf("  rejections by reason:\n");
  for (const auto& [n, k] : by) std::printf("    %7s  %s\n", money(n).c_str(), k.c_str());
  std::printf("  payment orders   %s submitted for execution, %s awaiting signatures, %s cancelled\n",
              money(s.orders_submitted).c_str(), money(s.orders_pending).c_str(),
              money(s.orders_cancelled).c_str());
  std::printf("  state hash       %s\n  chain head       %s\n", s.state_hash.c_str(), s.chain_head.c_str());
  std::printf("\nverify it:  kase replay --data %s --verify\n", dir.c_str());
  return 0;
}

bool read_file(const std::string& path, std::string* out) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) return false;
  char buf[65536];
  size_t n = 0;
  out->clear();
  while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) {
    out->append(buf, n);
    if (out->size() > (64u << 20)) break;  // a named limit: 64 MiB per file
  }
  const bool ok = std::ferror(f) == 0 && out->size() <= (64u << 20);
  std::fclose(f);
  return ok;
}

int broker_error(const Status& s);

int cmd_fallback(const Args& a) {
  if (a.positional.size() != 1 || a.positional[0] != "ingest") return usage_error("fallback needs the subcommand ingest");
  if (a.file.empty() || a.summary.empty() || a.client.empty())
    return usage_error("fallback ingest needs --file PAYMENTS.xml, --summary SUMMARY.json and --client C");
  if (a.data.empty() == a.brokers.empty()) return usage_error("fallback ingest needs one of --data DIR or --brokers B");
  std::string xml, summary_text;
  if (!read_file(a.file, &xml)) return usage_error("cannot read --file " + a.file + " (or larger than 64 MiB)");
  if (!read_file(a.summary, &summary_text)) return usage_error("cannot read --summary " + a.summary);
  adapters::fallback::PaymentFile file;
  adapters::fallback::Summary summary;
  if (Status s = adapters::fallback::parse_pain001(xml, &file); !s.ok()) {
    std::fprintf(stderr, "kase: %s: the payment file is refused: %s\n", a.file.c_str(), s.message().c_str());
    return 1;
  }
  if (Status s = adapters::fallback::parse_summary(summary_text, &summary); !s.ok()) {
    std::fprintf(stderr, "kase: %s: the summary is refused: %s\n", a.summary.c_str(), s.message().c_str());
    return 1;
  }
  const std::string name = std::filesystem::path(a.file).filename().string();
  const std::string digest = adapters::fallback::digest_hex(xml);
  const auto diffs = adapters::fallback::differences(summary, file, name);
  for (const auto& d : diffs) std::fprintf(stderr, "kase: %s\n", d.c_str());
  std::vector<std::string> requests = adapters::fallback::build_requests(
      summary, file, name, digest, a.client, a.actor, now_us(), a.operator_override);
  // A file that differs from its summary is decided (and logged, rejected) alone.
  if (!diffs.empty()) requests.resize(1);
  events::JsonCodec codec;
  if (!a.brokers.empty()) {
    std::unique_ptr<adapters::kafka::RequestProducer> producer;
    if (Status s = adapters::kafka::RequestProducer::open(a.brokers, &producer); !s.ok()) return broker_error(s);
    for (const auto& r : requests)
      if (Status s = producer->produce(events::bytes_of(r)); !s.ok()) return broker_error(s);
    if (Status s = producer->flush(60'000); !s.ok()) return broker_error(s);
    std::printf("{\"file\": \"%s\", \"digest\": \"%s\", \"requests_produced\": %zu}\n", name.c_str(),
                digest.c_str(), requests.size());
    return diffs.empty() ? 0 : 1;
  }
  std::unique_ptr<projections::Store> store;
  if (Status s = open_store(a, &store); !s.ok()) return storage_error(s);
  std::unique_ptr<adapters::Ledger> ledger;
  if (Status s = adapters::Ledger::open(store.get(), &ledger); !s.ok()) return storage_error(s);
  std::vector<adapters::Answer> answers;
  std::vector<std::span<const uint8_t>> one = {events::bytes_of(requests[0])};
  if (Status s = ledger->submit(one, &answers); !s.ok()) return storage_error(s);
  const fb::Decision& fd = *answers[0].decision();
  std::printf("%s\n", codec.decision_to_json(fd).c_str());
  if (fd.outcome() != fb::Outcome::accepted) return 1;  // nothing of a rejected file is applied
  uint64_t accepted = 0, rejected = 0;
  for (size_t i = 1; i < requests.size(); i += adapters::kBatchRequestsMax) {
    std::vector<std::span<const uint8_t>> spans;
    for (size_t j = i; j < std::min(requests.size(), i + adapters::kBatchRequestsMax); ++j)
      spans.push_back(events::bytes_of(requests[j]));
    if (Status s = ledger->submit(spans, &answers); !s.ok()) return storage_error(s);
    for (const auto& ans : answers) {
      const fb::Decision& d = *ans.decision();
      std::printf("%s\n", codec.decision_to_json(d).c_str());
      (d.outcome() == fb::Outcome::accepted ? accepted : rejected)++;
    }
  }
  std::fprintf(stderr, "kase fallback: %s: %llu payments became orders, %llu rejected\n", name.c_str(),
               static_cast<unsigned long long>(accepted), static_cast<unsigned long long>(rejected));
  return 0;
}

int cmd_audit(const Args& a) {
  if (a.positional.empty()) return usage_error("audit needs a subcommand: verify | history | state | explain");
  const std::string& what = a.positional[0];
  if (a.data.empty() == a.brokers.empty()) return usage_error("audit " + what + " needs --data DIR or --brokers B");
  adapters::audit::Source source{a.data, a.brokers};
  if (!a.data.empty() && !std::filesystem::exists(a.data)) return usage_error("no data directory " + a.data);
  adapters::audit::Subject subject{a.person, a.account, a.client};
  const int subjects = !a.person.empty() + !a.account.empty() + !a.client.empty();
  if (subjects > 1) return usage_error("audit " + what + ": name one of --person, --account, --client");
  adapters::audit::ProgressBar bar("kase audit " + what, isatty(STDERR_FILENO) != 0);
  const auto emit = [](const std::string& line) {
    std::fwrite(line.data(), 1, line.size(), stdout);
    std::fputc('\n', stdout);
  };
  const auto failed = [&](const Status& s) {
    bar.finish();
    if (s.code() == Errc::invalid_argument) return usage_error(s.message());
    return storage_error(s);
  };

  if (what == "verify") {
    if (a.positional.size() != 1) return usage_error("audit verify takes no arguments");
    adapters::audit::VerifyReport r;
    if (Status s = adapters::audit::verify(source, bar.callback(), &r); !s.ok()) return failed(s);
    bar.finish();
    for (const auto& l : r.lines) std::printf("%s\n", l.c_str());
    if (r.intact) {
      std::printf("verify ok: %llu records in %llu partition(s); hash chain intact, every decision recomputed "
                  "equal%s\n",
                  static_cast<unsigned long long>(r.records), static_cast<unsigned long long>(r.partitions),
                  a.brokers.empty() ? ", projections and request ids equal a clean replay, storage checksums ok"
                                    : ", exactly one decision per request");
      return 0;
    }
    std::printf("verify FAILED%s: %s\n",
                r.partition == adapters::audit::kEmbedded ? "" : (" in partition " + std::to_string(r.partition)).c_str(),
                r.divergence.what.c_str());
    if (r.divergence.offset >= 0) std::printf("offset      %lld\n", static_cast<long long>(r.divergence.offset));
    if (!r.divergence.stored_json.empty()) std::printf("stored      %s\n", r.divergence.stored_json.c_str());
    if (!r.divergence.recomputed_json.empty()) std::printf("recomputed  %s\n", r.divergence.recomputed_json.c_str());
    return 1;
  }
  if (what == "history") {
    if (a.positional.size() != 1) return usage_error("audit history takes no arguments");
    if (subjects != 1) return usage_error("audit history needs --person P, --account A or --client C");
    adapters::audit::HistoryOptions o;
    o.subject = subject;
    o.csv = a.csv;
    if (!a.from.empty() && !parse_time(a.from, &o.from_us)) return usage_error("--from: not a time: " + a.from);
    if (!a.to.empty() && !parse_time(a.to, &o.to_us)) return usage_error("--to: not a time: " + a.to);
    if (Status s = adapters::audit::history(source, o, bar.callback(), emit); !s.ok()) return failed(s);
    return 0;
  }
  if (what == "state") {
    if (a.positional.size() != 1) return usage_error("audit state takes no arguments");
    if (a.at.empty() == a.offset.empty()) return usage_error("audit state needs --at TIME or --offset N");
    adapters::audit::StateOptions o;
    o.subject = subject;
    if (!a.at.empty()) {
      int64_t at = 0;
      if (!parse_time(a.at, &at)) return usage_error("--at: not a time: " + a.at);
      o.at_us = at;
    } else {
      uint64_t n = 0;
      if (!parse_number(a.offset, 0, UINT64_MAX / 2, &n)) return usage_error("--offset: not an offset: " + a.offset);
      o.offset = n;
    }
    if (Status s = adapters::audit::state(source, o, bar.callback(), emit); !s.ok()) return failed(s);
    return 0;
  }
  if (what == "explain") {
    if (a.positional.size() != 2) return usage_error("audit explain needs one REQUEST_ID");
    std::vector<adapters::audit::Explanation> found;
    if (Status s = adapters::audit::explain(source, a.positional[1], bar.callback(), &found); !s.ok())
      return failed(s);
    bar.finish();
    if (found.empty()) {
      std::fprintf(stderr, "kase: no request with id %s in the log\n", a.positional[1].c_str());
      return 1;
    }
    for (const auto& e : found) {
      const std::string out = a.json ? adapters::audit::explanation_json(e) + "\n" : adapters::audit::explanation_text(e);
      std::fwrite(out.data(), 1, out.size(), stdout);
    }
    return 0;
  }
  return usage_error("unknown audit subcommand '" + what + "' (verify, history, state, explain)");
}

std::atomic<bool> g_stop{false};
extern "C" void on_stop_signal(int) { g_stop.store(true); }

void install_stop_handlers() {
  struct sigaction sa {};
  sa.sa_handler = on_stop_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
}

int broker_error(const Status& s) {
  std::fprintf(stderr, "kase: %s\n", s.to_string().c_str());
  return 3;
}

int cmd_kafka(const Args& a) {
  if (a.positional.empty()) return usage_error("kafka needs a subcommand: init | read TOPIC");
  if (a.brokers.empty()) return usage_error("kafka " + a.positional[0] + " needs --brokers B");
  if (a.positional[0] == "init") {
    if (a.positional.size() != 1) return usage_error("kafka init takes no arguments");
    adapters::kafka::TopicSettings t;
    t.partitions = a.partitions;
    t.replication = a.replication;
    std::string report;
    Status s = adapters::kafka::init_topics(a.brokers, t, &report);
    std::fputs(report.c_str(), stdout);
    return s.ok() ? 0 : broker_error(s);
  }
  if (a.positional[0] == "read") {
    if (a.positional.size() != 2) return usage_error("kafka read needs one topic: decisions | dead-letter | requests");
    const std::string& which = a.positional[1];
    adapters::kafka::ReadOptions o;
    o.brokers = a.brokers;
    o.follow = a.follow;
    o.max_messages = a.max;
    o.stop = &g_stop;
    if (which == "decisions") o.topic = adapters::kafka::kDecisionsTopic;
    else if (which == "dead-letter") o.topic = adapters::kafka::kDeadLetterTopic;
    else if (which == "requests") o.topic = adapters::kafka::kRequestsTopic;
    else return usage_error("kafka read: unknown topic '" + which + "' (decisions, dead-letter, requests)");
    install_stop_handlers();
    events::JsonCodec codec;
    std::string out;
    Status s = adapters::kafka::read_topic(
        o, [&](int32_t partition, int64_t offset, std::span<const uint8_t> value, const auto& headers) {
          out.clear();
          if (which == "decisions") {
            const fb::LogRecord* rec = events::verify_log_record(value);
            if (rec == nullptr || rec->decision() == nullptr) {
              out = R"({"error": "record does not verify", "partition": )" + std::to_string(partition) +
                    ", \"offset\": " + std::to_string(offset) + "}";
            } else {
              out = codec.decision_to_json(*rec->decision());
            }
          } else if (which == "requests") {
            const fb::Request* r = events::verify_request(value);
            out = r != nullptr ? codec.request_to_json(*r)
                               : R"({"error": "request does not verify", "partition": )" + std::to_string(partition) +
                                     ", \"offset\": " + std::to_string(offset) + "}";
          } else {
            out = "{\"partition\": " + std::to_string(partition) + ", \"offset\": " + std::to_string(offset) +
                  ", \"bytes\": " + std::to_string(value.size());
            for (const auto& [k, v] : headers) {
              out += ", \"" + k + "\": \"";
              for (char ch : v) {
                if (ch == '"' || ch == '\\') out += '\\';
                if (static_cast<unsigned char>(ch) >= 0x20) out += ch;
              }
              out += '"';
            }
            out += "}";
          }
          out += '\n';
          std::fwrite(out.data(), 1, out.size(), stdout);
        });
    std::fflush(stdout);
    return s.ok() ? 0 : broker_error(s);
  }
  if (a.positional[0] == "verify") {
    if (a.positional.size() != 1) return usage_error("kafka verify takes no arguments");
    adapters::kafka::VerifyReport r;
    if (Status s = adapters::kafka::verify(a.brokers, a.data, &r); !s.ok()) return broker_error(s);
    for (const auto& l : r.lines) std::printf("%s\n", l.c_str());
    std::printf("requests %llu, decisions %llu, dead letters %llu, identity facts %llu, directory facts %llu, engine "
                "partitions compared %llu\n",
                static_cast<unsigned long long>(r.requests), static_cast<unsigned long long>(r.decisions),
                static_cast<unsigned long long>(r.dead_letters), static_cast<unsigned long long>(r.identity_facts),
                static_cast<unsigned long long>(r.directory_facts),
                static_cast<unsigned long long>(r.partitions_checked));
    if (!r.intact) {
      std::printf("verify FAILED: %s\n", r.error.c_str());
      return 1;
    }
    std::printf("verify ok: exactly one decision per request, equal to a clean re-fold\n");
    return 0;
  }
  return usage_error("unknown kafka subcommand '" + a.positional[0] + "' (init, read, verify)");
}

int cmd_produce(const Args& a) {
  if (a.brokers.empty()) return usage_error("produce needs --brokers B");
  std::unique_ptr<adapters::kafka::RequestProducer> producer;
  if (Status s = adapters::kafka::RequestProducer::open(a.brokers, &producer); !s.ok()) return broker_error(s);
  events::JsonCodec codec;
  std::ios::sync_with_stdio(false);
  std::string line;
  bool too_long = false;
  uint64_t lines = 0, refused = 0, produced = 0;
  while (read_line(std::cin, &line, events::kRequestBytesMax, &too_long)) {
    ++lines;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (!too_long && line.find_first_not_of(" \t") == std::string::npos) continue;
    std::span<const uint8_t> bin;
    std::string error;
    events::JsonStatus st = events::JsonStatus::malformed;
    if (too_long) error = "line longer than " + std::to_string(events::kRequestBytesMax) + " bytes";
    if (!too_long) st = codec.request_from_json(line, now_us(), &bin, &error);
    if (st == events::JsonStatus::ok) {
      if (Status s = producer->produce(bin); !s.ok()) return broker_error(s);
      ++produced;
      continue;
    }
    ++refused;
    const adapters::Answer bad = adapters::refused_json_answer(st, "line " + std::to_string(lines) + ": " + error);
    std::fprintf(stderr, "%s\n", codec.decision_to_json(*bad.decision()).c_str());
  }
  if (Status s = producer->flush(60'000); !s.ok()) return broker_error(s);
  if (!a.quiet)
    std::fprintf(stderr, "kase produce: %llu requests delivered to %s, %llu lines refused\n",
                 static_cast<unsigned long long>(produced), adapters::kafka::kRequestsTopic,
                 static_cast<unsigned long long>(refused));
  return refused == 0 ? 0 : 1;
}

/// `--metrics HOST:PORT`: starts the Prometheus listener (metrics.h) when
/// asked for. Returns 0, or the exit code of a usage or listen error.
int start_metrics(const Args& a, adapters::metrics::Collect collect,
                  std::unique_ptr<adapters::metrics::Server>* out) {
  if (a.metrics.empty()) return 0;
  std::string host;
  uint16_t port = 0;
  if (Status s = adapters::metrics::parse_address(a.metrics, &host, &port); !s.ok())
    return usage_error("--metrics: " + s.message());
  if (Status s = adapters::metrics::Server::start(host, port, std::move(collect), out); !s.ok()) {
    if (s.code() == Errc::invalid_argument) return usage_error(s.message());
    return storage_error(s);
  }
  std::fprintf(stderr, "kase run: Prometheus metrics on http://%s:%u/metrics\n", host.c_str(),
               static_cast<unsigned>((*out)->port()));
  return 0;
}

int cmd_run_kafka(const Args& a, const adapters::http::ServerOptions* http);

/// `kase run --listen`: the HTTP API over the embedded log, or with --brokers over Kafka.
int cmd_run_http(const Args& a) {
  if (a.data.empty())
    return usage_error(a.brokers.empty() ? "run needs --data DIR (the embedded log)"
                                         : "run needs --data DIR (state per partition)");
  if (!a.metrics.empty()) {
    std::string host;
    uint16_t port = 0;
    if (Status s = adapters::metrics::parse_address(a.metrics, &host, &port); !s.ok())
      return usage_error("--metrics: " + s.message());
  }
  adapters::http::ServerOptions o;
  const size_t colon = a.listen.rfind(':');
  uint64_t port = 0;
  if (colon == std::string::npos || !parse_number(a.listen.substr(colon + 1), 0, 65535, &port))
    return usage_error("--listen: expected HOST:PORT, e.g. 127.0.0.1:8443, got '" + a.listen + "'");
  o.address = a.listen.substr(0, colon);
  if (o.address.size() >= 2 && o.address.front() == '[' && o.address.back() == ']')
    o.address = o.address.substr(1, o.address.size() - 2);
  o.port = static_cast<uint16_t>(port);
  o.plain_http = a.plain_http;
  o.tls_cert_file = a.tls_cert;
  o.tls_key_file = a.tls_key;
  o.client_ca_file = a.client_ca;
  o.client_crl_file = a.client_crl;
  o.limits = a.limits;
  o.threads = a.http_threads;
  if (a.plain_http) {
    if (!a.tls_cert.empty() || !a.tls_key.empty() || !a.client_ca.empty() || !a.client_crl.empty())
      return usage_error("--plain-http and --tls-cert/--tls-key/--client-ca/--client-crl exclude each other");
    std::fprintf(stderr,
                 "kase run: WARNING: --plain-http: no TLS and no client certificates; every client acts as the "
                 "Treasury. For local development only.\n");
  } else if (a.tls_cert.empty() || a.tls_key.empty() || a.client_ca.empty()) {
    return usage_error("run --listen needs --tls-cert F, --tls-key F and --client-ca F (or --plain-http for local "
                       "development)");
  }
  if (!a.brokers.empty()) return cmd_run_kafka(a, &o);
  std::unique_ptr<projections::Store> store;
  if (Status s = open_store(a, &store); !s.ok()) return storage_error(s);
  install_stop_handlers();
  std::unique_ptr<adapters::http::Server> server;
  if (Status s = adapters::http::Server::start(store.get(), o, &server); !s.ok()) {
    if (s.code() == Errc::invalid_argument) return usage_error(s.message());
    return storage_error(s);
  }
  std::fprintf(stderr, "kase run: serving %s://%s:%u over the embedded log in %s\n", a.plain_http ? "http" : "https",
               o.address.c_str(), static_cast<unsigned>(server->port()), a.data.c_str());
  std::unique_ptr<adapters::metrics::Server> metrics;
  adapters::http::Server* engine = server.get();
  if (int rc = start_metrics(
          a, [engine](std::string* out) { return engine->metrics(adapters::metrics::kCollectWait, out); }, &metrics);
      rc != 0) {
    server->stop();
    return rc;
  }
  while (!g_stop.load() && !server->failed()) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  if (metrics) metrics->stop();
  server->stop();
  const adapters::http::ServerStats st = server->stats();
  std::fprintf(stderr,
               "kase run: stopped; %llu requests decided in %llu commits, %llu HTTP answers, %llu connections "
               "(%llu refused, %llu failed handshakes, %llu cut off by timeouts)\n",
               static_cast<unsigned long long>(st.decided), static_cast<unsigned long long>(st.batches),
               static_cast<unsigned long long>(st.requests), static_cast<unsigned long long>(st.connections),
               static_cast<unsigned long long>(st.connections_refused),
               static_cast<unsigned long long>(st.handshakes_failed), static_cast<unsigned long long>(st.timeouts));
  if (server->failed()) return storage_error({Errc::io_error, "a commit failed; see above"});
  return 0;
}

int cmd_run(const Args& a) {
  if (!a.listen.empty()) return cmd_run_http(a);
  if (a.plain_http || !a.tls_cert.empty() || !a.tls_key.empty() || !a.client_ca.empty() || !a.client_crl.empty())
    return usage_error("--plain-http and the TLS options need --listen HOST:PORT");
  if (a.brokers.empty())
    return usage_error("run needs --brokers B (the Kafka engine node) or --listen HOST:PORT (HTTP over the "
                       "embedded log)");
  if (a.data.empty()) return usage_error("run needs --data DIR (state per partition)");
  return cmd_run_kafka(a, nullptr);
}

/// `kase run --brokers B`: the Kafka engine node; with `http`, it also serves
/// the HTTP API (requests produced to Kafka, decisions read back from it,
/// queries on this node's partitions).
int cmd_run_kafka(const Args& a, const adapters::http::ServerOptions* http) {
  adapters::kafka::NodeOptions o;
  o.brokers = a.brokers;
  o.data_dir = a.data;
  o.group = a.group;
  o.transactional_id = a.transactional_id;
  o.batch_max = a.batch;
  o.batch_ms = a.batch_ms;
  o.stop = &g_stop;
  o.verbose = !a.quiet;
  // Scrapes are rendered by the node's thread between batches.
  adapters::metrics::Tap tap;
  std::unique_ptr<adapters::metrics::Server> metrics;
  if (int rc = start_metrics(
          a, [&tap](std::string* out) -> Status {
            if (tap.collect(adapters::metrics::kCollectWait, out)) return {};
            return {Errc::io_error, "the engine node did not answer (starting, rebalancing or stopping)"};
          },
          &metrics);
      rc != 0)
    return rc;
  if (metrics) o.metrics = &tap;
  install_stop_handlers();
  adapters::kafka::NodeStats st;
  Status s;
  if (http == nullptr) {
    s = adapters::kafka::run_node(o, &st);
  } else {
    // The node runs on its own thread; the HTTP front produces to Kafka and
    // asks the node for queries. Stopping: the front first (what it took is
    // flushed to Kafka), then the node.
    adapters::kafka::PartitionTap queries;
    o.queries = &queries;
    std::unique_ptr<adapters::http::Server> server;
    adapters::http::ServerOptions front = *http;
    front.decisions_index_dir = (std::filesystem::path(a.data) / "http-decisions").string();
    if (Status hs = adapters::http::Server::start_kafka(a.brokers, &queries, front, &server); !hs.ok()) {
      tap.close();
      if (metrics) metrics->stop();
      if (hs.code() == Errc::invalid_argument) return usage_error(hs.message());
      return broker_error(hs);
    }
    std::fprintf(stderr, "kase run: serving %s://%s:%u over Kafka at %s\n", http->plain_http ? "http" : "https",
                 http->address.c_str(), static_cast<unsigned>(server->port()), a.brokers.c_str());
    std::atomic<bool> node_done{false};
    std::atomic<bool> node_stop{false};
    o.stop = &node_stop;
    std::thread node([&] {
      s = adapters::kafka::run_node(o, &st);
      node_done.store(true);
    });
    while (!g_stop.load() && !node_done.load()) std::this_thread::sleep_for(std::chrono::milliseconds(100));
    server->stop();
    node_stop.store(true);
    node.join();
    const adapters::http::ServerStats hst = server->stats();
    std::fprintf(stderr, "kase run: HTTP: %llu answers, %llu requests taken by Kafka, %llu connections\n",
                 static_cast<unsigned long long>(hst.requests), static_cast<unsigned long long>(hst.batches),
                 static_cast<unsigned long long>(hst.connections));
  }
  tap.close();
  if (metrics) metrics->stop();
  std::fprintf(stderr,
               "kase run: stopped; %llu decisions published in %llu transactions, %llu dead letters, %llu "
               "identity facts, %llu directory facts, %llu re-folded, %llu aborted, %llu producer restarts, %llu "
               "rebalances\n",
               static_cast<unsigned long long>(st.decided.load()), static_cast<unsigned long long>(st.transactions.load()),
               static_cast<unsigned long long>(st.dead_letters.load()), static_cast<unsigned long long>(st.identity_facts.load()),
               static_cast<unsigned long long>(st.directory_facts.load()),
               static_cast<unsigned long long>(st.refolded.load()),
               static_cast<unsigned long long>(st.aborted.load()), static_cast<unsigned long long>(st.producer_restarts.load()),
               static_cast<unsigned long long>(st.rebalances.load()));
  if (!s.ok()) {
    if (s.code() == Errc::invalid_argument) return usage_error(s.message());
    return broker_error(s);
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  Args a;
  std::string err;
  if (!parse(argc, argv, &a, &err)) {
    if (argc < 2) {
      std::fputs(kUsage, stderr);
      return 2;
    }
    return usage_error(err);
  }
  try {
    if (a.command == "help" || a.command == "--help" || a.command == "-h") {
      // One write: a reader that stops early (grep -q) never leaves us a broken pipe.
      const size_t n = std::strlen(kUsage);
      return ::write(STDOUT_FILENO, kUsage, n) == static_cast<ssize_t>(n) ? 0 : 3;
    }
    if (a.command == "submit") return cmd_submit(a);
    if (a.command == "replay") return cmd_replay(a);
    if (a.command == "demo") return cmd_demo(a);
    if (a.command == "get") return cmd_get(a);
    if (a.command == "query") return cmd_query(a);
    if (a.command == "audit") return cmd_audit(a);
    if (a.command == "kafka") return cmd_kafka(a);
    if (a.command == "produce") return cmd_produce(a);
    if (a.command == "run") return cmd_run(a);
    if (a.command == "fallback") return cmd_fallback(a);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "kase: internal error: %s\n", e.what());
    return 3;
  }
  return usage_error("unknown command '" + a.command + "'");
}
