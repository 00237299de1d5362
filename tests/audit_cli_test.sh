#!/usr/bin/env bash
# kase audit end to end on the demo month: verify (intact, then a flipped
# byte), history (JSON lines and CSV), state, explain, usage errors, and no
# progress output on a pipe.
set -euo pipefail
kase="$1"
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
fail() { echo "audit_cli_test: $*" >&2; exit 1; }

"$kase" demo --data "$dir/data" > /dev/null
"$kase" audit verify --data "$dir/data" > "$dir/verify.txt" 2> "$dir/verify.err" || fail "verify of the demo exited $?"
grep -q '^verify ok: ' "$dir/verify.txt" || fail "verify did not say ok"
[ ! -s "$dir/verify.err" ] || fail "progress or noise on stderr through a pipe: $(cat "$dir/verify.err")"

# History: JSON lines for a client, CSV with a header and the same rows.
"$kase" audit history --data "$dir/data" --client INST-ROADS > "$dir/h.jsonl" || fail "history exited $?"
n=$(wc -l < "$dir/h.jsonl")
[ "$n" -gt 100 ] || fail "history has only $n lines"
python3 -c 'import json,sys; [json.loads(l) for l in open(sys.argv[1])]' "$dir/h.jsonl" || fail "history is not JSON lines"
"$kase" audit history --data "$dir/data" --client INST-ROADS --csv > "$dir/h.csv"
[ "$(wc -l < "$dir/h.csv")" -eq $((n + 1)) ] || fail "CSV rows differ from JSON lines"
head -1 "$dir/h.csv" | grep -q '^partition,offset,time,request_id' || fail "CSV header"
"$kase" audit history --data "$dir/data" --client INST-ROADS --from 2026-11-10T00:00Z --to 2026-11-10T23:59Z > "$dir/day.jsonl"
[ "$(wc -l < "$dir/day.jsonl")" -lt "$n" ] || fail "--from/--to did not narrow the history"
grep -v -q '"time":"2026-11-10T' "$dir/day.jsonl" && fail "--from/--to let other days through"

# Explain the first daily-limit rejection.
id=$(grep -m1 'limit.daily_exceeded' "$dir/h.jsonl" | python3 -c 'import json,sys; print(json.load(sys.stdin)["request_id"])')
"$kase" audit explain "$id" --data "$dir/data" > "$dir/explain.txt" || fail "explain exited $?"
grep -q 'FAIL limit.daily (R9): day total .* > daily limit' "$dir/explain.txt" || fail "explain lacks the daily limit check"
grep -q 'equal to the stored decision' "$dir/explain.txt" || fail "explain did not compare with the stored decision"
"$kase" audit explain "$id" --data "$dir/data" --json | python3 -c 'import json,sys; d=json.load(sys.stdin); assert d["equal_to_stored"]' \
  || fail "explain --json"
set +e
"$kase" audit explain no-such-id --data "$dir/data" > /dev/null 2>&1; rc=$?
set -e
[ "$rc" -eq 1 ] || fail "explain of an unknown id exited $rc, want 1"

# State at a time and at an offset.
"$kase" audit state --data "$dir/data" --at 2026-11-15T00:00Z | grep -q '"summary"' || fail "state --at"
"$kase" audit state --data "$dir/data" --offset 100 --client INST-ROADS | grep -q '"records_folded":101' || fail "state --offset"

# Usage errors.
for args in "audit" "audit verify" "audit history --data $dir/data" "audit state --data $dir/data" \
            "audit history --data $dir/data --person a --client b" "audit nope --data $dir/data"; do
  set +e
  # shellcheck disable=SC2086
  "$kase" $args > /dev/null 2>&1; rc=$?
  set -e
  [ "$rc" -eq 2 ] || fail "'kase $args' exited $rc, want 2"
done

# A flipped byte in a log segment file is never reported intact.
cp -r "$dir/data" "$dir/bad"
f=$(find "$dir/bad" -name '*.kseg' | sort | head -1)
size=$(stat -c %s "$f")
python3 - "$f" $((size / 2)) <<'PY'
import sys
path, pos = sys.argv[1], int(sys.argv[2])
with open(path, "r+b") as f:
    f.seek(pos); b = f.read(1); f.seek(pos); f.write(bytes([b[0] ^ 0x10]))
PY
set +e
"$kase" audit verify --data "$dir/bad" > "$dir/bad.txt" 2>&1; rc=$?
set -e
[ "$rc" -ne 0 ] || fail "a flipped byte in $(basename "$f") was reported intact"
[ "$rc" -eq 1 ] || [ "$rc" -eq 3 ] || fail "verify of a damaged directory exited $rc"
echo "audit_cli_test: ok"
