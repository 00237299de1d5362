#!/usr/bin/env bash
# The kase CLI end to end: submit (good, malformed, oversize and duplicate
# lines), get, replay --verify, queries (a document's state and history too), and
# usage errors with their exit codes.
set -euo pipefail
kase="$1"
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
fail() { echo "cli_test: $*" >&2; exit 1; }

big=$(head -c 70000 /dev/zero | tr '\0' 'x')
{
  echo '{"request_id":"r1","client_id":"C1","actor":"op","channel":"treasury","intake_us":1796025600000000,"payload_type":"AccountOpened","payload":{"account":"A1","owner_client":"C1","fiscal_year":2026}}'
  echo 'not json at all'
  echo "{\"request_id\":\"$big\"}"
  # R3, R4, R7 (schema version 2): u1's rights stand on a registered eKase application.
  echo '{"request_id":"a1","client_id":"C1","actor":"op","channel":"treasury","intake_us":1796025600000000,"schema_version":2,"payload_type":"RepresentativeRegistered","payload":{"person":"head","head":true}}'
  echo '{"request_id":"a2","client_id":"C1","actor":"op","channel":"treasury","intake_us":1796025600000000,"schema_version":2,"payload_type":"ApplicationSubmitted","payload":{"application":"app-u1","kind":"ekase","user":"u1","signer":"head","signed_us":1796025500000000,"digest":"sha256:annex2"}}'
  echo '{"request_id":"a3","client_id":"C1","actor":"op","channel":"treasury","intake_us":1796025600000000,"schema_version":2,"payload_type":"ApplicationRegistered","payload":{"application":"app-u1"}}'
  echo '{"request_id":"r2","client_id":"C1","actor":"op","channel":"treasury","intake_us":1796025600000000,"schema_version":2,"payload_type":"RightsGranted","payload":{"user":"u1","account":"A1","mode":"signature_2","per_order_limit_cents":100000,"daily_limit_cents":150000,"application":"app-u1"}}'
  echo '{"request_id":"r3","client_id":"C1","actor":"u1","intake_us":1796032800000000,"payload_type":"PaymentOrderPrepare","payload":{"order":"po1","account":"A1","amount_cents":200000}}'
  echo '{"request_id":"r1","client_id":"C1","actor":"op","channel":"treasury","intake_us":1796025600000000,"payload_type":"AccountOpened","payload":{"account":"A1","owner_client":"C1","fiscal_year":2026}}'
} > "$dir/in.jsonl"

"$kase" submit --data "$dir/data" < "$dir/in.jsonl" > "$dir/out.jsonl" || fail "submit exited $?"
[ "$(wc -l < "$dir/out.jsonl")" -eq 9 ] || fail "expected 9 decisions, got $(wc -l < "$dir/out.jsonl")"
sed -n 1p "$dir/out.jsonl" | grep -q '"outcome": "accepted"' || fail "line 1 not accepted"
sed -n 2p "$dir/out.jsonl" | grep -q '"reason": "request.malformed_json"' || fail "line 2 not malformed_json"
sed -n 3p "$dir/out.jsonl" | grep -q 'line longer than' || fail "line 3 not refused as too long"
sed -n 4,7p "$dir/out.jsonl" | grep -c '"outcome": "accepted"' | grep -qx 4 || fail "application and grant not accepted"
sed -n 8p "$dir/out.jsonl" | grep -q '"reason": "limit.per_order_exceeded"' || fail "line 8 not over the limit"
sed -n 8p "$dir/out.jsonl" | grep -q '"limit_cents": 100000' || fail "line 8 lacks the limit"
[ "$(sed -n 9p "$dir/out.jsonl")" = "$(sed -n 1p "$dir/out.jsonl")" ] || fail "duplicate request id did not return the original decision"

"$kase" get --data "$dir/data" r3 | grep -q 'limit.per_order_exceeded' || fail "get r3"
# R42, R7: a new request without schema_version is written in the current version,
# so a grant naming no application is refused (R7); one that names an older version
# is refused at intake (never logged, no hash) and the lines after it go on.
{
  echo '{"request_id":"sv-absent","client_id":"C1","actor":"op","channel":"treasury","intake_us":1796025600000000,"payload_type":"RightsGranted","payload":{"user":"u9","account":"A1","mode":"view_all"}}'
  echo '{"request_id":"sv-old","client_id":"C1","actor":"op","channel":"treasury","intake_us":1796025600000000,"schema_version":1,"payload_type":"RightsGranted","payload":{"user":"u9","account":"A1","mode":"view_all"}}'
  echo '{"request_id":"sv-current","client_id":"C1","actor":"op","channel":"treasury","intake_us":1796025600000000,"schema_version":2,"payload_type":"RightsGranted","payload":{"user":"u9","account":"A1","mode":"view_all"}}'
  # R14: likewise a one-day limit change without schema_version needs its annex 3 application.
  echo '{"request_id":"sv-limit","client_id":"C1","actor":"op","channel":"treasury","intake_us":1796025600000000,"payload_type":"LimitChangeOneDay","payload":{"user":"u1","account":"A1","date":20261231,"daily_limit_cents":300000}}'
} > "$dir/versions.jsonl"
"$kase" submit --data "$dir/data" < "$dir/versions.jsonl" > "$dir/versions.out" || fail "submit versions exited $?"
sed -n 1p "$dir/versions.out" | grep -q '"reason": "grant.application_missing","rule": "R7"' ||
  fail "a grant without schema_version was not decided by version 2: $(sed -n 1p "$dir/versions.out")"
sed -n 2p "$dir/versions.out" | grep -q '"reason": "request.schema_version_retired","rule": "R42"' ||
  fail "schema_version 1 not refused at intake: $(sed -n 2p "$dir/versions.out")"
sed -n 2p "$dir/versions.out" | grep -q '"hash"' && fail "a refused schema version was logged"
sed -n 3p "$dir/versions.out" | grep -q '"reason": "grant.application_missing"' || fail "line after the refusal"
sed -n 4p "$dir/versions.out" | grep -q '"reason": "limit_change.application_missing","rule": "R14"' ||
  fail "a limit change without schema_version was not decided by version 2: $(sed -n 4p "$dir/versions.out")"
set +e
"$kase" get --data "$dir/data" nope > /dev/null 2>&1; [ $? -eq 1 ] || fail "get of an unknown id should exit 1"
"$kase" get --data "$dir/data" sv-old > /dev/null 2>&1; [ $? -eq 1 ] || fail "the refused schema version reached the log"
"$kase" frobnicate > /dev/null 2>&1; [ $? -eq 2 ] || fail "unknown command should exit 2"
"$kase" submit > /dev/null 2>&1; [ $? -eq 2 ] || fail "submit without --data should exit 2"
"$kase" query person u1 --data "$dir/data" --at yesterday > /dev/null 2>&1; [ $? -eq 2 ] || fail "bad --at should exit 2"
set -e
"$kase" replay --data "$dir/data" --verify | grep -q 'verify          ok' || fail "replay --verify"
"$kase" query person u1 --data "$dir/data" --at 2026-11-30T10:00Z | grep -q '"mode":"signature_2"' || fail "query person"
# Documents (R6): a plan created and approved, then its state and history.
{
  # R5 (schema version 2): ePlans rights under registered annex 1 applications.
  for u in pm pa; do
    echo '{"request_id":"p-'$u'","client_id":"C1","actor":"op","channel":"treasury","intake_us":1796025600000000,"schema_version":2,"payload_type":"ApplicationSubmitted","payload":{"application":"plan-'$u'","kind":"eplans_eestimates","user":"'$u'","signer":"head","signed_us":1796025500000000,"digest":"sha256:annex1"}}'
    echo '{"request_id":"q-'$u'","client_id":"C1","actor":"op","channel":"treasury","intake_us":1796025600000000,"schema_version":2,"payload_type":"ApplicationRegistered","payload":{"application":"plan-'$u'"}}'
  done
  echo '{"request_id":"d1","client_id":"C1","actor":"op","channel":"treasury","intake_us":1796025600000000,"schema_version":2,"payload_type":"PlanRightsGranted","payload":{"user":"pm","service":"eplans","mode":"institution_manage","application":"plan-pm"}}'
  echo '{"request_id":"d2","client_id":"C1","actor":"op","channel":"treasury","intake_us":1796025600000000,"schema_version":2,"payload_type":"PlanRightsGranted","payload":{"user":"pa","service":"eplans","mode":"approve","application":"plan-pa"}}'
  echo '{"request_id":"d3","client_id":"C1","actor":"pm","intake_us":1796032800000000,"payload_type":"DocumentCreate","payload":{"service":"eplans","document":"P1","kind":"financing_plan","digest":"sha256:p1","amount_cents":5000000}}'
  echo '{"request_id":"d4","client_id":"C1","actor":"pm","intake_us":1796032860000000,"payload_type":"DocumentSubmit","payload":{"service":"eplans","document":"P1"}}'
  echo '{"request_id":"d5","client_id":"C1","actor":"pa","intake_us":1796032920000000,"payload_type":"DocumentApprove","payload":{"service":"eplans","document":"P1"}}'
} > "$dir/docs.jsonl"
"$kase" submit --data "$dir/data" < "$dir/docs.jsonl" > "$dir/docs.out" || fail "submit documents exited $?"
sed -n 1,6p "$dir/docs.out" | grep -c '"outcome": "accepted"' | grep -qx 6 || fail "applications and plan rights not accepted"
sed -n 7p "$dir/docs.out" | grep -q '"outcome": "accepted"' || fail "DocumentCreate not accepted"
sed -n 8p "$dir/docs.out" | grep -q '"reason": "document.mode_not_allowed"' || fail "submit by institution-manage not refused"
sed -n 8p "$dir/docs.out" | grep -q '"rule": "R6.5"' || fail "refusal lacks its rule"
sed -n 9p "$dir/docs.out" | grep -q '"outcome": "accepted"' || fail "DocumentApprove not accepted"
doc=$("$kase" query document C1 eplans P1 --data "$dir/data" --at 2026-11-30T12:00Z)
echo "$doc" | grep -q '"status":"approved"' || fail "query document status: $doc"
echo "$doc" | grep -q '"request_id":"d3","actor":"pm","step":"create"' || fail "query document history: $doc"
echo "$doc" | grep -q '"request_id":"d5","actor":"pa","step":"approve"' || fail "query document history: $doc"
"$kase" query document C1 eplans P1 --data "$dir/data" --at 2026-11-30T09:00Z | grep -q '"known":false' \
  || fail "query document --at before its creation"
set +e
"$kase" query document C1 ekase P1 --data "$dir/data" > /dev/null 2>&1; [ $? -eq 2 ] || fail "query document of ekase should exit 2"
"$kase" query document C1 eplans --data "$dir/data" > /dev/null 2>&1; [ $? -eq 2 ] || fail "query document without DOCUMENT should exit 2"
set -e
"$kase" replay --data "$dir/data" --verify | grep -q 'verify          ok' || fail "replay --verify with documents"
"$kase" help > "$dir/help.txt"  # not piped into grep -q: the text is longer than one stdio buffer
grep -q 'usage: kase' "$dir/help.txt" || fail "help"
grep -q -- '--client-ca F' "$dir/help.txt" || fail "help lacks the HTTP options"
grep -q 'query document CLIENT SERVICE DOCUMENT' "$dir/help.txt" || fail "help names query document"

# kase run --listen: usage errors, then plain HTTP for local development (no curl needed).
set +e
"$kase" run --listen 127.0.0.1:0 --brokers 127.0.0.1:1 --data "$dir/http" > /dev/null 2>&1
[ $? -eq 2 ] || fail "--listen with --brokers should exit 2"
"$kase" run --listen 127.0.0.1:0 --data "$dir/http" > /dev/null 2>&1
[ $? -eq 2 ] || fail "--listen without TLS files or --plain-http should exit 2"
"$kase" run --listen 0.0.0.0:0 --plain-http --data "$dir/http" > /dev/null 2>&1
[ $? -eq 2 ] || fail "--plain-http on a non-loopback address should exit 2"
"$kase" run --listen 127.0.0.1:0 --plain-http --data "$dir/http" --http-idle-ms 0 > /dev/null 2>&1
[ $? -eq 2 ] || fail "--http-idle-ms 0 should exit 2"
set -e
"$kase" run --listen 127.0.0.1:0 --plain-http --data "$dir/http" 2> "$dir/run.err" &
run_pid=$!
port=""
for _ in $(seq 1 100); do
  port=$(sed -n 's|.*serving http://127.0.0.1:\([0-9]*\).*|\1|p' "$dir/run.err")
  [ -n "$port" ] && break
  sleep 0.1
done
[ -n "$port" ] || { kill "$run_pid"; fail "kase run --plain-http did not start: $(cat "$dir/run.err")"; }
grep -q 'WARNING: --plain-http' "$dir/run.err" || { kill "$run_pid"; fail "no --plain-http warning"; }
body='{"request_id":"h1","client_id":"C1","actor":"op","channel":"treasury","payload_type":"AccountOpened","payload":{"account":"A1","owner_client":"C1","fiscal_year":2026}}'
exec 3<>"/dev/tcp/127.0.0.1/$port"
printf 'POST /v1/requests HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s' \
  "${#body}" "$body" >&3
answer=$(cat <&3)
exec 3<&-
echo "$answer" | grep -q '"outcome": "accepted"' || { kill "$run_pid"; fail "POST over plain HTTP: $answer"; }
kill -TERM "$run_pid"
wait "$run_pid" || fail "kase run exited $? after SIGTERM"
grep -q 'stopped; 1 requests decided' "$dir/run.err" || fail "no stop line: $(cat "$dir/run.err")"
"$kase" get --data "$dir/http" h1 | grep -q '"outcome": "accepted"' || fail "the HTTP request is not in the log"

# Fallback payment files (R48.1, R49): an outage, a file and its summary.
{
  echo '{"request_id":"f1","client_id":"C9","actor":"op","channel":"treasury","intake_us":1796025600000000,"payload_type":"AccountOpened","payload":{"account":"LV80TREL0000000000001","owner_client":"C9","fiscal_year":2026}}'
  echo '{"request_id":"f2","client_id":"C9","actor":"op","channel":"treasury","intake_us":1796025600000000,"payload_type":"RepresentativeRegistered","payload":{"person":"head9","head":true,"specimen_card":true}}'
  echo '{"request_id":"f3a","client_id":"C9","actor":"op","channel":"treasury","intake_us":1796025600000000,"schema_version":2,"payload_type":"ApplicationSubmitted","payload":{"application":"app-head9","kind":"ekase","user":"head9","signer":"head9","signed_us":1796025500000000,"digest":"sha256:annex2"}}'
  echo '{"request_id":"f3b","client_id":"C9","actor":"op","channel":"treasury","intake_us":1796025600000000,"schema_version":2,"payload_type":"ApplicationRegistered","payload":{"application":"app-head9"}}'
  echo '{"request_id":"f3","client_id":"C9","actor":"op","channel":"treasury","intake_us":1796025600000000,"schema_version":2,"payload_type":"RightsGranted","payload":{"user":"head9","account":"LV80TREL0000000000001","mode":"signature_4","per_order_limit_cents":500000,"daily_limit_cents":800000,"application":"app-head9"}}'
  echo '{"request_id":"f4","client_id":"C9","actor":"op","channel":"treasury","intake_us":1796025600000000,"payload_type":"ServiceOutage","payload":{"service":"ekase","down":true,"expected_minutes":480}}'
} > "$dir/fb-setup.jsonl"
"$kase" submit --data "$dir/fb" < "$dir/fb-setup.jsonl" | grep -c '"outcome": "accepted"' | grep -q '^6$' || fail "fallback set-up"
cat > "$dir/pay.xml" <<'XML'
<?xml version="1.0" encoding="UTF-8"?>
<Document xmlns="urn:iso:std:iso:20022:tech:xsd:pain.001.001.03"><CstmrCdtTrfInitn>
<GrpHdr><MsgId>M1</MsgId><CreDtTm>2026-11-30T09:00:00</CreDtTm><NbOfTxs>2</NbOfTxs><CtrlSum>6200.01</CtrlSum><InitgPty><Nm>School 9</Nm></InitgPty></GrpHdr>
<PmtInf><PmtInfId>P1</PmtInfId><PmtMtd>TRF</PmtMtd><Dbtr><Nm>School 9</Nm><Id><OrgId><Othr><Id>90000000009</Id></Othr></OrgId></Id></Dbtr>
<DbtrAcct><Id><IBAN>LV80TREL0000000000001</IBAN></Id></DbtrAcct>
<CdtTrfTxInf><PmtId><EndToEndId>E1</EndToEndId></PmtId><Amt><InstdAmt Ccy="EUR">1200.00</InstdAmt></Amt><CdtrAcct><Id><IBAN>LV97HABA0000000000001</IBAN></Id></CdtrAcct><Cdtr><Nm>Supplier</Nm></Cdtr></CdtTrfTxInf>
<CdtTrfTxInf><PmtId><EndToEndId>E2</EndToEndId></PmtId><Amt><InstdAmt Ccy="EUR">5000.01</InstdAmt></Amt><CdtrAcct><Id><IBAN>LV97HABA0000000000002</IBAN></Id></CdtrAcct><Cdtr><Nm>Builder</Nm></Cdtr></CdtTrfTxInf>
</PmtInf></CstmrCdtTrfInitn></Document>
XML
sig='"signatures": [{"person": "head9", "role": "head", "signed_us": 1795939200000000}]'
echo "{\"file_name\": \"pay.xml\", \"institution\": \"School 9\", \"tax_number\": \"90000000009\", \"account\": \"LV80TREL0000000000001\", \"payments\": 3, \"total\": \"6200.01\", $sig}" > "$dir/bad-summary.json"
set +e
"$kase" fallback ingest --file "$dir/pay.xml" --summary "$dir/bad-summary.json" --client C9 --data "$dir/fb" > "$dir/fb.out" 2> "$dir/fb.err"
[ $? -eq 1 ] || fail "a summary that differs from its file should exit 1"
set -e
grep -q 'R49.4: the summary says 3 payments, the file has 2' "$dir/fb.err" || fail "fallback difference not said: $(cat "$dir/fb.err")"
grep -q '"reason": "fallback.count_mismatch"' "$dir/fb.out" || fail "fallback mismatch not decided: $(cat "$dir/fb.out")"
echo "{\"file_name\": \"pay.xml\", \"institution\": \"School 9\", \"tax_number\": \"90000000009\", \"account\": \"LV80TREL0000000000001\", \"payments\": 2, \"total\": \"6200.01\", $sig}" > "$dir/summary.json"
# The same file with a corrected summary: accepted; one payment over the R9 per-order limit.
"$kase" fallback ingest --file "$dir/pay.xml" --summary "$dir/summary.json" --client C9 --data "$dir/fb" > "$dir/fb.out" 2>/dev/null \
  || fail "fallback ingest: $(cat "$dir/fb.out")"
[ "$(grep -c '"outcome": "accepted"' "$dir/fb.out")" -eq 2 ] || fail "file and payment 1 accepted: $(cat "$dir/fb.out")"
grep -q '"reason": "limit.per_order_exceeded"' "$dir/fb.out" || fail "payment over the R9 limit not refused"
"$kase" fallback ingest --file "$dir/pay.xml" --summary "$dir/summary.json" --client C9 --data "$dir/fb" > "$dir/fb2.out" 2>/dev/null
cmp -s "$dir/fb.out" "$dir/fb2.out" || fail "a file ingested twice must answer with the original decisions"
echo '<Document' > "$dir/broken.xml"
set +e
"$kase" fallback ingest --file "$dir/broken.xml" --summary "$dir/summary.json" --client C9 --data "$dir/fb" > /dev/null 2> "$dir/fb.err"
[ $? -eq 1 ] || fail "malformed XML should exit 1"
set -e
grep -q 'malformed XML' "$dir/fb.err" || fail "malformed XML not said"
"$kase" replay --data "$dir/fb" --verify | grep -q 'verify          ok' || fail "replay --verify after fallback"
echo "cli_test: ok"
