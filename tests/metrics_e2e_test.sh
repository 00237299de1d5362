#!/usr/bin/env bash
# Metrics end to end: `kase run` (embedded log, plain HTTP and --metrics on
# 127.0.0.1) decides a known request stream; a real Prometheus server (Debian
# package `prometheus`) on 127.0.0.1 scrapes it every second; the values that
# Prometheus' HTTP API answers must be those the stream produced. Fails, never
# skips, when Prometheus is missing or cannot start.
#   usage: metrics_e2e_test.sh KASE SOURCE_DIR
set -euo pipefail
kase="$1"
src="$2"
work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT
fail() {
  echo "metrics_e2e_test: FAIL: $*" >&2
  for f in "$work"/*.log; do [ -f "$f" ] && { echo "--- $f" >&2; tail -30 "$f" >&2; }; done
  exit 1
}
prometheus=$(command -v prometheus) || fail "no prometheus on PATH: ops/install-deps installs the Debian package"
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# ---- 1. History, with intake times in the past (kase submit keeps a given intake_us) ----
# 2026-11-02 is a Monday: an application submitted then and never registered is past
# R22.1 (1 business day) and R22.2 (3); a message posted then and never read is
# overdue for both users who hold rights for C1 (R36).
t0=1793610000000000   # 2026-11-02T10:20Z
{
  echo '{"request_id":"h1","client_id":"C1","actor":"op","channel":"treasury","intake_us":'$t0',"payload_type":"AccountOpened","payload":{"account":"A1","owner_client":"C1","fiscal_year":2026}}'
  echo '{"request_id":"h4","client_id":"C1","actor":"op","channel":"treasury","intake_us":'$t0',"payload_type":"RepresentativeRegistered","payload":{"person":"head","head":true,"specimen_card":true}}'
  # R7 (schema version 2): u1's and u2's rights stand on registered eKase applications.
  for u in u1 u2; do
    echo '{"request_id":"s-'$u'","client_id":"C1","actor":"op","channel":"treasury","intake_us":'$t0',"schema_version":2,"payload_type":"ApplicationSubmitted","payload":{"application":"app-'$u'","user":"'$u'","signer":"head","signed_us":'$((t0 - 1))',"digest":"sha256:annex2"}}'
    echo '{"request_id":"r-'$u'","client_id":"C1","actor":"op","channel":"treasury","intake_us":'$t0',"schema_version":2,"payload_type":"ApplicationRegistered","payload":{"application":"app-'$u'"}}'
  done
  echo '{"request_id":"h2","client_id":"C1","actor":"op","channel":"treasury","intake_us":'$t0',"schema_version":2,"payload_type":"RightsGranted","payload":{"user":"u1","account":"A1","mode":"signature_2","per_order_limit_cents":100000,"daily_limit_cents":150000,"application":"app-u1"}}'
  echo '{"request_id":"h3","client_id":"C1","actor":"op","channel":"treasury","intake_us":'$t0',"schema_version":2,"payload_type":"RightsGranted","payload":{"user":"u2","account":"A1","mode":"view_all","application":"app-u2"}}'
  echo '{"request_id":"h5","client_id":"C1","actor":"head","intake_us":'$t0',"payload_type":"ApplicationSubmitted","payload":{"application":"app-1","user":"u3","signer":"head","signed_us":'$((t0 - 1))',"digest":"sha256:annex2"}}'
  echo '{"request_id":"h6","client_id":"C1","actor":"op","channel":"treasury","intake_us":'$t0',"payload_type":"MessagePosted","payload":{"message":"msg-1","subject":"Limits"}}'
} > "$work/history.jsonl"
"$kase" submit --data "$work/data" < "$work/history.jsonl" > "$work/history.out" 2> "$work/submit.log" || fail "kase submit exited $?"
[ "$(grep -c '"outcome": "accepted"' "$work/history.out")" -eq 10 ] || fail "history not all accepted: $(cat "$work/history.out")"
late_registration=$("$kase" query deadlines --data "$work/data" | grep '"step":"registration"' | grep -c '"done_us":null' || true)
[ "$late_registration" -eq 1 ] || fail "kase query deadlines: expected 1 application waiting for registration, got $late_registration"

# ---- 2. kase run with --metrics, and the live stream over HTTP ----
"$kase" run --listen 127.0.0.1:0 --plain-http --metrics 127.0.0.1:0 --data "$work/data" > "$work/kase.log" 2>&1 &
pids+=($!)
api="" ; metrics=""
for _ in $(seq 1 100); do
  api=$(grep -o 'serving http://127.0.0.1:[0-9]*' "$work/kase.log" | sed 's/serving //' || true)
  metrics=$(grep -o 'metrics on http://127.0.0.1:[0-9]*' "$work/kase.log" | sed 's/metrics on http:\/\///' || true)
  [ -n "$api" ] && [ -n "$metrics" ] && break
  sleep 0.1
done
[ -n "$api" ] && [ -n "$metrics" ] || fail "kase run did not start"

post() {
  local out
  out=$(curl -sS -H 'Content-Type: application/json' --data "$1" "$api/v1/requests") || fail "POST $1"
  echo "$out" >> "$work/decisions.log"
}
req() { # id type payload [actor channel]
  echo '{"request_id":"'$1'","client_id":"C1","actor":"'${4:-op}'","channel":"'${5:-treasury}'","payload_type":"'$2'","payload":'$3'}'
}
for a in A2 A3 A4; do post "$(req "open-$a" AccountOpened '{"account":"'$a'","owner_client":"C1","fiscal_year":2026}')"; done
post "$(req again-1 AccountOpened '{"account":"A1","owner_client":"C1","fiscal_year":2026}')"   # account.exists
post "$(req again-2 AccountOpened '{"account":"A2","owner_client":"C1","fiscal_year":2026}')"   # account.exists
post "$(req close-x AccountClosed '{"account":"nope"}')"                                       # account.unknown
for i in 1 2 3; do  # R28.1: the third failed login blocks u1 (logins are taken at any hour, R32)
  post "$(req "login-$i" LoginAttempt '{"means":"unified_login","success":false}' u1 portal)"
done
# The block is checked before service hours: rejected for it at any time of day.
post "$(req po-1 PaymentOrderPrepare '{"order":"po1","account":"A1","amount_cents":100}' u1 portal)"
post "$(req suspend-1 ServiceSuspension '{"service":"eplans"}')"                               # R34
post "$(req open-A2 AccountOpened '{"account":"A2","owner_client":"C1","fiscal_year":2026}')"   # duplicate id
grep -c '"reason"' "$work/decisions.log" | grep -qx 12 || fail "expected 12 decisions: $(cat "$work/decisions.log")"
grep -q '"request_id": "po-1".*identity.blocked_wrong_credentials' "$work/decisions.log" ||
  fail "po-1 not refused for the block: $(grep po-1 "$work/decisions.log")"

# ---- 3. A real Prometheus scrapes kase every second ----
pport=$(free_port)
cat > "$work/prometheus.yml" <<CONF
global:
  scrape_interval: 1s
  evaluation_interval: 1s
rule_files:
  - $src/ops/prometheus/rules/kase.yml
scrape_configs:
  - job_name: kase
    static_configs:
      - targets: ["$metrics"]
CONF
"$prometheus" --config.file="$work/prometheus.yml" --storage.tsdb.path="$work/tsdb" \
  --web.listen-address="127.0.0.1:$pport" --log.level=warn > "$work/prometheus.log" 2>&1 &
pids+=($!)
prom="http://127.0.0.1:$pport"
for _ in $(seq 1 300); do
  curl -sf "$prom/-/ready" > /dev/null 2>&1 && break
  kill -0 "${pids[1]}" 2>/dev/null || fail "prometheus exited at start"
  sleep 0.1
done
curl -sf "$prom/-/ready" > /dev/null || fail "prometheus not ready on 127.0.0.1:$pport within 30 s"

# The value of an instant query, or "none".
query() {
  curl -sf --get --data-urlencode "query=$1" "$prom/api/v1/query" |
    python3 -c 'import json,sys; r=json.load(sys.stdin)["data"]["result"]; print(r[0]["value"][1] if len(r)==1 else ("none" if not r else "many:%d" % len(r)))'
}
# Wait for the first scrape.
for _ in $(seq 1 300); do
  [ "$(query 'up{job="kase"}')" = "1" ] && break
  sleep 0.1
done
[ "$(query 'up{job="kase"}')" = "1" ] || fail "Prometheus did not scrape kase at $metrics: $(curl -s "$prom/api/v1/targets")"

expect() { # query value
  local got
  got=$(query "$1")
  [ "$got" = "$2" ] || fail "$1 = $got, expected $2"
  echo "ok  $1 = $2"
}
expect 'sum(kase_requests_total{service="ekase",type="AccountOpened",outcome="accepted",reason="ok"})' 3
expect 'kase_requests_total{type="AccountOpened",outcome="rejected",reason="account.exists"}' 2
expect 'kase_requests_total{type="AccountClosed",reason="account.unknown"}' 1
expect 'kase_requests_total{service="identity",type="LoginAttempt",reason="identity.login_failed"}' 2
expect 'kase_requests_total{service="identity",type="LoginAttempt",reason="identity.blocked_wrong_credentials"}' 1
expect 'kase_requests_total{service="ekase",type="PaymentOrderPrepare",outcome="rejected",reason="identity.blocked_wrong_credentials"}' 1
expect 'kase_requests_total{service="eplans",type="ServiceSuspension",outcome="accepted"}' 1
expect 'sum(kase_requests_total)' 11
expect 'sum(kase_requests_total{outcome="rejected"})' 7
expect 'kase_requests_duplicate_total' 1
expect 'kase_decision_latency_seconds_count' 11
expect 'kase_http_responses_total' 12
expect 'kase_log_records{partition="embedded"}' 21  # 10 history + 11 live
expect 'kase_info{mode="embedded"}' 1
expect 'kase_users_blocked{cause="wrong_credentials",rule="R28.1"}' 1
expect 'sum(kase_users_blocked)' 1
expect 'kase_service_state{service="eplans",state="suspended"}' 1
expect 'kase_service_open{service="eplans"}' 0
expect 'count(kase_service_state == 1)' 5
expect 'kase_applications_past_deadline{step="registration",rule="R22.1",state="waiting"}' 1
expect 'kase_applications_past_deadline{step="attachment",rule="R22.2",state="waiting"}' 1
expect 'sum(kase_applications_past_deadline{state="late"})' 0
expect 'kase_users_with_overdue_messages' 2
expect 'kase_overdue_unread_messages' 2
expect 'kase_limit_rejections_total{limit="daily"}' 0
# The alert rules load and evaluate against real series: R22 and R36 wait before
# they fire (15 minutes, 1 hour), so they are pending now.
alerts() {
  curl -sf "$prom/api/v1/alerts" | python3 -c '
import json, sys
for a in json.load(sys.stdin)["data"]["alerts"]:
    l = a["labels"]
    print(l["alertname"], l.get("rule", "-"), l.get("step", "-"), a["state"], a["value"])'
}
for _ in $(seq 1 50); do
  [ "$(alerts | grep -c pending)" -ge 3 ] && break
  sleep 0.2
done
alerts > "$work/alerts.txt" || fail "no alerts from Prometheus"
for want in "KaseApplicationsPastDeadline R22.1 registration pending 1e+00" \
            "KaseApplicationsPastDeadline R22.2 attachment pending 1e+00" \
            "KaseOverdueMessages R36 - pending 2e+00"; do
  grep -qx "$want" "$work/alerts.txt" || fail "alert '$want' not among: $(cat "$work/alerts.txt")"
  echo "ok  alert $want"
done
echo "metrics_e2e_test: ok"
