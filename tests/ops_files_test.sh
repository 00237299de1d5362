#!/usr/bin/env bash
# ops/systemd: the unit passes only variables the example configuration sets,
# every option the configuration names is one `kase run` knows, and kase starts
# with the configuration's limits (over plain HTTP on 127.0.0.1, in a temporary
# directory), serves its metrics, and stops cleanly on SIGTERM.
#   usage: ops_files_test.sh KASE SOURCE_DIR
set -euo pipefail
kase="$1"
src="$2"
unit="$src/ops/systemd/kase.service"
env="$src/ops/systemd/kase.env"
work=$(mktemp -d)
pid=""
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$work"' EXIT
fail() { echo "ops_files_test: FAIL: $*" >&2; [ -f "$work/kase.log" ] && tail -20 "$work/kase.log" >&2; exit 1; }

exec_start=$(sed -n 's/^ExecStart=//p' "$unit")
[ -n "$exec_start" ] || fail "no ExecStart in $unit"
for var in $(grep -o '\$[A-Z_]*' <<<"$exec_start" | tr -d '$'); do
  grep -q "^$var=" "$env" || fail "$unit passes \$$var, which $env does not set"
done
grep -q '^EnvironmentFile=/etc/kase/kase.env$' "$unit" || fail "the unit does not read /etc/kase/kase.env"

"$kase" help > "$work/help.txt"
# Options on set lines and on commented examples (#KASE_...=).
for opt in $(grep -E '^#?KASE_[A-Z_]+=' "$env" | grep -oE -- '--[a-z][a-z-]*' | sort -u); do
  grep -qE -- "(^|[][ ,(])$opt([][ =,)]|$)" "$work/help.txt" || fail "$env names $opt, which kase help does not list"
done

# The configuration's limits, as kase reads them.
options=$(sed -n 's/^KASE_OPTIONS=//p' "$env")
[ -n "$options" ] || fail "no KASE_OPTIONS in $env"
# shellcheck disable=SC2086
"$kase" run --data="$work/data" --listen=127.0.0.1:0 --plain-http --metrics=127.0.0.1:0 $options > "$work/kase.log" 2>&1 &
pid=$!
metrics=""
for _ in $(seq 1 100); do
  metrics=$(grep -o 'metrics on http://127.0.0.1:[0-9]*/metrics' "$work/kase.log" | sed 's/metrics on //' || true)
  [ -n "$metrics" ] && break
  kill -0 "$pid" 2>/dev/null || fail "kase run exited with the configuration's options"
  sleep 0.1
done
[ -n "$metrics" ] || fail "kase run did not start"
# The first scrape may come while the engine thread is still opening the
# store (it answers 503 then, as Prometheus would retry): up to 10 s.
got=""
for _ in $(seq 1 100); do
  code=$(curl -s -o "$work/metrics.txt" -w '%{http_code}' "$metrics" || true)
  [ "$code" = 200 ] && got=1 && break
  sleep 0.1
done
[ -n "$got" ] || fail "no metrics at $metrics (last answer: HTTP ${code:-none})"
grep -q '^kase_info{mode="embedded"} 1$' "$work/metrics.txt" || fail "no kase_info in the metrics at $metrics"
kill -TERM "$pid"
rc=0
wait "$pid" || rc=$?
pid=""
[ "$rc" -eq 0 ] || fail "kase run exited $rc on SIGTERM"
echo "ops_files_test: ok"
