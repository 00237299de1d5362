#include "kase/adapters/http_intake.h"

#include <array>
#include <memory>

#include "kase/engine/reasons.h"

namespace kase::adapters::http {
namespace reason = engine::reason;

CertKind kind_of(std::span<const std::string> organisational_units) {
  CertKind kind = CertKind::user;
  for (const std::string& ou : organisational_units) {
    if (ou == kTreasuryOu) return CertKind::treasury;
    if (ou == kChannelOu) kind = CertKind::channel;
  }
  return kind;
}

namespace {

constexpr std::array<Route, 11> kRoutes{{
    {"POST", "/v1/requests", RouteId::submit},
    {"GET", "/v1/decisions/{request_id}", RouteId::decision},
    {"GET", "/v1/persons/{person_id}", RouteId::person},
    {"GET", "/v1/clients/{client_id}/orders/{order_id}", RouteId::order},
    {"GET", "/v1/applications/{application_id}", RouteId::application},
    {"GET", "/v1/late-applications", RouteId::late_applications},
    {"GET", "/v1/blocks", RouteId::blocks},
    {"GET", "/v1/overdue-messages", RouteId::overdue_messages},
    {"GET", "/v1/clients/{client_id}/documents/{service}/{document_id}", RouteId::document},
    {"GET", "/healthz", RouteId::healthz},
    {"GET", "/readyz", RouteId::readyz},
}};

/// Matches a path against a template; fills decoded parameters.
bool path_matches(std::string_view tmpl, std::string_view path, std::vector<std::string>* params) {
  params->clear();
  size_t t = 0, p = 0;
  while (t < tmpl.size() && p < path.size()) {
    if (tmpl[t] == '{') {
      const size_t close = tmpl.find('}', t);
      size_t end = path.find('/', p);
      if (end == std::string_view::npos) end = path.size();
      if (end == p) return false;  // an empty segment
      std::string decoded;
      if (!percent_decode(path.substr(p, end - p), &decoded) || decoded.empty()) return false;
      params->push_back(std::move(decoded));
      t = close + 1;
      p = end;
    } else {
      if (tmpl[t] != path[p]) return false;
      ++t;
      ++p;
    }
  }
  return t == tmpl.size() && p == path.size();
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

/// Length of the valid UTF-8 sequence at s[i], or 0.
size_t utf8_length(std::string_view s, size_t i) {
  const auto c = static_cast<unsigned char>(s[i]);
  size_t n = 0;
  uint32_t cp = 0;
  if (c < 0x80) return 1;
  if ((c & 0xE0) == 0xC0) {
    n = 2;
    cp = c & 0x1Fu;
  } else if ((c & 0xF0) == 0xE0) {
    n = 3;
    cp = c & 0x0Fu;
  } else if ((c & 0xF8) == 0xF0) {
    n = 4;
    cp = c & 0x07u;
  } else {
    return 0;
  }
  if (i + n > s.size()) return 0;
  for (size_t k = 1; k < n; ++k) {
    const auto cc = static_cast<unsigned char>(s[i + k]);
    if ((cc & 0xC0) != 0x80) return 0;
    cp = cp << 6 | (cc & 0x3Fu);
  }
  // Overlong forms, surrogates and code points beyond U+10FFFF are invalid.
  if ((n == 2 && cp < 0x80) || (n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) || cp > 0x10FFFF ||
      (cp >= 0xD800 && cp <= 0xDFFF))
    return 0;
  return n;
}

}  // namespace

std::span<const Route> routes() { return kRoutes; }

Match match(std::string_view method, std::string_view target) {
  Match m;
  const size_t q = target.find_first_of("?#");
  const std::string_view path = target.substr(0, q);
  std::vector<std::string> params;
  for (const Route& r : kRoutes) {
    if (!path_matches(r.path, path, &params)) continue;
    if (r.method == method) {
      m.status = 200;
      m.id = r.id;
      m.params = std::move(params);
      m.allow.clear();
      return m;
    }
    m.status = 405;
    if (!m.allow.empty()) m.allow += ", ";
    m.allow += r.method;
  }
  return m;
}

std::string percent_encode(std::string_view s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(s.size());
  for (char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.' ||
        c == '_' || c == '~') {
      out += ch;
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 0xF];
    }
  }
  return out;
}

bool percent_decode(std::string_view s, std::string* out) {
  out->clear();
  out->reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (c == '%') {
      if (i + 2 >= s.size()) return false;
      const int hi = hex_value(s[i + 1]);
      const int lo = hex_value(s[i + 2]);
      if (hi < 0 || lo < 0) return false;
      c = static_cast<char>(hi << 4 | lo);
      i += 2;
    }
    if (c == '\0') return false;
    out->push_back(c);
  }
  return true;
}

std::string json_string(std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(s.size() + 2);
  out += '"';
  for (size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
      ++i;
    } else if (c < 0x20) {
      out += "\\u00";
      out += kHex[c >> 4];
      out += kHex[c & 0xF];
      ++i;
    } else if (c < 0x80) {
      out += static_cast<char>(c);
      ++i;
    } else if (const size_t n = utf8_length(s, i); n > 0) {
      out.append(s.substr(i, n));
      i += n;
    } else {
      out += "\xEF\xBF\xBD";  // U+FFFD
      ++i;
    }
  }
  out += '"';
  return out;
}

std::string refusal_json(const Refusal& r) {
  return "{\"code\": " + json_string(r.code) + ", \"message\": " + json_string(r.message) + "}";
}

bool intake(events::JsonCodec& codec, const Identity& who, std::string_view body, int64_t now_us,
            std::string* out, Refusal* refusal) {
  auto refuse = [&](unsigned status, const char* code, std::string message) {
    *refusal = {status, code, std::move(message)};
    return false;
  };
  if (who.kind == CertKind::user && who.name.empty())
    return refuse(403, reason::kForbidden, "the client certificate has no subject CN");
  std::span<const uint8_t> bin;
  std::string error;
  // stamp 0: the parser leaves intake_us as sent, so that a sent one shows.
  // R42: a body without schema_version is written in the current version; one
  // naming an older version is refused (request.schema_version_retired).
  // An identity fact is kase's own (auth.engine_only).
  if (const events::JsonStatus st = codec.request_from_json(body, 0, &bin, &error); st != events::JsonStatus::ok)
    return refuse(st == events::JsonStatus::engine_only ? 403 : 400,
                  st == events::JsonStatus::engine_only              ? reason::kEngineOnly
                  : st == events::JsonStatus::schema_version_retired ? reason::kSchemaVersionRetired
                                                                     : reason::kMalformedJson,
                  error);
  const auto* req = flatbuffers::GetRoot<fb::Request>(bin.data());  // verified by the codec
  if (req->intake_us() != 0)
    return refuse(400, reason::kIntakeTimeSetByServer,
                  "intake_us is set by the server at intake; leave it out");
  std::unique_ptr<fb::RequestT> obj(req->UnPack());
  obj->intake_us = now_us;
  switch (who.kind) {
    case CertKind::user:
      // R41, R22.1.3: the certificate is the user; the body cannot name another.
      if (obj->actor.empty()) {
        obj->actor = who.name;
      } else if (obj->actor != who.name) {
        return refuse(403, reason::kActorNotCertificate,
                      "actor " + obj->actor + " is not the certificate's user " + who.name);
      }
      // The default channel (portal) reads as absent.
      if (obj->channel != fb::Channel::online && obj->channel != fb::Channel::portal)
        return refuse(403, reason::kChannelNotForCertificate,
                      std::string("a user certificate sends on the online channel, not ") +
                          fb::EnumNameChannel(obj->channel));
      obj->channel = fb::Channel::online;
      if (obj->means != fb::Means::unknown && obj->means != fb::Means::x509_certificate)
        return refuse(403, reason::kMeansNotCertificate,
                      "a user certificate authenticates with x509_certificate (R22.1.3)");
      obj->means = fb::Means::x509_certificate;
      break;
    case CertKind::channel:
      if (obj->channel == fb::Channel::treasury)
        return refuse(403, reason::kChannelNotForCertificate,
                      "only a Treasury certificate sends on the treasury channel");
      break;
    case CertKind::treasury:
      break;
  }
  flatbuffers::FlatBufferBuilder b(bin.size() + 64);
  b.Finish(fb::Request::Pack(b, obj.get()));
  out->assign(reinterpret_cast<const char*>(b.GetBufferPointer()), b.GetSize());
  return true;
}

bool may_query(const Identity& who, RouteId id) {
  if (who.kind != CertKind::user) return true;
  switch (id) {
    case RouteId::late_applications:
    case RouteId::blocks:
    case RouteId::overdue_messages:
      return false;  // about many people: channels and the Treasury only
    default:
      return true;
  }
}

}  // namespace kase::adapters::http
