// The HTTP server: Beast sessions as C++20 coroutines on Asio strands, and one
// engine thread that owns the Ledger (see http.h).
#include "kase/adapters/http.h"

#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <deque>
#include <filesystem>
#include <mutex>
#include <optional>
#include <thread>
#include <unordered_map>
#include <vector>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

#include "kase/adapters/decision_index.h"
#include "kase/adapters/kafka.h"
#include "kase/adapters/ledger.h"
#include "kase/adapters/metrics.h"
#include "kase/adapters/query.h"
#include "kase/events/build.h"
#include "kase/engine/reasons.h"

namespace kase::adapters::http {
namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
namespace ssl = net::ssl;
using tcp = net::ip::tcp;
namespace reason = engine::reason;

using HttpRequest = bhttp::request<bhttp::string_body>;
using HttpResponse = bhttp::response<bhttp::string_body>;
constexpr auto kTuple = net::as_tuple(net::use_awaitable);

int64_t system_now_us() {
  return std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// ---- The engine thread ----------------------------------------------------------

/// What the engine thread hands back for one piece of work.
struct EngineReply {
  enum class Kind : uint8_t { answer, not_found, json, failed } kind = Kind::failed;
  Answer answer;         // answer: the LogRecord
  unsigned status = 200; // json
  std::string json;      // json; failed: why, when known
};

/// A query on the live state: runs where the state lives (the engine thread
/// between batches; on Kafka the node's thread) over every Ledger there (one
/// on the embedded log; on Kafka the partitions the node holds).
using StateQuery = std::function<EngineReply(std::span<const Ledger* const>)>;

struct Work {
  // ready: /readyz's body (json), or failed with the reason.
  enum class Kind : uint8_t { submit, find, query, ready } kind = Kind::submit;
  std::string bytes;  // submit: the binary request; find: the request id
  StateQuery query;
  std::function<void(EngineReply)> done;  // called on the backend's thread
  /// submit: called when the request is durable in the log but perhaps not
  /// yet decided (Kafka has it); the embedded log makes it durable and
  /// decides it in one commit and calls only done().
  std::function<void()> accepted;
};

enum class Pushed : uint8_t { queued, overloaded, stopping };

/// Where requests are decided: the embedded log (EngineLoop) or Kafka
/// (KafkaBackend). Each piece of work gets exactly one done() call unless
/// push() refuses it.
class Backend {
 public:
  virtual ~Backend() = default;
  /// `over_limit`: the metrics' scrape, which must get through an overload.
  virtual Pushed push(Work&& w, bool over_limit = false) = 0;
  /// Refuses new work, finishes what is queued and joins. Idempotent.
  virtual void stop() = 0;
  [[nodiscard]] virtual bool failed() const = 0;
  [[nodiscard]] virtual uint64_t decided() const = 0;
  [[nodiscard]] virtual uint64_t batches() const = 0;
};

/// Owns the Ledger; drains the queue in order, folding consecutive requests
/// into one committed batch (group commit), answering each after its batch is
/// durable. Finds and queries see every request queued before them.
class EngineLoop final : public Backend {
 public:
  EngineLoop(std::unique_ptr<Ledger> ledger, size_t queue_max)
      : ledger_(std::move(ledger)), queue_max_(queue_max), thread_([this] { run(); }) {}
  ~EngineLoop() override { stop(); }

  Pushed push(Work&& w, bool over_limit = false) override {
    {
      std::lock_guard lk(mu_);
      if (stopping_) return Pushed::stopping;
      if (queue_.size() >= queue_max_ && !over_limit) return Pushed::overloaded;
      queue_.push_back(std::move(w));
    }
    cv_.notify_one();
    return Pushed::queued;
  }

  /// Refuses new work, decides everything queued and joins.
  void stop() override {
    {
      std::lock_guard lk(mu_);
      stopping_ = true;
    }
    cv_.notify_one();
    if (thread_.joinable()) thread_.join();
  }

  [[nodiscard]] bool failed() const override { return failed_.load(); }
  [[nodiscard]] uint64_t decided() const override { return decided_.load(); }
  [[nodiscard]] uint64_t batches() const override { return batches_.load(); }

 private:
  void run() {
    std::deque<Work> items;
    std::vector<std::span<const uint8_t>> spans;
    std::vector<Answer> answers;
    for (;;) {
      {
        std::unique_lock lk(mu_);
        cv_.wait(lk, [&] { return !queue_.empty() || stopping_; });
        if (queue_.empty()) return;
        items.swap(queue_);
      }
      while (!items.empty()) {
        if (items.front().kind != Work::Kind::submit) {
          serve(items.front());
          items.pop_front();
          continue;
        }
        size_t n = 0;
        spans.clear();
        while (n < items.size() && items[n].kind == Work::Kind::submit && n < kBatchRequestsMax) {
          spans.push_back(events::bytes_of(items[n].bytes));
          ++n;
        }
        commit(spans, &answers, items, n);
        items.erase(items.begin(), items.begin() + static_cast<std::ptrdiff_t>(n));
      }
    }
  }

  void commit(std::span<const std::span<const uint8_t>> spans, std::vector<Answer>* answers,
              std::deque<Work>& items, size_t n) {
    Status s;
    if (failed_.load()) {
      s = {Errc::failed_state, "an earlier commit failed"};
    } else {
      s = ledger_->submit(spans, answers);
    }
    if (!s.ok()) {
      if (!failed_.exchange(true)) std::fprintf(stderr, "kase run: commit failed, stopping: %s\n", s.to_string().c_str());
      for (size_t i = 0; i < n; ++i) items[i].done(EngineReply{});
      return;
    }
    decided_.fetch_add(n);
    batches_.fetch_add(1);
    for (size_t i = 0; i < n; ++i) {
      EngineReply r;
      r.kind = EngineReply::Kind::answer;
      r.answer = std::move((*answers)[i]);
      items[i].done(std::move(r));
    }
  }

  void serve(Work& w) {
    EngineReply r;
    if (w.kind == Work::Kind::find) {
      Status s = ledger_->find(w.bytes, &r.answer);
      if (s.ok()) {
        r.kind = EngineReply::Kind::answer;
      } else if (s.code() == Errc::not_found) {
        r.kind = EngineReply::Kind::not_found;
      }
    } else if (w.kind == Work::Kind::ready) {
      r.kind = EngineReply::Kind::json;
      r.json = "{\"status\": \"ready\", \"log\": \"embedded\", \"next_offset\": " +
               std::to_string(ledger_->meta().next_offset) + "}";
    } else {
      const Ledger* l = ledger_.get();
      r = w.query(std::span<const Ledger* const>(&l, 1));
    }
    w.done(std::move(r));
  }

  std::unique_ptr<Ledger> ledger_;
  const size_t queue_max_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Work> queue_;
  bool stopping_ = false;
  std::atomic<bool> failed_{false};
  std::atomic<uint64_t> decided_{0};
  std::atomic<uint64_t> batches_{0};
  std::thread thread_;  // last: starts after the members above exist
};

/// The HTTP API over Kafka. A request is produced to kase.requests
/// (idempotent, acks=all) and counts as accepted once Kafka has it; its
/// decision comes from kase.decisions, which a reader follows from the start
/// (read_committed, no consumer group) into an index by request id. Queries
/// run on the engine node's thread over the partitions it holds.
class KafkaBackend final : public Backend {
 public:
  KafkaBackend(std::string brokers, std::unique_ptr<kafka::RequestProducer> producer, kafka::PartitionTap* tap,
               size_t queue_max, std::unique_ptr<DecisionIndex> index)
      : brokers_(std::move(brokers)),
        producer_(std::move(producer)),
        tap_(tap),
        queue_max_(queue_max),
        index_(std::move(index)),
        poller_([this] { poll_loop(); }),
        reader_([this] { read_loop(); }) {}
  ~KafkaBackend() override { stop(); }

  Pushed push(Work&& w, bool over_limit = false) override {
    if (stopping_.load()) return Pushed::stopping;
    switch (w.kind) {
      case Work::Kind::submit:
        return submit(std::move(w), over_limit);
      case Work::Kind::find: {
        EngineReply r;
        {
          if (index_->find(w.bytes, &r.answer.record)) {
            r.kind = EngineReply::Kind::answer;
          } else if (caught_up_) {
            r.kind = EngineReply::Kind::not_found;
          } else {
            r.json = "still reading kase.decisions from the start; try again shortly";
          }
        }
        w.done(std::move(r));
        return Pushed::queued;
      }
      case Work::Kind::ready: {
        if (!caught_up_.load()) {
          EngineReply r;
          r.json = "still reading kase.decisions from the start";
          w.done(std::move(r));
          return Pushed::queued;
        }
        const uint64_t indexed = decided();
        tap_->post([done = std::move(w.done), indexed](std::span<const Ledger* const> ledgers,
                                                        std::span<const int32_t> ids) {
          EngineReply r;
          if (ledgers.empty()) {
            r.json = "the engine node holds no partitions (starting, rebalancing or stopped)";
          } else {
            r.kind = EngineReply::Kind::json;
            std::string list;
            for (int32_t p : ids) list += (list.empty() ? "" : ", ") + std::to_string(p);
            r.json = "{\"status\": \"ready\", \"log\": \"kafka\", \"partitions\": [" + list +
                     "], \"decisions_indexed\": " + std::to_string(indexed) + "}";
          }
          done(std::move(r));
        });
        return Pushed::queued;
      }
      case Work::Kind::query:
        tap_->post([query = std::move(w.query), done = std::move(w.done)](std::span<const Ledger* const> ledgers,
                                                                            std::span<const int32_t>) {
          if (ledgers.empty()) {
            EngineReply r;
            r.json = "the engine node holds no partitions (starting, rebalancing or stopped)";
            done(std::move(r));
            return;
          }
          done(query(ledgers));
        });
        return Pushed::queued;
    }
    return Pushed::stopping;
  }

  void stop() override {
    stopping_.store(true);
    if (poller_.joinable()) poller_.join();  // flushes what was produced: nothing accepted is left behind
    if (reader_.joinable()) reader_.join();
  }

  [[nodiscard]] bool failed() const override { return false; }  // Kafka errors are retried
  [[nodiscard]] uint64_t decided() const override { return index_->size(); }
  [[nodiscard]] uint64_t batches() const override { return delivered_.load(); }

 private:
  /// How long an answered-or-abandoned wait for a decision is kept.
  static constexpr auto kWaiterTtl = std::chrono::minutes(10);
  using Done = std::function<void(EngineReply)>;
  struct Waiter {
    Done done;
    std::chrono::steady_clock::time_point since;
  };

  Pushed submit(Work&& w, bool over_limit) {
    if (in_flight_.load() >= queue_max_ && !over_limit) return Pushed::overloaded;
    const fb::Request* req = events::verify_request(events::bytes_of(w.bytes));
    if (req == nullptr || req->request_id() == nullptr) {
      EngineReply r;
      r.json = "the request does not verify";
      w.done(std::move(r));
      return Pushed::queued;
    }
    std::string id(req->request_id()->string_view());
    ++in_flight_;
    auto done = std::make_shared<Done>(std::move(w.done));
    Status s = producer_->produce(events::bytes_of(w.bytes), [this, id, done, accepted = std::move(w.accepted)](
                                                                 const Status& st) {
      --in_flight_;
      if (!st.ok()) {
        EngineReply r;
        r.json = "Kafka did not take the request (" + st.message() + "); it was not logged, resubmit it by its request id";
        (*done)(std::move(r));
        return;
      }
      ++delivered_;
      if (accepted) accepted();
      await_decision(id, std::move(*done));
    });
    if (!s.ok()) {
      --in_flight_;
      EngineReply r;
      r.json = "Kafka did not take the request (" + s.message() + "); it was not logged, resubmit it by its request id";
      (*done)(std::move(r));
    }
    return Pushed::queued;
  }

  /// After delivery: the decision when it is indexed already (an earlier
  /// request with this id, or a fast engine), else when the reader sees it.
  void await_decision(const std::string& id, Done done) {
    std::unique_lock lk(mu_);  // index_record() adds to the index under it, then answers the waiters
    if (std::string record; index_->find(id, &record)) {
      EngineReply r;
      r.kind = EngineReply::Kind::answer;
      r.answer.record = std::move(record);
      r.answer.duplicate = true;  // only ever compared for another actor's record
      lk.unlock();
      done(std::move(r));
      return;
    }
    waiters_[id].push_back(Waiter{std::move(done), std::chrono::steady_clock::now()});
  }

  void poll_loop() {
    auto last_prune = std::chrono::steady_clock::now();
    while (!stopping_.load()) {
      producer_->poll(50);
      const auto now = std::chrono::steady_clock::now();
      if (now - last_prune > std::chrono::seconds(10)) {
        last_prune = now;
        std::lock_guard lk(mu_);
        for (auto it = waiters_.begin(); it != waiters_.end();) {
          auto& list = it->second;
          std::erase_if(list, [&](const Waiter& w) { return now - w.since > kWaiterTtl; });
          it = list.empty() ? waiters_.erase(it) : std::next(it);
        }
      }
    }
    if (Status s = producer_->flush(10'000); !s.ok())
      std::fprintf(stderr, "kase run: HTTP intake: %s\n", s.to_string().c_str());
  }

  void read_loop() {
    kafka::ReadOptions o;
    o.brokers = brokers_;
    o.topic = kafka::kDecisionsTopic;
    o.follow = true;
    o.stop = &stopping_;
    o.caught_up = [this] { caught_up_.store(true); };
    while (!stopping_.load()) {
      // On from where the index got to, before a restart or a read error;
      // from the start when it was read from another cluster.
      o.start_at = [this](const std::string& cluster) {
        const std::string had = index_->cluster();
        if (!cluster.empty() && had != cluster) {
          if (!had.empty())
            std::fprintf(stderr,
                         "kase run: the decisions index was read from Kafka cluster %s, the brokers are cluster %s: "
                         "reading %s afresh\n",
                         had.c_str(), cluster.c_str(), kafka::kDecisionsTopic);
          if (Status s = index_->reset(cluster); !s.ok())
            std::fprintf(stderr, "kase run: %s\n", s.to_string().c_str());
        }
        return index_->next_offsets();
      };
      Status s = kafka::read_topic(o, [this](int32_t partition, int64_t offset, std::span<const uint8_t> value,
                                             const std::vector<std::pair<std::string, std::string>>&) {
        index_record(partition, offset, value);
      });
      if (stopping_.load()) break;
      std::fprintf(stderr, "kase run: reading %s: %s; retrying\n", kafka::kDecisionsTopic,
                   s.ok() ? "stopped" : s.to_string().c_str());
      std::this_thread::sleep_for(std::chrono::seconds(1));
    }
  }

  void index_record(int32_t partition, int64_t offset, std::span<const uint8_t> value) {
    const fb::LogRecord* rec = events::verify_log_record(value);
    const fb::Request* req = rec != nullptr ? events::nested_request(*rec) : nullptr;
    const std::string id =
        req != nullptr && req->request_id() != nullptr ? std::string(events::sv(req->request_id())) : "";
    // Added to the index first, then the waiters taken under mu_:
    // await_decision() looks in the index under mu_ before it waits, so it
    // either finds the decision or is among the waiters taken here.
    std::string record;
    // A record that is not a decision only moves the partition's offset on.
    for (;;) {
      const Status s = index_->add(partition, offset, id, id.empty() ? std::span<const uint8_t>{} : value,
                                   id.empty() ? nullptr : &record, nullptr);
      if (s.ok()) break;
      if (stopping_.load()) return;  // not indexed: read again after a restart
      std::fprintf(stderr, "kase run: %s; retrying\n", s.to_string().c_str());  // a full disk, say
      std::this_thread::sleep_for(std::chrono::seconds(1));
    }
    if (id.empty()) return;
    std::vector<Waiter> ready;
    {
      std::lock_guard lk(mu_);
      if (auto w = waiters_.find(id); w != waiters_.end()) {
        ready = std::move(w->second);
        waiters_.erase(w);
      }
    }
    for (Waiter& w : ready) {
      EngineReply r;
      r.kind = EngineReply::Kind::answer;
      r.answer.record = record;
      w.done(std::move(r));
    }
  }

  const std::string brokers_;
  std::unique_ptr<kafka::RequestProducer> producer_;
  kafka::PartitionTap* tap_;
  const size_t queue_max_;
  std::atomic<bool> stopping_{false};
  std::atomic<bool> caught_up_{false};
  std::atomic<size_t> in_flight_{0};
  std::atomic<uint64_t> delivered_{0};
  std::unique_ptr<DecisionIndex> index_;  // request id -> LogRecord, on disk
  std::mutex mu_;
  std::unordered_map<std::string, std::vector<Waiter>> waiters_;  // request id -> delivered, not yet decided
  std::thread poller_;  // last: start after the members above exist
  std::thread reader_;
};

// ---- Responses ----------------------------------------------------------------

HttpResponse json_response(unsigned status, std::string body) {
  HttpResponse res{static_cast<bhttp::status>(status), 11};
  res.set(bhttp::field::server, "kase");
  res.set(bhttp::field::content_type, "application/json");
  res.body() = std::move(body);
  res.body() += '\n';
  return res;
}

HttpResponse refusal_response(unsigned status, const char* code, std::string message) {
  return json_response(status, refusal_json({status, code, std::move(message)}));
}

/// The JSON codec of this thread (a flatbuffers::Parser is not shared).
events::JsonCodec& thread_codec() {
  thread_local events::JsonCodec codec;
  return codec;
}

/// The actor of the request inside a logged record ("" when none).
std::string_view record_actor(const Answer& a) {
  const auto* rec = flatbuffers::GetRoot<fb::LogRecord>(a.record.data());
  if (rec->request() == nullptr) return {};
  const fb::Request* req = events::verify_request({rec->request()->data(), rec->request()->size()});
  if (req == nullptr || req->actor() == nullptr) return {};
  return req->actor()->string_view();
}

/// Subject CN and OUs of the peer's certificate.
Identity identity_of(SSL* ssl) {
  Identity who;
  X509* cert = SSL_get0_peer_certificate(ssl);
  if (cert == nullptr) return who;
  X509_NAME* subject = X509_get_subject_name(cert);
  auto text = [&](int index) {
    std::string out;
    ASN1_STRING* data = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subject, index));
    unsigned char* utf8 = nullptr;
    const int n = ASN1_STRING_to_UTF8(&utf8, data);
    if (n > 0) out.assign(reinterpret_cast<const char*>(utf8), static_cast<size_t>(n));
    OPENSSL_free(utf8);
    return out;
  };
  const int cn = X509_NAME_get_index_by_NID(subject, NID_commonName, -1);
  if (cn >= 0) who.name = text(cn);
  std::vector<std::string> ous;
  for (int i = X509_NAME_get_index_by_NID(subject, NID_organizationalUnitName, -1); i >= 0;
       i = X509_NAME_get_index_by_NID(subject, NID_organizationalUnitName, i))
    ous.push_back(text(i));
  who.kind = kind_of(ous);
  return who;
}

bool is_http_parse_error(const beast::error_code& ec) {
  return &ec.category() == &bhttp::make_error_code(bhttp::error::bad_method).category();
}

}  // namespace

// ---- The server ---------------------------------------------------------------------

class Server::Impl {
 public:
  Impl(const ServerOptions& o, std::unique_ptr<Backend> backend)
      : options_(o),
        limits_(o.limits),
        clock_(o.clock_us ? o.clock_us : std::function<int64_t()>(system_now_us)),
        ssl_ctx_(ssl::context::tls_server),
        ioc_(static_cast<int>(std::max<size_t>(o.threads, 1))),
        acceptor_(net::make_strand(ioc_)),
        engine_(std::move(backend)) {}

  Status open() {
    beast::error_code ec;
    const net::ip::address address = net::ip::make_address(options_.address, ec);
    if (ec) return {Errc::invalid_argument, "--listen: bad address '" + options_.address + "'"};
    if (options_.plain_http && !address.is_loopback())
      return {Errc::invalid_argument, "--plain-http serves only a loopback address (127.0.0.1 or ::1)"};
    if (!options_.plain_http) {
      if (Status s = configure_tls(); !s.ok()) return s;
    }
    const tcp::endpoint endpoint(address, options_.port);
    acceptor_.open(endpoint.protocol(), ec);
    if (!ec) acceptor_.set_option(net::socket_base::reuse_address(true), ec);
    if (!ec) acceptor_.bind(endpoint, ec);
    if (!ec) acceptor_.listen(net::socket_base::max_listen_connections, ec);
    if (ec) return {Errc::io_error, "cannot listen on " + options_.address + ":" + std::to_string(options_.port) +
                                        ": " + ec.message()};
    port_ = acceptor_.local_endpoint().port();
    net::co_spawn(acceptor_.get_executor(), accept_loop(), net::detached);
    for (size_t i = 0; i < std::max<size_t>(options_.threads, 1); ++i) threads_.emplace_back([this] { ioc_.run(); });
    return {};
  }

  void stop() {
    if (stopped_.exchange(true)) return;
    stopping_.store(true);
    net::post(acceptor_.get_executor(), [this] {
      beast::error_code ec;
      acceptor_.close(ec);
    });
    // Everything queued is decided and committed; its answers are posted.
    engine_->stop();
    // Let the sessions write them: bounded, idle keep-alive connections stay.
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(2);
    while (busy_.load() > 0 && std::chrono::steady_clock::now() < until)
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    ioc_.stop();
    for (auto& t : threads_) t.join();
    threads_.clear();
  }

  [[nodiscard]] uint16_t port() const { return port_; }
  [[nodiscard]] bool failed() const { return engine_->failed(); }

  Status metrics(std::chrono::milliseconds wait, std::string* out) {
    struct Pending {
      std::mutex mu;
      std::condition_variable cv;
      bool done = false;
      bool ok = false;
      std::string text;
    };
    auto pending = std::make_shared<Pending>();
    Work w;
    w.kind = Work::Kind::query;
    w.query = [this](std::span<const Ledger* const> ledgers) {
      const ServerStats st = stats();
      metrics::View v;
      v.mode = "embedded";
      v.now_us = clock_();
      for (const Ledger* l : ledgers) v.partitions.push_back(metrics::PartitionView{"embedded", l, -1});
      v.http = &st;
      EngineReply r;
      r.kind = EngineReply::Kind::json;
      r.json = metrics::render(v);
      return r;
    };
    w.done = [pending](EngineReply r) {
      {
        std::lock_guard lk(pending->mu);
        pending->ok = r.kind == EngineReply::Kind::json;
        pending->text = std::move(r.json);
        pending->done = true;
      }
      pending->cv.notify_all();
    };
    if (engine_->push(std::move(w), true) != Pushed::queued) return {Errc::io_error, "the engine is stopping"};
    std::unique_lock lk(pending->mu);
    if (!pending->cv.wait_for(lk, wait, [&] { return pending->done; }))
      return {Errc::io_error, "the engine thread did not answer within " + std::to_string(wait.count()) + " ms"};
    if (!pending->ok) return {Errc::io_error, "the engine failed"};
    *out = std::move(pending->text);
    return {};
  }
  [[nodiscard]] ServerStats stats() const {
    ServerStats s;
    s.connections = connections_total_.load();
    s.connections_refused = connections_refused_.load();
    s.handshakes_failed = handshakes_failed_.load();
    s.crl_reloads = crl_reloads_.load();
    s.crl_reload_failures = crl_reload_failures_.load();
    s.requests = requests_.load();
    s.decided = engine_->decided();
    s.batches = engine_->batches();
    s.timeouts = timeouts_.load();
    return s;
  }

 private:
  Status configure_tls() {
    try {
      ssl_ctx_.set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 | ssl::context::no_sslv3 |
                           ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1 | ssl::context::single_dh_use);
      SSL_CTX_set_min_proto_version(ssl_ctx_.native_handle(), TLS1_2_VERSION);
      ssl_ctx_.use_certificate_chain_file(options_.tls_cert_file);
      ssl_ctx_.use_private_key_file(options_.tls_key_file, ssl::context::pem);
      ssl_ctx_.load_verify_file(options_.client_ca_file);
      // R41: no certificate, an unknown issuer or an expired certificate fails the handshake.
      ssl_ctx_.set_verify_mode(ssl::verify_peer | ssl::verify_fail_if_no_peer_cert);
      STACK_OF(X509_NAME)* names = SSL_load_client_CA_file(options_.client_ca_file.c_str());
      if (names != nullptr) SSL_CTX_set_client_CA_list(ssl_ctx_.native_handle(), names);
      if (!options_.client_crl_file.empty()) {
        // Revoked client certificates fail the handshake (R41). The lists
        // are re-read when the file changes (maybe_reload_crl).
        crl_seen_ = crl_file_version();
        StorePtr store;
        if (Status st = build_crl_store(&store); !st.ok()) return st;
        crl_store_ = std::move(store);
        crl_checked_ = std::chrono::steady_clock::now();
      }
    } catch (const boost::system::system_error& e) {
      return {Errc::invalid_argument, std::string("TLS set-up (--tls-cert, --tls-key, --client-ca): ") + e.what()};
    }
    return {};
  }

  // ---- --client-crl: the client CA and its revocation lists, re-read on change ----
  struct StoreFree {
    void operator()(X509_STORE* s) const noexcept { X509_STORE_free(s); }
  };
  using StorePtr = std::unique_ptr<X509_STORE, StoreFree>;
  /// What identifies one version of the CRL file: its modification time and size.
  using FileVersion = std::pair<std::filesystem::file_time_type, uintmax_t>;
  static constexpr auto kCrlCheckEvery = std::chrono::seconds(1);

  [[nodiscard]] FileVersion crl_file_version() const {
    std::error_code ec;
    const auto t = std::filesystem::last_write_time(options_.client_crl_file, ec);
    const auto n = ec ? 0 : std::filesystem::file_size(options_.client_crl_file, ec);
    return ec ? FileVersion{} : FileVersion{t, n};
  }

  /// A verification store with the client CA (--client-ca) and every CRL in
  /// --client-crl, checked for each client certificate.
  Status build_crl_store(StorePtr* out) const {
    StorePtr store(X509_STORE_new());
    if (store == nullptr || X509_STORE_load_file(store.get(), options_.client_ca_file.c_str()) != 1)
      return {Errc::invalid_argument, "TLS set-up (--client-ca): cannot read " + options_.client_ca_file};
    X509_LOOKUP* lookup = X509_STORE_add_lookup(store.get(), X509_LOOKUP_file());
    if (lookup == nullptr || X509_load_crl_file(lookup, options_.client_crl_file.c_str(), X509_FILETYPE_PEM) <= 0)
      return {Errc::invalid_argument,
              "TLS set-up (--client-crl): no certificate revocation list in " + options_.client_crl_file};
    X509_STORE_set_flags(store.get(), X509_V_FLAG_CRL_CHECK);
    *out = std::move(store);
    return {};
  }

  /// At most once a second, on a new connection: when the CRL file changed
  /// (a new list published, or the old one about to pass its next update),
  /// the new lists apply to every handshake from then on. A file that does
  /// not parse (half written, wrong content) keeps the lists in force and is
  /// counted and reported once; the next change is tried again.
  void maybe_reload_crl() {
    if (options_.client_crl_file.empty()) return;
    const auto now = std::chrono::steady_clock::now();
    if (now - crl_checked_ < kCrlCheckEvery) return;
    crl_checked_ = now;
    const FileVersion v = crl_file_version();
    if (v == crl_seen_) return;
    crl_seen_ = v;
    StorePtr store;
    if (Status st = build_crl_store(&store); !st.ok()) {
      crl_reload_failures_.fetch_add(1);
      std::fprintf(stderr, "kase: %s; the revocation lists read before stay in force\n", st.message().c_str());
      return;
    }
    {
      std::lock_guard lock(crl_mu_);
      crl_store_ = std::move(store);
    }
    crl_reloads_.fetch_add(1);
  }

  /// Points a new connection's verification at the lists in force.
  void use_crl_store(SSL* ssl) {
    std::lock_guard lock(crl_mu_);
    if (crl_store_ != nullptr) SSL_set1_verify_cert_store(ssl, crl_store_.get());  // takes its own reference
  }

  /// Counts a connection while it lives.
  struct ConnectionSlot {
    std::atomic<size_t>& open;
    ~ConnectionSlot() { open.fetch_sub(1); }
  };
  /// Counts a request between intake and the end of its answer's write.
  struct BusySlot {
    std::atomic<size_t>& busy;
    explicit BusySlot(std::atomic<size_t>& b) : busy(b) { busy.fetch_add(1); }
    ~BusySlot() { busy.fetch_sub(1); }
  };

  net::awaitable<void> accept_loop() {
    for (;;) {
      auto [ec, socket] = co_await acceptor_.async_accept(net::make_strand(ioc_), kTuple);
      if (ec) {
        if (!acceptor_.is_open() || stopping_.load()) co_return;
        // Out of descriptors and the like: wait a little instead of spinning.
        net::steady_timer pause(co_await net::this_coro::executor, std::chrono::milliseconds(50));
        co_await pause.async_wait(kTuple);
        continue;
      }
      if (open_connections_.load() >= limits_.connections_max) {
        connections_refused_.fetch_add(1);
        beast::error_code ignored;
        socket.close(ignored);
        continue;
      }
      maybe_reload_crl();
      open_connections_.fetch_add(1);
      connections_total_.fetch_add(1);
      auto executor = socket.get_executor();
      net::co_spawn(executor, connection(std::move(socket)), [](const std::exception_ptr& e) {
        // A bug in one connection must not take the node down; say so.
        if (!e) return;
        try {
          std::rethrow_exception(e);
        } catch (const std::exception& x) {
          std::fprintf(stderr, "kase run: connection ended by an exception: %s\n", x.what());
        }
      });
    }
  }

  net::awaitable<void> connection(tcp::socket socket) {
    ConnectionSlot slot{open_connections_};
    beast::tcp_stream stream(std::move(socket));
    if (options_.plain_http) {
      // Local development: no authentication, the Treasury's rights.
      const Identity who{CertKind::treasury, "plain-http"};
      co_await serve(stream, who);
      beast::error_code ignored;
      stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
      co_return;
    }
    beast::ssl_stream<beast::tcp_stream> tls(std::move(stream), ssl_ctx_);
    use_crl_store(tls.native_handle());
    beast::get_lowest_layer(tls).expires_after(limits_.read_timeout);
    auto [handshake_ec] = co_await tls.async_handshake(ssl::stream_base::server, kTuple);
    if (handshake_ec) {
      handshakes_failed_.fetch_add(1);
      co_return;
    }
    const Identity who = identity_of(tls.native_handle());
    const bool clean = co_await serve(tls, who);
    if (clean) {
      beast::get_lowest_layer(tls).expires_after(std::chrono::seconds(1));
      auto [shutdown_ec] = co_await tls.async_shutdown(kTuple);
      (void)shutdown_ec;
    }
  }

  /// Serves requests on one connection; false when the connection ended
  /// abruptly (no TLS close_notify exchange then).
  template <class Stream>
  net::awaitable<bool> serve(Stream& stream, const Identity& who) {
    beast::flat_buffer buffer;
    auto& lowest = beast::get_lowest_layer(stream);
    for (size_t served = 0;; ++served) {
      if (buffer.size() == 0) {
        // Keep-alive: wait for the first byte of the next request.
        lowest.expires_after(limits_.idle_timeout);
        auto [idle_ec, n] = co_await stream.async_read_some(buffer.prepare(1024), kTuple);
        if (idle_ec) {
          if (idle_ec == beast::error::timeout) timeouts_.fetch_add(1);
          co_return false;
        }
        buffer.commit(n);
      }
      // From its first byte, the whole request must arrive within read_timeout.
      bhttp::request_parser<bhttp::string_body> parser;
      limit_parser(parser, limits_);
      lowest.expires_after(limits_.read_timeout);
      auto [read_ec, header_bytes] = co_await bhttp::async_read_header(stream, buffer, parser, kTuple);
      (void)header_bytes;
      beast::error_code ec = read_ec;
      if (!ec && !parser.is_done()) {
        if (beast::iequals(parser.get()[bhttp::field::expect], "100-continue")) {
          bhttp::response<bhttp::empty_body> go_on{bhttp::status::continue_, 11};
          auto [continue_ec, continue_bytes] = co_await bhttp::async_write(stream, go_on, kTuple);
          (void)continue_bytes;
          if (continue_ec) co_return false;
        }
        auto [body_ec, body_bytes] = co_await bhttp::async_read(stream, buffer, parser, kTuple);
        (void)body_bytes;
        ec = body_ec;
      }
      if (ec) {
        if (ec == beast::error::timeout) timeouts_.fetch_add(1);  // a slow client, cut off
        if (!is_http_parse_error(ec) || ec == bhttp::error::end_of_stream || ec == bhttp::error::partial_message)
          co_return false;
        HttpResponse res =
            ec == bhttp::error::body_limit
                ? refusal_response(413, reason::kHttpBodyTooLarge,
                                   "body larger than " + std::to_string(limits_.body_bytes_max) + " bytes")
            : ec == bhttp::error::header_limit
                ? refusal_response(431, reason::kHttpHeaderTooLarge,
                                   "header larger than " + std::to_string(limits_.header_bytes_max) + " bytes")
                : refusal_response(400, reason::kHttpBadRequest, "not an HTTP/1.1 request: " + ec.message());
        res.keep_alive(false);
        res.prepare_payload();
        requests_.fetch_add(1);
        lowest.expires_after(limits_.read_timeout);
        auto [write_ec, written] = co_await bhttp::async_write(stream, res, kTuple);
        (void)written;
        if (!write_ec) co_await linger(lowest);
        co_return false;
      }

      HttpRequest& req = parser.get();
      BusySlot busy(busy_);
      HttpResponse res = co_await handle(req, who);
      const bool keep = req.keep_alive() && served + 1 < limits_.requests_per_connection_max && !stopping_.load();
      res.version(req.version());
      res.keep_alive(keep);
      res.prepare_payload();
      requests_.fetch_add(1);
      lowest.expires_after(limits_.read_timeout);
      auto [write_ec, written] = co_await bhttp::async_write(stream, res, kTuple);
      (void)written;
      if (write_ec) co_return false;
      if (!keep) co_return true;
    }
  }

  /// After refusing a request whose rest is still coming: stop sending and
  /// read (and drop) a bounded amount, so that the client sees the answer
  /// instead of a reset.
  net::awaitable<void> linger(beast::tcp_stream& lowest) {
    beast::error_code ignored;
    lowest.socket().shutdown(tcp::socket::shutdown_send, ignored);
    lowest.expires_after(std::chrono::seconds(1));
    std::array<char, 4096> sink{};
    size_t dropped = 0;
    while (dropped < 4 * limits_.body_bytes_max + limits_.header_bytes_max) {
      auto [ec, n] = co_await lowest.async_read_some(net::buffer(sink), kTuple);
      if (ec) break;
      dropped += n;
    }
  }

  struct Waiter {
    explicit Waiter(const net::any_io_executor& ex) : timer(ex) {}
    net::steady_timer timer;
    std::optional<EngineReply> reply;
    bool accepted = false;             // durable in the log (Work::accepted)
    bool waiting_for_accepted = false;
  };
  struct Called {
    Pushed pushed = Pushed::queued;
    std::optional<EngineReply> reply;  // empty: not ready within the wait
    bool accepted = false;             // without a reply: durable, decision pending
  };

  /// Queues work for the engine thread and waits for its reply, at most
  /// `wait`. With `durable_wait` (a submit): when no reply came within
  /// `wait`, waits up to `durable_wait` more for the reply or for the request
  /// to be durable in the log, so that a 202 never promises what a crash
  /// could lose.
  net::awaitable<Called> call(Work work, std::chrono::milliseconds wait,
                              std::chrono::milliseconds durable_wait = std::chrono::milliseconds(0)) {
    auto executor = co_await net::this_coro::executor;
    auto waiter = std::make_shared<Waiter>(executor);
    waiter->timer.expires_after(wait);
    std::weak_ptr<Waiter> weak = waiter;
    work.done = [executor, weak](EngineReply r) {
      // The reply goes back to the connection's strand; a connection that is
      // gone no longer waits (the decision is durable and can be fetched).
      net::post(executor, [weak, r = std::move(r)]() mutable {
        if (auto w = weak.lock()) {
          w->reply = std::move(r);
          w->timer.cancel();
        }
      });
    };
    if (durable_wait.count() > 0) {
      work.accepted = [executor, weak] {
        net::post(executor, [weak] {
          if (auto w = weak.lock()) {
            w->accepted = true;
            if (w->waiting_for_accepted) w->timer.cancel();
          }
        });
      };
    }
    Called c;
    c.pushed = engine_->push(std::move(work));
    if (c.pushed != Pushed::queued) co_return c;
    auto [ec] = co_await waiter->timer.async_wait(kTuple);
    (void)ec;
    if (!waiter->reply && !waiter->accepted && durable_wait.count() > 0) {
      waiter->waiting_for_accepted = true;
      waiter->timer.expires_after(durable_wait);
      auto [ec2] = co_await waiter->timer.async_wait(kTuple);
      (void)ec2;
    }
    c.reply = std::move(waiter->reply);
    c.accepted = waiter->accepted;
    co_return c;
  }

  /// How long a read (readyz, a decision, a query) waits for the engine: the
  /// read timeout, not the decision wait, which may be 0 (then every POST
  /// answers 202 at once, but reads still answer).
  [[nodiscard]] std::chrono::milliseconds query_wait() const { return limits_.read_timeout; }

  static HttpResponse not_queued(Pushed p) {
    HttpResponse res = p == Pushed::overloaded
                           ? refusal_response(503, reason::kHttpOverloaded, "too many requests waiting for the engine")
                           : refusal_response(503, reason::kHttpUnavailable, "the node is stopping");
    res.set(bhttp::field::retry_after, "1");
    return res;
  }

  static HttpResponse unavailable(const std::string& message) {
    HttpResponse res = refusal_response(503, reason::kHttpUnavailable, message);
    res.set(bhttp::field::retry_after, "1");
    return res;
  }

  net::awaitable<HttpResponse> handle(const HttpRequest& req, const Identity& who) {
    const std::string_view target(req.target().data(), req.target().size());
    const Match m = match(std::string_view(req.method_string().data(), req.method_string().size()), target);
    if (m.status == 404) co_return refusal_response(404, reason::kHttpNotFound, "no route " + std::string(target));
    if (m.status == 405) {
      HttpResponse res = refusal_response(405, reason::kHttpMethodNotAllowed,
                                          std::string(req.method_string()) + " not allowed; allowed: " + m.allow);
      res.set(bhttp::field::allow, m.allow);
      co_return res;
    }
    if (!may_query(who, m.id))
      co_return refusal_response(403, reason::kForbidden, "a user certificate may not read this");
    switch (m.id) {
      case RouteId::healthz:
        co_return json_response(200, R"({"status": "alive"})");
      case RouteId::readyz:
        co_return co_await readyz();
      case RouteId::submit:
        co_return co_await submit(req, who);
      case RouteId::decision:
        co_return co_await decision(m.params[0], who);
      default:
        co_return co_await query(m, who);
    }
  }

  net::awaitable<HttpResponse> readyz() {
    if (engine_->failed()) co_return unavailable("a commit failed; the node must be restarted");
    Work w;
    w.kind = Work::Kind::ready;
    Called c = co_await call(std::move(w), query_wait());
    if (c.pushed != Pushed::queued) co_return not_queued(c.pushed);
    if (!c.reply) co_return unavailable("the engine did not answer within the wait");
    if (c.reply->kind != EngineReply::Kind::json)
      co_return unavailable(c.reply->json.empty() ? "not ready" : std::move(c.reply->json));
    co_return json_response(200, std::move(c.reply->json));
  }

  net::awaitable<HttpResponse> submit(const HttpRequest& req, const Identity& who) {
    const auto type = req[bhttp::field::content_type];
    if (!type.empty() && !beast::iequals(type.substr(0, std::min<size_t>(type.size(), 16)), "application/json"))
      co_return refusal_response(415, reason::kHttpUnsupportedMediaType, "the body must be application/json");
    std::string bin;
    Refusal refusal;
    if (!intake(thread_codec(), who, req.body(), clock_(), &bin, &refusal))
      co_return refusal_response(refusal.status, refusal.code.c_str(), std::move(refusal.message));
    const std::string request_id(flatbuffers::GetRoot<fb::Request>(bin.data())->request_id()->string_view());
    Work w;
    w.kind = Work::Kind::submit;
    w.bytes = std::move(bin);
    Called c = co_await call(std::move(w), limits_.decision_wait, query_wait());
    if (c.pushed != Pushed::queued) co_return not_queued(c.pushed);
    const std::string location = "/v1/decisions/" + percent_encode(request_id);
    if (!c.reply && !c.accepted) {
      // Neither decided nor durable within the read timeout: it may still be
      // logged; resubmitting the same request id is safe (idempotent).
      co_return unavailable("not yet in the log after " + std::to_string(query_wait().count()) +
                            " ms; resubmit it by its request id (a request id is decided once)");
    }
    if (!c.reply) {
      // Durable in the log, and decided as soon as the engine gets to it.
      HttpResponse res = json_response(202, "{\"request_id\": " + json_string(request_id) +
                                                ", \"status\": \"pending\", \"location\": " +
                                                json_string(location) + "}");
      res.set(bhttp::field::location, location);
      co_return res;
    }
    if (c.reply->kind != EngineReply::Kind::answer)
      co_return unavailable(c.reply->json.empty()
                                ? "the commit failed; the request was not logged, resubmit it by its request id"
                                : std::move(c.reply->json));
    co_return answer_response(*c.reply, who, location);
  }

  HttpResponse answer_response(const EngineReply& r, const Identity& who, const std::string& location) {
    if (who.kind == CertKind::user && r.answer.duplicate && record_actor(r.answer) != who.name)
      return refusal_response(409, reason::kRequestIdOfAnotherActor,
                              "this request id was used by another actor; choose a new one");
    HttpResponse res = json_response(200, thread_codec().decision_to_json(*r.answer.decision()));
    res.set(bhttp::field::content_location, location);
    return res;
  }

  net::awaitable<HttpResponse> decision(const std::string& request_id, const Identity& who) {
    Work w;
    w.kind = Work::Kind::find;
    w.bytes = request_id;
    Called c = co_await call(std::move(w), query_wait());
    if (c.pushed != Pushed::queued) co_return not_queued(c.pushed);
    if (!c.reply) co_return unavailable("the engine did not answer within the wait");
    if (c.reply->kind == EngineReply::Kind::failed)
      co_return unavailable(c.reply->json.empty() ? "the log could not be read" : std::move(c.reply->json));
    const bool visible = c.reply->kind == EngineReply::Kind::answer &&
                         (who.kind != CertKind::user || record_actor(c.reply->answer) == who.name);
    if (!visible) co_return refusal_response(404, reason::kHttpNotFound, "no decision for request id " + request_id);
    co_return json_response(200, thread_codec().decision_to_json(*c.reply->answer.decision()));
  }

  net::awaitable<HttpResponse> query(const Match& m, const Identity& who) {
    const int64_t now = clock_();
    if (m.id == RouteId::person && who.kind == CertKind::user && m.params[0] != who.name)
      co_return refusal_response(403, reason::kForbidden, "a user certificate reads only its own person");
    fb::Service service = fb::Service::ekase;
    if (m.id == RouteId::document && !document_service(m.params[1], &service))
      co_return refusal_response(404, reason::kHttpNotFound,
                                 "no service '" + m.params[1] + "' with documents: eplans, eestimates, ereports or eloans");
    Work w;
    w.kind = Work::Kind::query;
    // User certificates see orders on accounts they hold rights on and their
    // own applications; anything else reads as absent (R41).
    const std::string viewer = who.kind == CertKind::user ? who.name : std::string();
    w.query = [id = m.id, params = m.params, viewer, now, service](std::span<const Ledger* const> ledgers) {
      EngineReply r;
      r.kind = EngineReply::Kind::json;
      // On Kafka each partition holds its own clients: a thing that names a
      // client, an order or a document is answered by the client's partition
      // (others may hold a copy: a report another client accepted, an
      // application another client's rights stand on); lists are merged; a
      // person is shown from the partition that knows the person.
      std::vector<std::string> lists;
      bool known = false;  // person: r.json is from a partition that knows the person
      for (const Ledger* l : ledgers) {
        const engine::State& s = l->state();
        if (!owns(*l, id, params)) continue;
        std::string one = state_query(s, id, params, viewer, now, service);
        if (id == RouteId::late_applications || id == RouteId::blocks || id == RouteId::overdue_messages) {
          lists.push_back(std::move(one));
        } else if (id == RouteId::person) {
          // Preferably the person's identity partition, where blocks and means are decided.
          const engine::NameId p = s.names.find(params[0]);
          const bool knows = p != engine::kNoName && s.persons.find(p) != nullptr;
          const engine::Topology& t = l->topology();
          const bool home = t.partitions <= 1 || engine::identity_partition(params[0], t.partitions) == t.partition;
          if (knows && home) {
            r.json = std::move(one);
            break;
          }
          if (r.json.empty() || (knows && !known)) {
            r.json = std::move(one);
            known = knows;
          }
        } else if (!one.empty()) {
          r.json = std::move(one);
          break;
        }
      }
      if (!lists.empty()) r.json = lists.size() == 1 ? std::move(lists[0]) : merge_json_arrays(lists);
      if (r.json.empty()) r.status = 404;
      return r;
    };
    Called c = co_await call(std::move(w), query_wait());
    if (c.pushed != Pushed::queued) co_return not_queued(c.pushed);
    if (!c.reply) co_return unavailable("the engine did not answer within the wait");
    if (c.reply->status == 404) co_return refusal_response(404, reason::kHttpNotFound, "not found");
    co_return json_response(200, std::move(c.reply->json));
  }

  /// One query route on one state; "" when absent (or hidden from `viewer`).
  static std::string state_query(const engine::State& s, RouteId id, const std::vector<std::string>& params,
                                 const std::string& viewer, int64_t now, fb::Service service) {
    std::string json;
    switch (id) {
      case RouteId::person:
        json = person_json(s, params[0], now);
        break;
      case RouteId::order:
        json = order_json(s, params[0], params[1]);
        if (!json.empty() && !viewer.empty() && !holds_rights(s, viewer, params[0], params[1])) json.clear();
        break;
      case RouteId::application:
        json = application_json(s, params[0]);
        if (!json.empty() && !viewer.empty()) {
          const engine::NameId app = s.names.find(params[0]);
          if (s.applications.find(app)->second.user != s.names.find(viewer)) json.clear();
        }
        break;
      case RouteId::late_applications:
        json = jsonl_to_array(late_applications_jsonl(s, now));
        break;
      case RouteId::blocks:
        json = blocks_json(s);
        break;
      case RouteId::overdue_messages:
        json = jsonl_to_array(overdue_messages_jsonl(s, now));
        break;
      case RouteId::document:
        // A user certificate reads the documents of a client it holds rights on in that service.
        if (viewer.empty() || holds_document_rights(s, viewer, params[0], service)) {
          const engine::NameId c = s.names.find(params[0]);
          const engine::NameId d = s.names.find(params[2]);
          if (c != engine::kNoName && d != engine::kNoName &&
              s.documents.find(engine::DocumentKey{c, d, static_cast<uint8_t>(service)}) != nullptr)
            json = document_json(s, params[0], service, params[2]);
        }
        break;
      default:
        break;
    }
    return json;
  }

  /// Whether `l`'s partition is the home of what a query names (on Kafka the
  /// client's partition; with one partition, always).
  static bool owns(const Ledger& l, RouteId id, const std::vector<std::string>& params) {
    const engine::Topology& t = l.topology();
    if (t.partitions <= 1) return true;
    std::string_view client;
    if (id == RouteId::document || id == RouteId::order) {
      client = params[0];
    } else if (id == RouteId::application) {
      const engine::State& s = l.state();
      const auto* a = s.applications.find(s.names.find(params[0]));
      if (a == nullptr) return false;
      client = s.names.name(a->second.client);
    } else {
      return true;
    }
    return engine::client_partition(client, t.partitions) == t.partition;
  }

  /// Whether `user` holds a live eKase mode on the account of the order.
  static bool holds_rights(const engine::State& s, const std::string& user, const std::string& client,
                           const std::string& order) {
    const auto* o = s.orders.find(client, order);
    const engine::NameId u = s.names.find(user);
    if (o == nullptr || u == engine::kNoName) return false;
    const auto* g = s.grants.find(engine::pair_key(u, o->second.account));
    return g != nullptr && g->second.mode != fb::AccessMode::none && g->second.client == o->second.client;
  }

  const ServerOptions options_;
  const Limits limits_;
  const std::function<int64_t()> clock_;
  ssl::context ssl_ctx_;  // outlives the streams that the io_context destroys
  net::io_context ioc_;
  tcp::acceptor acceptor_;
  std::unique_ptr<Backend> engine_;
  std::vector<std::thread> threads_;
  uint16_t port_ = 0;
  std::atomic<bool> stopping_{false};
  std::atomic<bool> stopped_{false};
  std::atomic<size_t> open_connections_{0};
  std::atomic<size_t> busy_{0};
  std::atomic<uint64_t> connections_total_{0};
  std::atomic<uint64_t> connections_refused_{0};
  std::atomic<uint64_t> handshakes_failed_{0};
  std::atomic<uint64_t> crl_reloads_{0};
  std::atomic<uint64_t> crl_reload_failures_{0};
  // --client-crl: the store in force (under crl_mu_: connections read it on
  // any thread); the file version and check time belong to the accept loop.
  std::mutex crl_mu_;
  StorePtr crl_store_;
  FileVersion crl_seen_;
  std::chrono::steady_clock::time_point crl_checked_;
  std::atomic<uint64_t> requests_{0};
  std::atomic<uint64_t> timeouts_{0};
};

Server::Server(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Server::~Server() {
  if (impl_) impl_->stop();
}

Status Server::start(projections::Store* store, const ServerOptions& options, std::unique_ptr<Server>* out) {
  std::unique_ptr<Ledger> ledger;
  if (Status s = Ledger::open(store, &ledger); !s.ok()) return s;
  auto impl = std::make_unique<Impl>(
      options, std::make_unique<EngineLoop>(std::move(ledger), options.limits.queue_requests_max));
  if (Status s = impl->open(); !s.ok()) {
    impl->stop();
    return s;
  }
  out->reset(new Server(std::move(impl)));
  return {};
}

Status Server::start_kafka(const std::string& brokers, kafka::PartitionTap* queries, const ServerOptions& options,
                           std::unique_ptr<Server>* out) {
  if (options.decisions_index_dir.empty())
    return {Errc::invalid_argument, "the HTTP API over Kafka needs a directory for its decisions index"};
  std::unique_ptr<DecisionIndex> index;
  if (Status s = DecisionIndex::open(options.decisions_index_dir, &index); !s.ok()) return s;
  std::fprintf(stderr, "kase run: decisions index %s: %llu decisions, read on from %zu partition offsets\n",
               options.decisions_index_dir.c_str(), static_cast<unsigned long long>(index->size()),
               index->next_offsets().size());
  std::unique_ptr<kafka::RequestProducer> producer;
  if (Status s = kafka::RequestProducer::open(brokers, &producer); !s.ok()) return s;
  auto impl = std::make_unique<Impl>(
      options, std::make_unique<KafkaBackend>(brokers, std::move(producer), queries, options.limits.queue_requests_max,
                                              std::move(index)));
  if (Status s = impl->open(); !s.ok()) {
    impl->stop();
    return s;
  }
  out->reset(new Server(std::move(impl)));
  return {};
}

uint16_t Server::port() const { return impl_->port(); }
bool Server::failed() const { return impl_->failed(); }
Status Server::metrics(std::chrono::milliseconds wait, std::string* out) { return impl_->metrics(wait, out); }

ServerStats Server::stats() const { return impl_->stats(); }
void Server::stop() { impl_->stop(); }

}  // namespace kase::adapters::http
