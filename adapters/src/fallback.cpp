#include "kase/adapters/fallback.h"

#include <openssl/sha.h>

#include <boost/json.hpp>
#include <pugixml.hpp>

#include "kase/events/codec.h"

namespace kase::adapters::fallback {
namespace {

namespace json = boost::json;

constexpr int64_t kAmountMaxCents = 1'000'000'000'000'00;  // 1e12 EUR: beyond any payment

/// The local name of an element (without a namespace prefix).
std::string_view local(const pugi::xml_node& n) {
  std::string_view name = n.name();
  const size_t colon = name.find(':');
  return colon == std::string_view::npos ? name : name.substr(colon + 1);
}

pugi::xml_node child(const pugi::xml_node& n, std::string_view name) {
  for (pugi::xml_node c = n.first_child(); c; c = c.next_sibling())
    if (c.type() == pugi::node_element && local(c) == name) return c;
  return {};
}

/// The text at a path of local names, "" when absent.
std::string text(pugi::xml_node n, std::initializer_list<std::string_view> path) {
  for (std::string_view p : path) {
    n = child(n, p);
    if (!n) return {};
  }
  std::string t = n.child_value();
  const size_t b = t.find_first_not_of(" \t\r\n");
  const size_t e = t.find_last_not_of(" \t\r\n");
  return b == std::string::npos ? std::string() : t.substr(b, e - b + 1);
}

Status bad(const std::string& m) { return {Errc::invalid_argument, m}; }

std::string money(int64_t cents) {
  std::string s = std::to_string(cents / 100) + "." + (cents % 100 < 10 ? "0" : "") + std::to_string(cents % 100);
  return s;
}

}  // namespace

bool parse_amount(std::string_view s, int64_t* cents) {
  if (s.empty() || s.size() > 18) return false;
  const size_t dot = s.find('.');
  const std::string_view whole = s.substr(0, dot);
  const std::string_view frac = dot == std::string_view::npos ? std::string_view{} : s.substr(dot + 1);
  if (whole.empty() || frac.size() > 2 || (dot != std::string_view::npos && frac.empty())) return false;
  int64_t v = 0;
  for (char c : whole) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + (c - '0');
  }
  int64_t f = 0;
  for (char c : frac) {
    if (c < '0' || c > '9') return false;
    f = f * 10 + (c - '0');
  }
  if (frac.size() == 1) f *= 10;
  *cents = v * 100 + f;
  return *cents <= kAmountMaxCents;
}

std::string digest_hex(std::string_view bytes) {
  events::Hash h{};
  SHA256(reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size(), h.data());
  return events::to_hex(h);
}

Status parse_pain001(std::string_view xml, PaymentFile* out) {
  pugi::xml_document doc;
  const pugi::xml_parse_result res = doc.load_buffer(xml.data(), xml.size(), pugi::parse_default, pugi::encoding_utf8);
  if (!res) return bad(std::string("malformed XML: ") + res.description() + " at byte " + std::to_string(res.offset));
  const pugi::xml_node root = doc.document_element();
  if (local(root) != "Document") return bad("not an ISO 20022 document: the root element is <" + std::string(root.name()) + ">");
  std::string ns;
  for (const auto& a : root.attributes()) {
    const std::string_view n = a.name();
    if (n == "xmlns" || n.rfind("xmlns:", 0) == 0) ns += std::string(a.value()) + " ";
  }
  if (ns.find("pain.001.001.03") == std::string::npos)
    return bad("not a pain.001.001.03 payment file (namespace: " + (ns.empty() ? std::string("none") : ns) + ")");
  const pugi::xml_node init = child(root, "CstmrCdtTrfInitn");
  if (!init) return bad("no <CstmrCdtTrfInitn> in the document");
  const pugi::xml_node hdr = child(init, "GrpHdr");
  if (!hdr) return bad("no <GrpHdr> group header");
  out->message_id = text(hdr, {"MsgId"});
  const std::string nb = text(hdr, {"NbOfTxs"});
  const std::string ctrl = text(hdr, {"CtrlSum"});
  if (out->message_id.empty()) return bad("the group header has no <MsgId>");

  bool first = true;
  for (pugi::xml_node pmt = init.first_child(); pmt; pmt = pmt.next_sibling()) {
    if (pmt.type() != pugi::node_element || local(pmt) != "PmtInf") continue;
    const std::string name = text(pmt, {"Dbtr", "Nm"});
    const std::string tax = text(pmt, {"Dbtr", "Id", "OrgId", "Othr", "Id"});
    const std::string iban = text(pmt, {"DbtrAcct", "Id", "IBAN"});
    if (iban.empty()) return bad("a <PmtInf> block has no debited account (<DbtrAcct><Id><IBAN>)");
    if (first) {
      out->debtor_name = name;
      out->debtor_tax_number = tax;
      out->debtor_iban = iban;
      first = false;
    } else if (iban != out->debtor_iban) {
      return bad("the file debits more than one account (" + out->debtor_iban + " and " + iban + ")");
    }
    for (pugi::xml_node tx = pmt.first_child(); tx; tx = tx.next_sibling()) {
      if (tx.type() != pugi::node_element || local(tx) != "CdtTrfTxInf") continue;
      Payment p;
      p.end_to_end_id = text(tx, {"PmtId", "EndToEndId"});
      const pugi::xml_node amt = child(child(tx, "Amt"), "InstdAmt");
      const size_t n = out->payments.size() + 1;
      if (!amt) return bad("payment " + std::to_string(n) + " has no <Amt><InstdAmt>");
      if (std::string_view(amt.attribute("Ccy").value()) != "EUR")
        return bad("payment " + std::to_string(n) + " is not in EUR (Ccy=\"" + amt.attribute("Ccy").value() + "\")");
      if (!parse_amount(text(tx, {"Amt", "InstdAmt"}), &p.amount_cents))
        return bad("payment " + std::to_string(n) + ": the amount '" + text(tx, {"Amt", "InstdAmt"}) +
                   "' is not a positive amount with at most two decimals");
      p.creditor_iban = text(tx, {"CdtrAcct", "Id", "IBAN"});
      p.creditor_name = text(tx, {"Cdtr", "Nm"});
      p.remittance = text(tx, {"RmtInf", "Ustrd"});
      if (p.end_to_end_id.empty()) return bad("payment " + std::to_string(n) + " has no <PmtId><EndToEndId>");
      if (p.creditor_iban.empty()) return bad("payment " + std::to_string(n) + " has no creditor account");
      out->total_cents += p.amount_cents;
      out->payments.push_back(std::move(p));
    }
  }
  if (first) return bad("the file has no <PmtInf> payment block");
  if (out->payments.empty()) return bad("the file has no payments (<CdtTrfTxInf>)");
  if (nb != std::to_string(out->payments.size()))
    return bad("the group header says " + (nb.empty() ? std::string("nothing") : nb) + " payments (NbOfTxs), the file has " +
               std::to_string(out->payments.size()));
  int64_t ctrl_cents = 0;
  if (!ctrl.empty() && (!parse_amount(ctrl, &ctrl_cents) || ctrl_cents != out->total_cents))
    return bad("the group header's control sum " + ctrl + " differs from the payments' total " + money(out->total_cents));
  return {};
}

Status parse_summary(std::string_view text_json, Summary* out) {
  boost::system::error_code ec;
  const json::value v = json::parse(json::string_view(text_json.data(), text_json.size()), ec);
  if (ec) return bad("summary: malformed JSON: " + ec.message());
  if (!v.is_object()) return bad("summary: a JSON object is expected");
  const json::object& o = v.as_object();
  auto str = [&](const char* k, std::string* dst) -> Status {
    const json::value* f = o.if_contains(k);
    if (f == nullptr || !f->is_string() || f->as_string().empty()) return bad(std::string("summary: \"") + k + "\" (text) is required");
    *dst = std::string(f->as_string());
    return {};
  };
  for (const auto& [k, _] : o) {
    static const char* known[] = {"file_name", "institution", "tax_number", "account", "payments", "total", "signatures"};
    bool ok = false;
    for (const char* n : known) ok = ok || k == n;
    if (!ok) return bad("summary: unknown field \"" + std::string(k) + "\"");
  }
  if (Status s = str("file_name", &out->file_name); !s.ok()) return s;
  if (Status s = str("institution", &out->institution); !s.ok()) return s;
  if (Status s = str("tax_number", &out->tax_number); !s.ok()) return s;
  if (Status s = str("account", &out->account); !s.ok()) return s;
  const json::value* n = o.if_contains("payments");
  if (n == nullptr || !n->is_int64() || n->as_int64() <= 0 || n->as_int64() > 1'000'000)
    return bad("summary: \"payments\" (a positive whole number) is required");
  out->payments = static_cast<int32_t>(n->as_int64());
  const json::value* t = o.if_contains("total");
  if (t == nullptr || !t->is_string() || !parse_amount(std::string(t->as_string()), &out->total_cents))
    return bad("summary: \"total\" is required as text with at most two decimals, e.g. \"1200.50\"");
  const json::value* sigs = o.if_contains("signatures");
  if (sigs == nullptr || !sigs->is_array()) return bad("summary: \"signatures\" (an array) is required");
  for (const json::value& sv : sigs->as_array()) {
    if (!sv.is_object()) return bad("summary: each signature is an object {person, role, signed_us}");
    const json::object& so = sv.as_object();
    events::SummarySigner s;
    const json::value* person = so.if_contains("person");
    const json::value* role = so.if_contains("role");
    const json::value* at = so.if_contains("signed_us");
    if (person == nullptr || !person->is_string() || person->as_string().empty())
      return bad("summary: a signature lacks \"person\"");
    s.person = std::string(person->as_string());
    const std::string r = role != nullptr && role->is_string() ? std::string(role->as_string()) : std::string();
    if (r == "head") s.role = fb::SummaryRole::head;
    else if (r == "specimen") s.role = fb::SummaryRole::specimen;
    else if (r == "signature_3") s.role = fb::SummaryRole::signature_3;
    else return bad("summary: signature role must be head, specimen or signature_3, not '" + r + "'");
    if (at == nullptr || !at->is_int64() || at->as_int64() <= 0)
      return bad("summary: a signature lacks \"signed_us\" (UTC microseconds)");
    s.signed_us = at->as_int64();
    out->signatures.push_back(std::move(s));
  }
  return {};
}

std::vector<std::string> differences(const Summary& s, const PaymentFile& f, std::string_view file_name) {
  std::vector<std::string> d;
  if (s.institution != f.debtor_name)
    d.push_back("R49.1: the summary names the institution '" + s.institution + "', the file's debtor is '" +
                f.debtor_name + "'");
  if (s.tax_number != f.debtor_tax_number)
    d.push_back("R49.1: the summary's tax registration number is " + s.tax_number + ", the file's is " +
                (f.debtor_tax_number.empty() ? std::string("missing") : f.debtor_tax_number));
  if (s.account != f.debtor_iban)
    d.push_back("R49.2: the summary debits " + s.account + ", the file debits " + f.debtor_iban);
  if (s.file_name != file_name)
    d.push_back("R49.3: the summary names the file '" + s.file_name + "', the file received is '" +
                std::string(file_name) + "'");
  if (static_cast<size_t>(s.payments) != f.payments.size())
    d.push_back("R49.4: the summary says " + std::to_string(s.payments) + " payments, the file has " +
                std::to_string(f.payments.size()));
  if (s.total_cents != f.total_cents)
    d.push_back("R49.5: the summary's total is " + money(s.total_cents) + ", the file's is " + money(f.total_cents));
  return d;
}

std::vector<std::string> build_requests(const Summary& s, const PaymentFile& f, std::string_view file_name,
                                        std::string_view digest, std::string_view client, std::string_view actor,
                                        int64_t intake_us, bool operator_override) {
  // Request ids: from the file and its summary together, so that a file
  // rejected for its summary can come again with a corrected one, and the
  // same file and summary twice are applied once. Order ids: from the file.
  std::string key(digest);
  key += '|' + s.file_name + '|' + s.institution + '|' + s.tax_number + '|' + s.account + '|' +
         std::to_string(s.payments) + '|' + std::to_string(s.total_cents);
  for (const auto& sig : s.signatures)
    key += '|' + sig.person + ':' + std::to_string(static_cast<int>(sig.role)) + ':' + std::to_string(sig.signed_us);
  const std::string base = "file-" + digest_hex(key).substr(0, 24);
  const std::string order_base = "file-" + std::string(digest.substr(0, 24));
  std::vector<std::string> out;
  events::PaymentFileFacts facts;
  facts.file_digest = std::string(digest);
  facts.file_name = std::string(file_name);
  facts.account = s.account;
  facts.file_account = f.debtor_iban;
  facts.institution = s.institution;
  facts.tax_number = s.tax_number;
  facts.file_institution = f.debtor_name;
  facts.file_tax_number = f.debtor_tax_number;
  facts.summary_file_name = s.file_name;
  facts.payments = s.payments;
  facts.file_payments = static_cast<int32_t>(f.payments.size());
  facts.total_cents = s.total_cents;
  facts.file_total_cents = f.total_cents;
  facts.signatures = s.signatures;
  facts.operator_override = operator_override;
  // Envelopes hold views: `id` must outlive the call that uses it.
  const auto env = [&](const std::string& id) {
    return events::Envelope{id, client, actor, fb::Channel::treasury, intake_us};
  };
  out.push_back(events::payment_file(env(base), facts));
  for (size_t i = 0; i < f.payments.size(); ++i) {
    const Payment& p = f.payments[i];
    const std::string n = std::to_string(i + 1);
    // The order id: the file's and the payment's end-to-end id, unique per client.
    const std::string id = base + "-" + n;
    const std::string order = order_base + "-" + n;
    out.push_back(events::payment_from_file(env(id), digest, order, p.amount_cents,
                                            p.creditor_iban + (p.creditor_name.empty() ? "" : " " + p.creditor_name)));
  }
  return out;
}

}  // namespace kase::adapters::fallback
