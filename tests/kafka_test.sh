#!/usr/bin/env bash
# kase on a real Apache Kafka broker (ops/kafka/broker), end to end:
#   1. equivalence: one partition; the Kafka decisions equal `kase submit`'s on
#      the embedded log line for line, and the state hashes are equal;
#   2. crash: kill -9 of the engine at random points under load, 20 times;
#      then exactly one decision per request and the state equals a re-fold;
#   3. two engine instances share the partitions; one is killed, the other
#      takes over with nothing lost or doubled;
#   4. three brokers (replication 3, min.insync.replicas 2); one is killed
#      under load; processing continues and nothing is lost;
#   5. the HTTP API over Kafka (kase run --brokers --listen): answers equal
#      kase.decisions, a restart rebuilds the decisions index, 202 then poll;
#   6. identity facts: a person with rights in six clients is blocked by
#      three failed logins in the person's identity partition; every client's
#      partition refuses the person, and a restoration frees them everywhere;
#   7. directory facts: a ministry checks and submits an institution's plan
#      (R6.5) and accepts its report, and signs its consolidated report once
#      the acceptance reached its own partition (R19.2.4), each client in its
#      own partition of eight;
#   8. the Kafka benchmark at a tiny size, so that it cannot rot.
# Usage: kafka_test.sh KASE_BINARY PROJECT_ROOT [scenario...]
# Fails (never skips) when the broker cannot start.
set -euo pipefail
kase="$1"
root="$2"
shift 2
scenarios=("$@")
[ ${#scenarios[@]} -eq 0 ] && scenarios=(equivalence crash failover three_brokers http identity documents bench)
broker="$root/ops/kafka/broker"
port="${KASE_KAFKA_TEST_PORT:-29292}"
work=$(mktemp -d)
engines=()
kdir="$work/kafka"

say() { echo "kafka_test: $*" >&2; }
fail() {
  say "FAILED: $*"
  for f in "$work"/engine-*.log; do [ -f "$f" ] && { echo "--- $f" >&2; tail -20 "$f" >&2; }; done
  exit 1
}
cleanup() {
  for pid in "${engines[@]}"; do kill -9 "$pid" 2>/dev/null || true; done
  "$broker" stop --dir "$kdir" >/dev/null 2>&1 || true
  if [ -n "${KASE_KEEP_WORK:-}" ]; then say "work directory kept: $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT

start_kafka() {  # start_kafka NODES
  "$broker" stop --dir "$kdir" >/dev/null 2>&1 || true
  B=$("$broker" start --dir "$kdir" --port "$port" --brokers "$1" 2>"$work/broker.log") ||
    { cat "$work/broker.log" >&2; fail "the Kafka broker did not start"; }
}

# start_engine NAME DATA_DIR [OPTION...]: runs `kase run` in the background; sets PID.
start_engine() {
  "$kase" run --brokers "$B" --data "$2" --batch 512 --batch-ms 10 "${@:3}" >>"$work/engine-$1.log" 2>&1 &
  PID=$!
  engines+=("$PID")
}

count() { "$kase" kafka read "$1" --brokers "$B" | wc -l; }

# wait_all_decided SECONDS: until every request has its decision. Decisions
# are counted before requests: a transaction that commits in between adds
# identity facts (requests) with its decisions, and must not pass for done.
wait_all_decided() {
  local deadline=$((SECONDS + $1)) r d
  while :; do
    d=$(( $(count decisions) + $(count dead-letter) ))
    r=$(count requests)
    [ "$r" -gt 0 ] && [ "$d" -ge "$r" ] && return 0
    [ $SECONDS -ge $deadline ] && fail "only $d of $r requests decided after $1 s"
    sleep 1
  done
}

stop_engine() {  # graceful: SIGTERM and wait
  kill -TERM "$1" 2>/dev/null || true
  wait "$1" 2>/dev/null || true
}

"$kase" demo --jsonl >"$work/demo.jsonl"
n_demo=$(wc -l <"$work/demo.jsonl")
# Treasury-wide settings go to every partition.
n_wide=$(grep -cE '"payload_type": "(CalendarOverride|ServiceHoursNotice|ServiceSuspension|IdentityPolicy)"' "$work/demo.jsonl" || true)
# expect_requests ROUNDS PARTITIONS [UNDECODABLE]: nothing produced may be missing from the log
# (beside what was produced, the identity and directory facts the engine sent between partitions).
expect_requests() {
  local facts want got
  facts=$(( $(grep '^requests' "$work/verify.txt" | sed 's/.*identity facts \([0-9]*\),.*/\1/') +
            $(grep '^requests' "$work/verify.txt" | sed 's/.*directory facts \([0-9]*\),.*/\1/') ))
  want=$(( $1 * (n_demo + ($2 - 1) * n_wide) + ${3:-0} + facts ))
  got=$(grep '^requests' "$work/verify.txt" | sed 's/^requests \([0-9]*\),.*/\1/')
  [ "$got" -eq "$want" ] || fail "kase.requests holds $got requests, $want were produced"
}
# Round R of the load: the demo stream under new request ids.
round() { sed "s/\"request_id\": \"demo-/\"request_id\": \"r$1-/" "$work/demo.jsonl"; }

# Hand-written request lines for the identity and documents scenarios; the
# intake time is $t, which each scenario sets.
req() {  # req ID CLIENT ACTOR CHANNEL PAYLOAD_TYPE PAYLOAD: one request line
  printf '{"request_id": "%s", "client_id": "%s", "actor": "%s", "channel": "%s", "intake_us": %s, "payload_type": "%s", "payload": %s}\n' \
    "$1" "$2" "$3" "$4" "$t" "$5" "$6"
}
produce() { "$kase" produce --brokers "$B" --quiet || fail "kase produce"; }
decision() { "$kase" kafka read decisions --brokers "$B" | grep "\"request_id\": \"$1\"" || true; }
expect() {  # expect ID REASON
  decision "$1" | grep -q "\"reason\": \"$2\"" || fail "$1: expected $2, got $(decision "$1")"
}

for scenario in "${scenarios[@]}"; do
  case "$scenario" in
  equivalence)
    say "equivalence: $n_demo requests through Kafka (1 partition) and through the embedded log"
    start_kafka 1
    "$kase" kafka init --brokers "$B" --partitions 1 >/dev/null
    "$kase" kafka init --brokers "$B" --partitions 1 | grep -q "exists  kase.requests" || fail "init is not idempotent"
    "$kase" produce --brokers "$B" --quiet <"$work/demo.jsonl"
    start_engine eq "$work/eq" --metrics 127.0.0.1:0
    wait_all_decided 120
    # The node's Prometheus metrics (rendered by its loop between batches).
    metrics_url=$(grep -o 'metrics on http://127.0.0.1:[0-9]*/metrics' "$work/engine-eq.log" | sed 's/metrics on //')
    [ -n "$metrics_url" ] || fail "kase run --metrics did not say where"
    curl -sf "$metrics_url" >"$work/metrics.txt" || fail "no metrics at $metrics_url"
    metric() { awk -v n="$1" '$1 == n { print $2 }' "$work/metrics.txt"; }
    sum_metric() { grep -E "^$1" "$work/metrics.txt" | awk '{ s += $2 } END { print s + 0 }'; }
    [ "$(metric 'kase_info{mode="kafka"}')" = 1 ] || fail "metrics: not in Kafka mode"
    [ "$(metric kase_kafka_decisions_published_total)" = "$n_demo" ] || fail "metrics: decisions published $(metric kase_kafka_decisions_published_total), want $n_demo"
    [ "$(sum_metric 'kase_requests_total\{')" = "$n_demo" ] || fail "metrics: kase_requests_total sums to $(sum_metric 'kase_requests_total\{'), want $n_demo"
    [ "$(metric kase_kafka_dead_letters_total)" = 0 ] || fail "metrics: dead letters"
    [ "$(metric 'kase_kafka_consumer_lag_messages{partition="0"}')" = 0 ] || fail "metrics: lag $(metric 'kase_kafka_consumer_lag_messages{partition="0"}') after every request was decided"
    [ "$(metric kase_kafka_transaction_commit_seconds_count)" = "$(metric kase_kafka_transactions_total)" ] &&
      [ "$(metric kase_kafka_transactions_total)" -gt 0 ] || fail "metrics: transactions and their commit times disagree"
    [ "$(metric 'kase_log_records{partition="0"}')" = "$n_demo" ] || fail "metrics: log records"
    metrics_accepted=$(sum_metric 'kase_requests_total\{[^}]*outcome="accepted"')
    stop_engine "$PID"
    "$kase" submit --data "$work/embedded" <"$work/demo.jsonl" >"$work/embedded.jsonl"
    [ "$metrics_accepted" = "$(grep -c '"outcome": "accepted"' "$work/embedded.jsonl")" ] ||
      fail "metrics: $metrics_accepted accepted, the embedded log accepted $(grep -c '"outcome": "accepted"' "$work/embedded.jsonl")"
    "$kase" kafka read decisions --brokers "$B" >"$work/kafka.jsonl"
    cmp -s "$work/embedded.jsonl" "$work/kafka.jsonl" ||
      { diff "$work/embedded.jsonl" "$work/kafka.jsonl" | head -5 >&2; fail "Kafka decisions differ from the embedded log's"; }
    h1=$("$kase" replay --data "$work/embedded" | grep "state hash")
    h2=$("$kase" replay --data "$work/eq/partition-0" --verify | grep "state hash")
    [ "$h1" = "$h2" ] || fail "state hash differs: embedded $h1, kafka $h2"
    "$kase" kafka verify --brokers "$B" --data "$work/eq" >"$work/verify.txt" || { cat "$work/verify.txt" >&2; fail "verify"; }
    grep -q "engine partitions compared 1" "$work/verify.txt" || fail "engine state not compared"
    # kase audit on Kafka (read from the beginning, no group): intact, and the
    # same history and explanations as on the embedded log, partition named.
    "$kase" audit verify --brokers "$B" >"$work/audit.txt" || { cat "$work/audit.txt" >&2; fail "audit verify on Kafka"; }
    grep -q "^verify ok: .* in 1 partition" "$work/audit.txt" || fail "audit verify on Kafka did not say ok"
    "$kase" audit history --brokers "$B" --client INST-ROADS | sed 's/^{"partition":0,/{/' >"$work/audit-kafka.jsonl"
    "$kase" audit history --data "$work/embedded" --client INST-ROADS >"$work/audit-embedded.jsonl"
    [ -s "$work/audit-embedded.jsonl" ] && cmp -s "$work/audit-embedded.jsonl" "$work/audit-kafka.jsonl" ||
      fail "audit history on Kafka differs from the embedded log's"
    id=$(grep -m1 'limit.daily_exceeded' "$work/audit-embedded.jsonl" | sed 's/.*"request_id":"\([^"]*\)".*/\1/')
    "$kase" audit explain "$id" --brokers "$B" >"$work/explain.txt" || fail "audit explain on Kafka exited $?"
    grep -q "^request $id (partition 0) at offset" "$work/explain.txt" && grep -q "FAIL limit.daily (R9)" "$work/explain.txt" &&
      grep -q "equal to the stored decision" "$work/explain.txt" || { head -3 "$work/explain.txt" >&2; fail "audit explain on Kafka"; }
    # Undecodable messages go to the dead letters and do not stop the partition.
    say "equivalence: $(grep -c accepted "$work/kafka.jsonl") accepted of $n_demo, identical decisions and state hash"
    ;;
  crash)
    say "crash: kill -9 of the engine 20 times under load (4 partitions)"
    start_kafka 1
    "$kase" kafka init --brokers "$B" --partitions 4 >/dev/null
    (for r in 1 2 3 4 5 6; do round "$r" | "$kase" produce --brokers "$B" --quiet || exit 1; sleep 2; done) &
    producer=$!
    for i in $(seq 1 20); do
      start_engine crash "$work/crash"
      sleep "$(awk -v s="$RANDOM" 'BEGIN { srand(s); printf "%.2f", 0.5 + rand() * 2.5 }')"
      kill -9 "$PID" 2>/dev/null || true
      wait "$PID" 2>/dev/null || true
    done
    wait "$producer" || fail "producing the load failed"
    start_engine crash "$work/crash"
    wait_all_decided 300
    stop_engine "$PID"
    "$kase" kafka verify --brokers "$B" --data "$work/crash" >"$work/verify.txt" || { cat "$work/verify.txt" >&2; fail "verify after crashes"; }
    grep -q "engine partitions compared 4" "$work/verify.txt" || { cat "$work/verify.txt" >&2; fail "not every partition compared"; }
    expect_requests 6 4
    say "crash: $(grep '^requests' "$work/verify.txt")"
    ;;
  failover)
    say "failover: two engines share 4 partitions; one is killed under load"
    start_kafka 1
    "$kase" kafka init --brokers "$B" --partitions 4 >/dev/null
    start_engine a "$work/fa"
    pid_a=$PID
    start_engine b "$work/fb"
    pid_b=$PID
    (for r in 1 2 3; do round "$r" | "$kase" produce --brokers "$B" --quiet || exit 1; sleep 2; done) &
    producer=$!
    # Two undecodable messages: dead letters, and the partition goes on.
    printf 'not a request\nC1|\x01\x02\n' | "$broker" tool kafka.tools.ConsoleProducer --bootstrap-server "$B" \
      --topic kase.requests --property parse.key=false >/dev/null 2>&1 || fail "console producer"
    sleep 4
    kill -9 "$pid_a"
    wait "$pid_a" 2>/dev/null || true
    wait "$producer" || fail "producing the load failed"
    # Load after the kill as well: the engines may have decided the three
    # rounds before it, and then b need not take a's partitions before the end.
    round 4 | "$kase" produce --brokers "$B" --quiet || fail "producing after the kill failed"
    wait_all_decided 300
    # b takes every partition once a's session times out (10 s); a's last
    # requests are decided only then.
    for ((i = 0; i < 60; i++)); do
      grep -qE '^kase run: assigned( [0-9]+\([^)]*\)){4}$' "$work/engine-b.log" && break
      sleep 1
    done
    stop_engine "$pid_b"
    grep -qE '^kase run: assigned( [0-9]+\([^)]*\)){4}$' "$work/engine-b.log" ||
      { cat "$work/engine-b.log" >&2; fail "engine b never got all four partitions"; }
    "$kase" kafka verify --brokers "$B" --data "$work/fb" >"$work/verify.txt" || { cat "$work/verify.txt" >&2; fail "verify after failover"; }
    grep -q "engine partitions compared 4" "$work/verify.txt" || { cat "$work/verify.txt" >&2; fail "engine b does not hold every partition"; }
    expect_requests 4 4 2
    grep -q "dead letters 2," "$work/verify.txt" || { cat "$work/verify.txt" >&2; fail "expected 2 dead letters"; }
    "$kase" kafka read dead-letter --brokers "$B" | grep -q '"kase.reason": "request.malformed_binary"' ||
      fail "dead letter without its reason"
    say "failover: $(grep '^requests' "$work/verify.txt")"
    ;;
  three_brokers)
    say "three brokers: one killed under load"
    start_kafka 3
    "$kase" kafka init --brokers "$B" --partitions 4 --replication 3 >/dev/null
    start_engine three "$work/three"
    (for r in 1 2 3; do round "$r" | "$kase" produce --brokers "$B" --quiet || exit 1; sleep 2; done) &
    producer=$!
    sleep 3
    "$broker" kill-broker 2 --dir "$kdir" >/dev/null 2>&1 || fail "could not kill broker 2"
    wait "$producer" || fail "producing with one broker down failed"
    wait_all_decided 300
    "$broker" start-broker 2 --dir "$kdir" >/dev/null 2>&1 || fail "broker 2 did not come back"
    stop_engine "$PID"
    "$kase" kafka verify --brokers "$B" --data "$work/three" >"$work/verify.txt" || { cat "$work/verify.txt" >&2; fail "verify with a broker down"; }
    expect_requests 3 4
    say "three brokers: $(grep '^requests' "$work/verify.txt")"
    ;;
  identity)
    say "identity: blocks decided in the person's identity partition reach every client partition (4 partitions)"
    start_kafka 1
    "$kase" kafka init --brokers "$B" --partitions 4 >/dev/null
    start_engine identity "$work/identity"
    t=1796025600000000  # Monday 2026-11-30 10:00 in Riga: service hours on a business day
    # Six clients, spread over the partitions by their ids, grant one person rights.
    clients="C1 C2 C3 C4 C5 C6"
    for c in $clients; do
      req "$c-open" "$c" op treasury AccountOpened "{\"account\": \"A-$c\", \"owner_client\": \"$c\", \"fiscal_year\": 2026}"
      req "$c-head" "$c" op treasury RepresentativeRegistered "{\"person\": \"head-$c\", \"head\": true}"
      req "$c-app" "$c" "head-$c" portal ApplicationSubmitted "{\"application\": \"APP-$c\", \"user\": \"u-cross\", \"signer\": \"head-$c\", \"signed_us\": $((t - 3600000000)), \"digest\": \"sha256:annex2\"}"
      req "$c-reg" "$c" op treasury ApplicationRegistered "{\"application\": \"APP-$c\"}"
      req "$c-grant" "$c" op treasury RightsGranted "{\"user\": \"u-cross\", \"account\": \"A-$c\", \"mode\": \"signature_2\", \"per_order_limit_cents\": 500000, \"daily_limit_cents\": 2000000, \"application\": \"APP-$c\"}"
    done | produce
    wait_all_decided 120
    for c in $clients; do expect "$c-grant" ok; done
    # R28.1: three failed logins, decided in the person's identity partition.
    for i in 1 2 3; do req "login-$i" C1 u-cross portal LoginAttempt '{"means": "unified_login", "success": false}'; done | produce
    wait_all_decided 120
    expect login-2 identity.login_failed
    expect login-3 identity.blocked_wrong_credentials
    # The block reached every client's partition in the third login's transaction.
    for c in $clients; do
      req "$c-po1" "$c" u-cross portal PaymentOrderPrepare "{\"order\": \"PO-$c-1\", \"account\": \"A-$c\", \"amount_cents\": 1000}"
    done | produce
    wait_all_decided 120
    for c in $clients; do expect "$c-po1" identity.blocked_wrong_credentials; done
    # R29.1: the support service restores the means; every client's partition follows.
    req restore C4 op treasury MeansRestored '{"person": "u-cross"}' | produce
    wait_all_decided 120
    expect restore ok
    for c in $clients; do
      req "$c-po2" "$c" u-cross portal PaymentOrderPrepare "{\"order\": \"PO-$c-2\", \"account\": \"A-$c\", \"amount_cents\": 1000}"
    done | produce
    wait_all_decided 120
    for c in $clients; do expect "$c-po2" ok; done
    stop_engine "$PID"
    "$kase" kafka verify --brokers "$B" --data "$work/identity" >"$work/verify.txt" || { cat "$work/verify.txt" >&2; fail "verify after identity facts"; }
    grep -q "identity facts [1-9]" "$work/verify.txt" || { cat "$work/verify.txt" >&2; fail "no identity facts between partitions"; }
    say "identity: $(grep '^requests' "$work/verify.txt")"
    ;;
  documents)
    say "documents: steps on another client's documents across partitions (8 partitions: M in 7, I in 4)"
    start_kafka 1
    "$kase" kafka init --brokers "$B" --partitions 8 >/dev/null
    start_engine documents "$work/documents" --listen 127.0.0.1:0 --plain-http
    t=1796025600000000  # Monday 2026-11-30 10:00 in Riga: service hours on a business day
    rights() {  # rights CLIENT USER APPLICATION_KIND PAYLOAD_TYPE PAYLOAD_WITHOUT_BRACES: under a new registered application
      req "$1-$2-$3-app" "$1" op treasury ApplicationSubmitted "{\"application\": \"APP-$1-$2-$3\", \"kind\": \"$3\", \"user\": \"$2\", \"signer\": \"registrar\", \"signed_us\": $((t - 3600000000)), \"digest\": \"sha256:annex\"}"
      req "$1-$2-$3-reg" "$1" op treasury ApplicationRegistered "{\"application\": \"APP-$1-$2-$3\"}"
      req "$1-$2-$3-grant" "$1" op treasury "$4" "{$5, \"application\": \"APP-$1-$2-$3\"}"
    }
    # The directory: the ministry M (its kind, structure, roles, rights) and its institution I.
    {
      for c in M I; do req "$c-registrar" "$c" op treasury RepresentativeRegistered '{"person": "registrar"}'; done
      req M-kind M op treasury ClientRegistered '{"kind": "ministry"}'
      req M-structure M op treasury InstitutionStructure '{"report_type": "annual", "year": 2026, "institutions": ["I"]}'
      req M-roles-cons M op treasury PersonRolesSet '{"person": "cons", "roles": "finance_employee"}'
      req M-roles-mhead M op treasury PersonRolesSet '{"person": "mhead", "roles": "head"}'
      req I-roles-fin I op treasury PersonRolesSet '{"person": "fin", "roles": "finance_employee"}'
      req I-roles-boss I op treasury PersonRolesSet '{"person": "boss", "roles": "head"}'
      rights M mm eplans_eestimates PlanRightsGranted '"user": "mm", "service": "eplans", "mode": "ministry_manage"'
      rights I im eplans_eestimates PlanRightsGranted '"user": "im", "service": "eplans", "mode": "institution_manage"'
      rights I ia eplans_eestimates PlanRightsGranted '"user": "ia", "service": "eplans", "mode": "approve"'
      rights I fin ereports_users ReportRightsGranted '"user": "fin", "institution": "I", "groups": "view_prepare", "modes": "manage_sign"'
      rights I boss ereports_users ReportRightsGranted '"user": "boss", "institution": "I", "groups": "view_prepare", "modes": "sign_head"'
      rights M cons ereports_users ReportRightsGranted '"user": "cons", "institution": "I", "groups": "view_prepare accept", "modes": "consolidate_sign"'
      req M-cons-own M op treasury ReportRightsGranted '{"user": "cons", "institution": "M", "groups": "view_prepare", "modes": "consolidate_sign", "application": "APP-M-cons-ereports_users"}'
      rights M mhead ereports_users ReportRightsGranted '"user": "mhead", "institution": "M", "groups": "view_prepare", "modes": "sign_head"'
    } | produce
    wait_all_decided 120
    # R6.5: the ministry checks and submits I's approved plan (decided in I's partition).
    # R19.2.4: I's report to submitted; M's consolidated report entered, but not signed yet.
    {
      req P1-create I im portal DocumentCreate '{"service": "eplans", "document": "P1", "kind": "financing_plan", "digest": "sha256:p1", "amount_cents": 10000000}'
      req P1-approve I ia portal DocumentApprove '{"service": "eplans", "document": "P1"}'
      req P1-check I mm portal DocumentCheck '{"service": "eplans", "document": "P1", "acting_for": "M"}'
      req P1-submit I mm portal DocumentSubmit '{"service": "eplans", "document": "P1", "acting_for": "M"}'
      req R1-create I fin portal DocumentCreate '{"service": "ereports", "document": "R1", "kind": "report", "digest": "sha256:r1", "report_type": "annual", "year": 2026, "period": "Y"}'
      req R1-check I fin portal DocumentCheck '{"service": "ereports", "document": "R1"}'
      req R1-sign-fin I fin portal DocumentSign '{"service": "ereports", "document": "R1"}'
      req R1-sign-boss I boss portal DocumentSign '{"service": "ereports", "document": "R1"}'
      req C1-create M cons portal DocumentCreate '{"service": "ereports", "document": "C1", "kind": "consolidated_report", "digest": "sha256:c1", "report_type": "annual", "year": 2026, "period": "Y"}'
      req C1-check M cons portal DocumentCheck '{"service": "ereports", "document": "C1"}'
      req C1-sign-early M cons portal DocumentSign '{"service": "ereports", "document": "C1"}'
    } | produce
    wait_all_decided 120
    for id in P1-create P1-approve P1-check P1-submit R1-create R1-check R1-sign-fin R1-sign-boss C1-create C1-check; do
      expect "$id" ok
    done
    expect C1-sign-early report.consolidation_incomplete
    # M accepts I's report (in I's partition); M's partition learns it and signs.
    req R1-accept I cons portal DocumentAccept '{"service": "ereports", "document": "R1", "acting_for": "M"}' | produce
    wait_all_decided 120
    expect R1-accept ok
    {
      req C1-sign M cons portal DocumentSign '{"service": "ereports", "document": "C1"}'
      req C1-sign-head M mhead portal DocumentSign '{"service": "ereports", "document": "C1"}'
    } | produce
    wait_all_decided 120
    expect C1-sign ok
    expect C1-sign-head ok
    # The HTTP front answers from the owner's partition, not from a copy:
    # I's report with its history; M's application with its R22 deadlines.
    URL=$(grep -o 'serving http://127.0.0.1:[0-9]*' "$work/engine-documents.log" | sed 's/serving //' || true)
    [ -n "$URL" ] || fail "kase run --listen did not say where it serves"
    curl -sf "$URL/v1/clients/I/documents/ereports/R1" >"$work/r1.json" || fail "GET R1: $(curl -s "$URL/v1/clients/I/documents/ereports/R1")"
    grep -q '"status":"accepted"' "$work/r1.json" || fail "R1: $(cat "$work/r1.json")"
    grep -q '"request_id":"R1-accept"' "$work/r1.json" || fail "R1 without its history: $(cat "$work/r1.json")"
    curl -sf "$URL/v1/applications/APP-M-cons-ereports_users" >"$work/app.json" || fail "GET application"
    grep -q '"deadlines"' "$work/app.json" || fail "the application answered from a copy: $(cat "$work/app.json")"
    stop_engine "$PID"
    "$kase" kafka verify --brokers "$B" --data "$work/documents" >"$work/verify.txt" || { cat "$work/verify.txt" >&2; fail "verify after directory facts"; }
    grep -q "directory facts [1-9]" "$work/verify.txt" || { cat "$work/verify.txt" >&2; fail "no directory facts between partitions"; }
    say "documents: $(grep '^requests' "$work/verify.txt")"
    ;;
  http)
    say "http: the HTTP API over Kafka (4 partitions): answers equal kase.decisions; restart; 202 then poll"
    start_kafka 1
    "$kase" kafka init --brokers "$B" --partitions 4 >/dev/null
    # The server stamps each request (intake_us must be absent); the outcomes
    # then depend on the hour (R32), the answers' agreement with Kafka does not.
    head -n 150 "$work/demo.jsonl" | sed 's/"intake_us": [0-9]*,//' >"$work/http.jsonl"
    start_http() {  # start_http NAME [OPTION...]: starts `kase run --brokers --listen`; sets PID and URL
      start_engine "$1" "${HTTP_DATA:-$work/http-data}" --listen 127.0.0.1:0 --plain-http "${@:2}"
      local deadline=$((SECONDS + 90))
      URL=""
      until [ -n "$URL" ]; do
        URL=$(grep -o 'serving http://127.0.0.1:[0-9]*' "$work/engine-$1.log" | sed 's/serving //' || true)
        kill -0 "$PID" 2>/dev/null || fail "kase run --brokers --listen exited"
        [ $SECONDS -ge $deadline ] && fail "kase run --brokers --listen did not start serving"
        sleep 0.2
      done
      until curl -sf "$URL/readyz" >"$work/readyz.json"; do
        [ $SECONDS -ge $deadline ] && fail "not ready after 90 s: $(curl -s "$URL/readyz")"
        sleep 0.5
      done
      grep -q '"log": "kafka", "partitions": \[0, 1, 2, 3\]' "$work/readyz.json" || fail "readyz: $(cat "$work/readyz.json")"
    }
    post() {  # post JSON: prints "CODE BODY"
      curl -s -o "$work/body" -w '%{http_code}' -H 'content-type: application/json' --data "$1" "$URL/v1/requests"
      printf ' %s\n' "$(cat "$work/body")"
    }
    stop_checked() {  # SIGTERM; the node must exit 0
      kill -TERM "$PID"
      wait "$PID" || fail "kase run --brokers --listen exited $? on SIGTERM"
    }
    start_http h1
    : >"$work/http-answers.jsonl"
    while IFS= read -r line; do
      id=$(printf '%s' "$line" | sed 's/^{"request_id": "\([^"]*\)".*/\1/')
      out=$(post "$line")
      [ "${out%% *}" = 200 ] || fail "POST $id: $out (want 200 with the decision)"
      body="${out#* }"
      case "$body" in *"\"request_id\": \"$id\""*) ;; *) fail "POST $id answered another request: $body" ;; esac
      printf '%s\n' "$body" >>"$work/http-answers.jsonl"
    done <"$work/http.jsonl"
    # A request id seen before: the original decision, nothing new logged.
    again=$(post "$(sed -n 10p "$work/http.jsonl")")
    [ "$again" = "200 $(sed -n 10p "$work/http-answers.jsonl")" ] || fail "a resubmitted request id: $again"
    [ "$(curl -s -o /dev/null -w '%{http_code}' "$URL/v1/decisions/no-such-request")" = 404 ] || fail "unknown decision not 404"
    [ "$(curl -s "$URL/v1/decisions/demo-20")" = "$(sed -n 20p "$work/http-answers.jsonl")" ] || fail "GET a decision"
    # A query runs on the node's thread over its partitions.
    code=$(curl -s -o "$work/app.json" -w '%{http_code}' "$URL/v1/applications/APP-MIN-FINANCE-1")
    if grep -q '"request_id": "demo-13",.*"outcome": "accepted"' "$work/http-answers.jsonl"; then
      [ "$code" = 200 ] && grep -q APP-MIN-FINANCE-1 "$work/app.json" || fail "application query: $code $(cat "$work/app.json")"
    else
      [ "$code" = 404 ] || fail "application query of a rejected application: $code"
    fi
    [ "$(curl -s -o /dev/null -w '%{http_code}' "$URL/v1/blocks")" = 200 ] || fail "blocks query"
    stop_checked
    # Every answer is the decision Kafka holds for that request.
    "$kase" kafka read decisions --brokers "$B" >"$work/http-kafka.jsonl"
    while IFS= read -r answer; do
      grep -Fxq -- "$answer" "$work/http-kafka.jsonl" || fail "an HTTP answer is not in kase.decisions: $answer"
    done <"$work/http-answers.jsonl"
    # Restarted, with no wait for decisions: 202 and a Location to poll; the
    # decisions index is kept on disk and read on from where it stopped.
    grep -q 'decisions index .*: 0 decisions, read on from 0 partition offsets' "$work/engine-h1.log" ||
      fail "a new front's decisions index is not empty"
    start_http h2 --http-decision-wait-ms 0
    grep -Eq 'decisions index .*http-decisions: [1-9][0-9]* decisions, read on from [1-9][0-9]* partition offsets' \
      "$work/engine-h2.log" || fail "the restarted front did not keep its decisions index"
    [ "$(curl -s "$URL/v1/decisions/demo-20")" = "$(sed -n 20p "$work/http-answers.jsonl")" ] ||
      fail "after a restart, GET a decision decided before it"
    : >"$work/http-locations.txt"
    sed -n '151,190p' "$work/demo.jsonl" | sed 's/"intake_us": [0-9]*,//' | while IFS= read -r line; do
      out=$(post "$line")
      [ "${out%% *}" = 202 ] || fail "POST with --http-decision-wait-ms 0: $out (want 202)"
      printf '%s\n' "${out#* }" | sed 's/.*"location": "\([^"]*\)".*/\1/' >>"$work/http-locations.txt"
    done
    [ "$(wc -l <"$work/http-locations.txt")" = 40 ] || fail "40 POSTs, $(wc -l <"$work/http-locations.txt") locations"
    deadline=$((SECONDS + 90))
    while IFS= read -r loc; do
      until [ "$(curl -s -o "$work/body" -w '%{http_code}' "$URL$loc")" = 200 ]; do
        [ $SECONDS -ge $deadline ] && fail "$loc not decided after 90 s"
        sleep 0.2
      done
      grep -Fxq -- "$(cat "$work/body")" <("$kase" kafka read decisions --brokers "$B") || fail "$loc: not in kase.decisions"
    done <"$work/http-locations.txt"
    stop_checked
    "$kase" kafka verify --brokers "$B" --data "$work/http-data" >"$work/verify.txt" || { cat "$work/verify.txt" >&2; fail "verify"; }
    # Against another cluster (a new broker), the front's index of the old
    # one is dropped and kase.decisions read afresh: no answer of the old
    # cluster for a request the new one never saw.
    start_kafka 1
    "$kase" kafka init --brokers "$B" --partitions 4 >/dev/null
    mkdir -p "$work/http-data-2" && mv "$work/http-data/http-decisions" "$work/http-data-2/"
    HTTP_DATA="$work/http-data-2" start_http h3
    grep -q 'the decisions index was read from Kafka cluster .*: reading kase.decisions afresh' "$work/engine-h3.log" ||
      fail "the front kept the decisions index of another cluster"
    [ "$(curl -s -o /dev/null -w '%{http_code}' "$URL/v1/decisions/demo-20")" = 404 ] ||
      fail "a decision of the old cluster answered by the new one"
    stop_checked
    say "http: 150 answered in the wait, 40 polled after 202, all equal to kase.decisions; a new cluster starts the index afresh"
    ;;
  bench)
    say "bench: kase_kafka_bench at a tiny size"
    start_kafka 1
    "$(dirname "$kase")/bench/kase_kafka_bench" --brokers "$B" --data "$work/bench" --tiny --rate 2000 \
      --out "$work/bench.json" >"$work/bench.txt" 2>&1 || { cat "$work/bench.txt" >&2; fail "kafka bench"; }
    grep -q '"ok": false' "$work/bench.json" && fail "kafka bench: a run did not see every decision"
    # The result file parses, and every paced run breaks its p99 down by second.
    python3 - "$work/bench.json" <<'PY' || fail "kafka bench: a bad result file"
import json, sys
runs = json.load(open(sys.argv[1]))["benchmarks"]
assert [r["name"] for r in runs] == ["kafka_e2e/flood", "kafka_e2e/paced", "kafka_e2e/paced_low"], runs
for r in runs:
    paced = r["offered_per_second"] > 0
    assert bool(r["p99_ms_per_second"]) == paced, r
    assert all(0 < v <= r["max_ms"] for v in r["p99_ms_per_second"]), r
PY
    grep kafka_e2e "$work/bench.txt" >&2
    ;;
  *) fail "unknown scenario $scenario" ;;
  esac
done
say "ok"
