// libFuzzer target for the HTTP request path before the engine: Beast's
// request parser with the server's header and body limits, the route table
// and percent-decoding, then the intake of a POSTed body (JSON parse,
// certificate rules, time stamp) for each kind of certificate. None of it may
// crash on any bytes; whatever intake accepts must verify as a request.
#include <cstddef>
#include <cstdint>
#include <string>

#include <boost/asio/buffer.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>

#include "kase/adapters/http_intake.h"

namespace http = kase::adapters::http;
namespace bhttp = boost::beast::http;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static kase::events::JsonCodec codec;
  const http::Limits limits;
  bhttp::request_parser<bhttp::string_body> parser;
  http::limit_parser(parser, limits);
  parser.eager(true);
  boost::beast::error_code ec;
  size_t used = 0;
  while (!ec && used < size && !parser.is_done()) {
    const size_t n = parser.put(boost::asio::buffer(data + used, size - used), ec);
    if (n == 0) break;
    used += n;
  }
  if (ec == bhttp::error::need_more) ec = {};
  if (!ec && !parser.is_done()) parser.put_eof(ec);
  if (ec || !parser.is_done()) return 0;

  const auto& req = parser.get();
  const http::Match m = http::match(std::string_view(req.method_string().data(), req.method_string().size()),
                                    std::string_view(req.target().data(), req.target().size()));
  for (const std::string& p : m.params) (void)http::percent_encode(p);
  if (m.status != 200 || m.id != http::RouteId::submit) return 0;
  for (const http::Identity& who : {http::Identity{http::CertKind::user, "u1"},
                                    http::Identity{http::CertKind::channel, "portal"},
                                    http::Identity{http::CertKind::treasury, "op"}}) {
    std::string bin;
    http::Refusal refusal;
    if (http::intake(codec, who, req.body(), 1796025600000000, &bin, &refusal)) {
      const kase::fb::Request* r = kase::events::verify_request(
          {reinterpret_cast<const uint8_t*>(bin.data()), bin.size()});
      if (r == nullptr) __builtin_trap();  // intake must hand on only verified requests
      if (who.kind == http::CertKind::user && r->actor()->string_view() != who.name) __builtin_trap();
    } else {
      (void)http::refusal_json(refusal);
    }
  }
  return 0;
}

#if defined(KASE_FUZZ_STANDALONE)
#include "standalone_main.h"
#endif
