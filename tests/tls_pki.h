// A test PKI and a blocking HTTPS client, shared by the HTTP tests and the
// HTTPS benchmark: a CA and certificates (server, users, channel, Treasury,
// expired, foreign CA) generated with OpenSSL's C API into a directory; a
// Beast client over TLS with keep-alive. Errors throw std::runtime_error.
#pragma once

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <array>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <initializer_list>
#include <memory>
#include <stdexcept>
#include <string>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

#include "kase/adapters/http_intake.h"

namespace kase::testing {

namespace pki_detail {
namespace net = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
namespace ssl = net::ssl;
using tcp = net::ip::tcp;
namespace http = adapters::http;

// ---- A test PKI ---------------------------------------------------------------------

struct KeyDeleter {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
struct CertDeleter {
  void operator()(X509* c) const { X509_free(c); }
};
using Key = std::unique_ptr<EVP_PKEY, KeyDeleter>;
using Cert = std::unique_ptr<X509, CertDeleter>;

struct CertSpec {
  std::string cn;
  std::string ou;
  long not_before_s = -3600;     // relative to now
  long not_after_s = 24 * 3600;
  bool ca = false;
  bool server = false;
};

class Pki {
 public:
  explicit Pki(std::filesystem::path dir) : dir_(std::move(dir)) {
    std::filesystem::create_directories(dir_);
    ca_key_ = Key(EVP_EC_gen("P-256"));
    ca_ = make({"kase test CA", "", -3600, 24 * 3600, true, false}, ca_key_.get(), nullptr, nullptr);
    write_cert(ca_.get(), "ca.pem");
    other_key_ = Key(EVP_EC_gen("P-256"));
    other_ca_ = make({"someone else's CA", "", -3600, 24 * 3600, true, false}, other_key_.get(), nullptr, nullptr);
    issue("server", {"127.0.0.1", "", -3600, 24 * 3600, false, true});
    issue("u1", {"u1", "", -3600, 24 * 3600, false, false});
    issue("u2", {"u2", "", -3600, 24 * 3600, false, false});
    issue("portal", {"portal", std::string(http::kChannelOu), -3600, 24 * 3600, false, false});
    issue("treasury", {"op", std::string(http::kTreasuryOu), -3600, 24 * 3600, false, false});
    issue("expired", {"u1", "", -48 * 3600, -24 * 3600, false, false});
    issue("foreign", {"u1", "", -3600, 24 * 3600, false, false}, /*foreign=*/true);
    issue("revoked", {"u2", "", -3600, 24 * 3600, false, false});
    write_crl({serial_}, "crl.pem");  // revokes "revoked", the last issued
    write_crl({}, "crl-empty.pem");
  }

  [[nodiscard]] std::string path(const std::string& file) const { return (dir_ / file).string(); }
  [[nodiscard]] std::string cert(const std::string& name) const { return path(name + ".pem"); }
  [[nodiscard]] std::string key(const std::string& name) const { return path(name + ".key"); }
  [[nodiscard]] std::string ca() const { return path("ca.pem"); }
  /// The CA's revocation list: certificate "revoked" is on it.
  [[nodiscard]] std::string crl() const { return path("crl.pem"); }
  /// A current revocation list of the CA that revokes nothing.
  [[nodiscard]] std::string empty_crl() const { return path("crl-empty.pem"); }

 private:
  void issue(const std::string& name, const CertSpec& spec, bool foreign = false) {
    Key key(EVP_EC_gen("P-256"));
    Cert c = foreign ? make(spec, key.get(), other_ca_.get(), other_key_.get())
                     : make(spec, key.get(), ca_.get(), ca_key_.get());
    write_cert(c.get(), name + ".pem");
    FILE* f = std::fopen(path(name + ".key").c_str(), "w");
    if (f == nullptr) throw std::runtime_error("cannot write " + path(name + ".key"));
    PEM_write_PrivateKey(f, key.get(), nullptr, nullptr, 0, nullptr, nullptr);
    std::fclose(f);
  }

  void write_cert(X509* c, const std::string& file) {
    FILE* f = std::fopen(path(file).c_str(), "w");
    if (f == nullptr) throw std::runtime_error("cannot write " + path(file));
    PEM_write_X509(f, c);
    std::fclose(f);
  }

  void write_crl(std::initializer_list<long> serials, const std::string& file) {
    X509_CRL* crl = X509_CRL_new();
    X509_CRL_set_version(crl, 1);
    X509_CRL_set_issuer_name(crl, X509_get_subject_name(ca_.get()));
    ASN1_TIME* last = X509_gmtime_adj(nullptr, -3600);
    ASN1_TIME* next = X509_gmtime_adj(nullptr, 24 * 3600);
    X509_CRL_set1_lastUpdate(crl, last);
    X509_CRL_set1_nextUpdate(crl, next);
    for (const long serial : serials) {
      X509_REVOKED* r = X509_REVOKED_new();
      ASN1_INTEGER* n = ASN1_INTEGER_new();
      ASN1_INTEGER_set(n, serial);
      X509_REVOKED_set_serialNumber(r, n);
      X509_REVOKED_set_revocationDate(r, last);
      ASN1_INTEGER_free(n);
      X509_CRL_add0_revoked(crl, r);
    }
    X509_CRL_sort(crl);
    X509_CRL_sign(crl, ca_key_.get(), EVP_sha256());
    ASN1_TIME_free(last);
    ASN1_TIME_free(next);
    FILE* f = std::fopen(path(file).c_str(), "w");
    if (f == nullptr) {
      X509_CRL_free(crl);
      throw std::runtime_error("cannot write " + path(file));
    }
    PEM_write_X509_CRL(f, crl);
    std::fclose(f);
    X509_CRL_free(crl);
  }

  Cert make(const CertSpec& s, EVP_PKEY* key, X509* issuer, EVP_PKEY* issuer_key) {
    Cert x(X509_new());
    X509_set_version(x.get(), 2);
    ASN1_INTEGER_set(X509_get_serialNumber(x.get()), ++serial_);
    X509_gmtime_adj(X509_getm_notBefore(x.get()), s.not_before_s);
    X509_gmtime_adj(X509_getm_notAfter(x.get()), s.not_after_s);
    X509_set_pubkey(x.get(), key);
    X509_NAME* name = X509_get_subject_name(x.get());
    auto add = [&](const char* field, const std::string& value) {
      X509_NAME_add_entry_by_txt(name, field, MBSTRING_UTF8, reinterpret_cast<const unsigned char*>(value.c_str()),
                                 -1, -1, 0);
    };
    add("O", "State Treasury (test)");
    if (!s.ou.empty()) add("OU", s.ou);
    add("CN", s.cn);
    X509_set_issuer_name(x.get(), issuer != nullptr ? X509_get_subject_name(issuer) : name);
    X509V3_CTX ctx;
    X509V3_set_ctx(&ctx, issuer != nullptr ? issuer : x.get(), x.get(), nullptr, nullptr, 0);
    auto ext = [&](int nid, const char* value) {
      X509_EXTENSION* e = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value);
      if (e == nullptr) throw std::runtime_error(std::string("bad certificate extension ") + value);
      X509_add_ext(x.get(), e, -1);
      X509_EXTENSION_free(e);
    };
    ext(NID_basic_constraints, s.ca ? "critical,CA:TRUE" : "critical,CA:FALSE");
    ext(NID_key_usage, s.ca ? "critical,keyCertSign,cRLSign" : "critical,digitalSignature");
    if (!s.ca) ext(NID_ext_key_usage, s.server ? "serverAuth" : "clientAuth");
    if (s.server) ext(NID_subject_alt_name, "IP:127.0.0.1");
    X509_sign(x.get(), issuer_key != nullptr ? issuer_key : key, EVP_sha256());
    return x;
  }

  std::filesystem::path dir_;
  Key ca_key_, other_key_;
  Cert ca_, other_ca_;
  long serial_ = 0;
};

// ---- A blocking client ----------------------------------------------------------------

struct Reply {
  unsigned status = 0;
  std::string body;
  std::string location;
  bool keep_alive = false;
};

class Client {
 public:
  /// `who`: a certificate name of the Pki, or "" for none.
  Client(const Pki& pki, uint16_t port, const std::string& who) : port_(port) {
    ctx_.set_verify_mode(ssl::verify_peer);
    ctx_.load_verify_file(pki.ca());
    if (!who.empty()) {
      ctx_.use_certificate_file(pki.cert(who), ssl::context::pem);
      ctx_.use_private_key_file(pki.key(who), ssl::context::pem);
    }
  }

  /// TCP connect and TLS handshake; the error, if any.
  beast::error_code connect() {
    stream_ = std::make_unique<beast::ssl_stream<beast::tcp_stream>>(ioc_, ctx_);
    stream_->set_verify_callback(ssl::host_name_verification("127.0.0.1"));
    auto& lowest = beast::get_lowest_layer(*stream_);
    lowest.expires_after(std::chrono::seconds(20));
    beast::error_code ec;
    lowest.socket().connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), port_), ec);
    if (ec) return ec;
    stream_->handshake(ssl::stream_base::client, ec);
    return ec;
  }

  /// One request on the open connection; status 0 when the exchange failed.
  Reply send(bhttp::verb method, const std::string& target, const std::string& body = {},
             const std::string& content_type = "application/json", size_t pad_header = 0) {
    bhttp::request<bhttp::string_body> req{method, target, 11};
    req.set(bhttp::field::host, "127.0.0.1");
    if (!body.empty() || method == bhttp::verb::post) {
      req.set(bhttp::field::content_type, content_type);
      req.body() = body;
    }
    if (pad_header > 0) req.set("X-Pad", std::string(pad_header, 'p'));
    req.keep_alive(true);
    req.prepare_payload();
    beast::error_code ec;
    bhttp::write(*stream_, req, ec);
    if (ec) return {};
    return read();
  }

  /// Raw bytes, then one response.
  Reply raw(const std::string& bytes) {
    beast::error_code ec;
    net::write(*stream_, net::buffer(bytes), ec);
    if (ec) return {};
    return read();
  }

  Reply read() {
    beast::error_code ec;
    bhttp::response<bhttp::string_body> res;
    bhttp::read(*stream_, buffer_, res, ec);
    if (ec) return {};
    Reply r;
    r.status = res.result_int();
    r.body = res.body();
    r.location = std::string(res[bhttp::field::location]);
    r.keep_alive = res.keep_alive();
    return r;
  }

  /// Reads until the server closes; the error that ended it.
  beast::error_code read_until_closed() {
    beast::error_code ec;
    std::array<char, 1024> buf{};
    while (!ec) stream_->read_some(net::buffer(buf), ec);
    return ec;
  }

  beast::ssl_stream<beast::tcp_stream>& stream() { return *stream_; }

 private:
  uint16_t port_;
  net::io_context ioc_;
  ssl::context ctx_{ssl::context::tls_client};
  std::unique_ptr<beast::ssl_stream<beast::tcp_stream>> stream_;
  beast::flat_buffer buffer_;
};

}  // namespace pki_detail

using pki_detail::Client;
using pki_detail::Pki;
using pki_detail::Reply;

}  // namespace kase::testing
