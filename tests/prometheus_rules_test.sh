#!/usr/bin/env bash
# The operations files: ops/prometheus (promtool check config, check rules, and
# test rules with a unit test for every alert) and the Grafana dashboard
# (valid JSON, equal to what its generator writes). Fails, never skips, when
# promtool is missing.
#   usage: prometheus_rules_test.sh SOURCE_DIR
set -euo pipefail
src="$1"
fail() { echo "prometheus_rules_test: FAIL: $*" >&2; exit 1; }
promtool=$(command -v promtool) || fail "no promtool on PATH: ops/install-deps installs the Debian package prometheus"
dir="$src/ops/prometheus"
"$promtool" check config "$dir/prometheus.yml" || fail "promtool check config"
"$promtool" check rules "$dir/rules/kase.yml" || fail "promtool check rules"
"$promtool" test rules "$dir/tests/kase_test.yml" || fail "promtool test rules"

# Every alert has a unit test, and every test names an alert that exists.
alerts=$(sed -n 's/^ *- alert: *\([A-Za-z0-9_]*\).*/\1/p' "$dir/rules/kase.yml" | sort -u)
tested=$(sed -n 's/^ *alertname: *\([A-Za-z0-9_]*\).*/\1/p' "$dir/tests/kase_test.yml" | sort -u)
[ "$(echo "$alerts" | wc -l)" -ge 7 ] || fail "expected at least 7 alerts, found: $alerts"
for a in $alerts; do
  grep -qx "$a" <<<"$tested" || fail "alert $a has no unit test in $dir/tests/kase_test.yml"
  # ...and one where it must fire.
  grep -A2 "alertname: $a\$" "$dir/tests/kase_test.yml" | grep -q "exp_labels" ||
    grep -A3 "alertname: $a\$" "$dir/tests/kase_test.yml" | grep -q "exp_alerts:$" ||
    fail "alert $a is never expected to fire in a test"
done
for t in $tested; do
  grep -qx "$t" <<<"$alerts" || fail "a test names $t, which is no alert"
done
echo "alerts with unit tests: $(echo $alerts)"

# The Grafana dashboard: valid JSON, and what ops/grafana/make_dashboard.py writes.
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
python3 -m json.tool "$src/ops/grafana/kase.json" > /dev/null || fail "ops/grafana/kase.json is not valid JSON"
python3 "$src/ops/grafana/make_dashboard.py" "$work/kase.json"
cmp -s "$work/kase.json" "$src/ops/grafana/kase.json" ||
  fail "ops/grafana/kase.json differs from what make_dashboard.py writes: run it and commit both"
echo "prometheus_rules_test: ok"
