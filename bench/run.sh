#!/usr/bin/env bash
# Rebuilds the release benchmarks and regenerates bench/results/*.json and the
# results table in bench/README.md.
#
#   bench/run.sh                 # full run, pinned to CPU 1
#   KASE_BENCH_CPU=0 bench/run.sh
#   KASE_BENCH_REPS=3 bench/run.sh
#   bench/run.sh kafka           # only the Kafka end to end (starts a broker)
#   bench/run.sh http            # only HTTPS on the embedded log (not pinned)
#   bench/run.sh replay          # only the audit replay (pinned); rewrites the table
#   bench/run.sh core            # only the hot path and the embedded end to end (pinned)
#
# Environment: KASE_BENCH_BUILD (build dir, default build/bench-rel),
# KASE_BENCH_JOBS (default 2), KASE_BENCH_DIR (RocksDB scratch, default $TMPDIR).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${KASE_BENCH_BUILD:-$root/build/bench-rel}"
cpu="${KASE_BENCH_CPU:-1}"
reps="${KASE_BENCH_REPS:-5}"
jobs="${KASE_BENCH_JOBS:-2}"
results="$root/bench/results"

cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_CXX_FLAGS="-O2 -g1" >/dev/null
if [ "${1:-}" = "kafka" ] || [ "${1:-}" = "http" ] || [ "${1:-}" = "replay" ]; then  # only what that mode runs
  cmake --build "$build" -j"$jobs" --target "kase_${1}_bench"
elif [ "${1:-}" = "core" ]; then
  cmake --build "$build" -j"$jobs" --target kase_hot_path_bench kase_e2e_bench
else
  cmake --build "$build" -j"$jobs" --target kase_hot_path_bench kase_e2e_bench kase_replay_bench kase_kafka_bench \
    kase_http_bench
fi

commit="$(git -C "$root" rev-parse --short HEAD)"
# The results and the table this script writes do not make a build dirty.
if [ -n "$(git -C "$root" status --porcelain -- engine events projections adapters bench CMakeLists.txt \
  ':!bench/results' ':!bench/README.md')" ]; then
  commit="$commit-dirty"
fi
cpu_model="$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
mkdir -p "$results"

run() {  # run <binary> <output json> [CPUS [FILTER]]: pinned to one CPU unless CPUS says more
  local cpus="${3:-$cpu}"
  taskset -c "$cpus" "$build/bench/$1" \
    --benchmark_repetitions="$reps" --benchmark_report_aggregates_only=true \
    --benchmark_filter="${4:-.}" \
    --benchmark_out="$results/$2" --benchmark_out_format=json \
    --benchmark_context=commit="$commit" --benchmark_context=cpu_model="$cpu_model" \
    --benchmark_context=nproc="$(nproc)" --benchmark_context=pinned_cpu="$cpus"
}
replay() {  # the audit replay: one core, and `kase audit verify`'s two threads on two
  run kase_replay_bench replay_embedded.json "$cpu" '^replay_embedded/(verify|fold|state|scan)$'
  run kase_replay_bench replay_two_threads.json "0-$(( $(nproc) > 1 ? 1 : 0 ))" 'verify_two_threads'
}
kafka() {
  # Through a real broker (ops/kafka/broker), a fresh one per repetition;
  # the medians of the repetitions go to bench/results/kafka_e2e.json.
  local kdir runs=() i
  kdir="$(mktemp -d)"
  for i in $(seq 1 "${KASE_BENCH_KAFKA_REPS:-3}"); do
    local b
    b=$("$root/ops/kafka/broker" start --dir "$kdir/broker" --port "${KASE_BENCH_KAFKA_PORT:-29592}" 2>/dev/null)
    # The machine is shared: the 1-minute load average before and after each
    # repetition goes into the result file.
    cut -d' ' -f1 /proc/loadavg >>"$kdir/load"
    "$build/bench/kase_kafka_bench" --brokers "$b" --data "$kdir/data-$i" \
      --requests "${KASE_BENCH_KAFKA_REQUESTS:-400000}" --out "$kdir/run-$i.json" 2>/dev/null
    cut -d' ' -f1 /proc/loadavg >>"$kdir/load"
    "$root/ops/kafka/broker" stop --dir "$kdir/broker" >/dev/null 2>&1
    runs+=("$kdir/run-$i.json")
  done
  python3 - "$root/bench/README.md" "$results/kafka_e2e.json" "$commit" "$cpu_model" "$kdir/load" "${runs[@]}" <<'PY'
import json, re, statistics, sys, datetime
readme, out, commit, cpu, load, *runs = sys.argv[1:]
loads = [float(x) for x in open(load).read().split()]
data = [json.load(open(r)) for r in runs]
names = [b["name"] for b in data[0]["benchmarks"]]
med = []
for n in names:
    rs = [b for d in data for b in d["benchmarks"] if b["name"] == n]
    m = {k: statistics.median(r[k] for r in rs) for k in ("requests_per_second", "p50_ms", "p99_ms", "max_ms")}
    m.update(name=n, requests=rs[0]["requests"], offered_per_second=rs[0]["offered_per_second"],
             ok=all(r["ok"] for r in rs), repetitions=len(rs))
    # Paced runs: the median over the repetitions of each second's p99.
    seconds = [r.get("p99_ms_per_second", []) for r in rs]
    m["p99_ms_per_second"] = [statistics.median(s[i] for s in seconds) for i in range(min(map(len, seconds)))]
    med.append(m)
date = datetime.date.today().isoformat()
json.dump({"context": {"date": date, "commit": commit, "cpu_model": cpu, "nproc": 2,
                       "broker": "Apache Kafka 3.9.1, one node, 127.0.0.1",
                       "load_average_1m_before_after": [loads[i:i + 2] for i in range(0, len(loads), 2)],
                       "runs": [d for d in data]},
           "medians": med}, open(out, "w"), indent=1)
rows = ["| benchmark | requests/s | p50 | p99 | p99 by second sent | target | date | commit | load average |",
        "|---|---|---|---|---|---|---|---|---|"]
load_range = f"{min(loads):.1f}–{max(loads):.1f}" if loads else "?"
def by_second(m):
    return " / ".join(f"{v:.0f}" for v in m["p99_ms_per_second"]) + " ms" if m["p99_ms_per_second"] else "–"
for m in med:
    offered = f' (offered {m["offered_per_second"]:,.0f}/s)' if m["offered_per_second"] else " (all at once)"
    rows.append(f'| `{m["name"]}`{offered} | {m["requests_per_second"]:,.0f} | {m["p50_ms"]:.1f} ms | '
                f'{m["p99_ms"]:.1f} ms | {by_second(m)} | 50,000/s with p99 < 50 ms | {date} | {commit} | {load_range} |')
table = "\n".join(rows)
text = open(readme).read()
text = re.sub(r"(<!-- kafka:begin -->\n).*?(<!-- kafka:end -->)", lambda mm: mm.group(1) + table + "\n" + mm.group(2),
              text, flags=re.S)
open(readme, "w").write(text)
print(table)
PY
  rm -rf "$kdir"
}
if [ "${1:-}" = "kafka" ]; then
  kafka
  exit 0
fi
http_bench() {
# HTTPS: the clients and the server share the cores, so this one is not pinned.
"$build/bench/kase_http_bench" --benchmark_repetitions="${KASE_BENCH_HTTP_REPS:-3}" \
  --benchmark_out="$results/http_embedded.json" --benchmark_out_format=json \
  --benchmark_context=commit="$commit" --benchmark_context=cpu_model="$cpu_model" \
  --benchmark_context=nproc="$(nproc)" --benchmark_context=load_average_1m="$(cut -d' ' -f1 /proc/loadavg)"
python3 - "$root/bench/README.md" "$results/http_embedded.json" <<'PY'
import json, re, statistics, sys
readme, f = sys.argv[1:]
d = json.load(open(f))
c = d["context"]
runs = [b for b in d["benchmarks"] if b.get("run_type") == "iteration"]
med = lambda k: statistics.median(b[k] for b in runs)
rows = ["| benchmark | requests/s | p50 | p99 | connections | date | machine | commit |",
        "|---|---|---|---|---|---|---|---|",
        f'| `http_embedded/post_keepalive_tls` (median of {len(runs)}) | {med("items_per_second"):,.0f} | '
        f'{med("p50_ms"):.2f} ms | {med("p99_ms"):.2f} ms | {runs[0]["connections"]:.0f} | {c["date"][:10]} | '
        f'{c.get("nproc")} CPUs, {c.get("cpu_model", "?")}, load {c.get("load_average_1m", "?")} | {c.get("commit", "?")} |']
table = "\n".join(rows)
text = open(readme).read()
text = re.sub(r"(<!-- http:begin -->\n).*?(<!-- http:end -->)", lambda m: m.group(1) + table + "\n" + m.group(2),
              text, flags=re.S)
open(readme, "w").write(text)
print(table)
PY
}
if [ "${1:-}" = "http" ]; then
  http_bench
  exit 0
fi

table() {  # the results table of README.md from the three JSON files
python3 - "$root/bench/README.md" "$results/hot_path.json" "$results/e2e_embedded.json" \
  "$results/replay_embedded.json" "$results/replay_two_threads.json" <<'PY'
import json, re, sys
readme, *files = sys.argv[1:]
targets = {  # items (decisions or requests) per second, one core
    "hot_path/sign_preverified": 2_000_000,
    "hot_path/sign_with_verifier": 2_000_000,
    "e2e_embedded/submit_quiet_sync": 300_000,
    "e2e_embedded/submit_quiet_nosync": None,
    "replay_embedded/verify": 1_000_000,  # issue 7: audit replay, first target
    "replay_embedded/fold": None,
    "replay_embedded/state": 1_000_000,
    "replay_embedded/scan": None,
    "replay_embedded/verify_two_threads": None,  # two cores: the target is for one
}
rows = ["| benchmark | median | target | ratio to target | date | machine | commit |",
        "|---|---|---|---|---|---|---|"]
for f in files:
    try:
        d = json.load(open(f))
    except FileNotFoundError:
        continue
    c = d["context"]
    pinned = str(c.get("pinned_cpu", "?"))
    machine = (f'{c.get("nproc", c.get("num_cpus"))} CPUs, {c.get("cpu_model", "?")}, pinned to '
               f'{"CPUs" if "-" in pinned or "," in pinned else "CPU"} {pinned}')
    for b in d["benchmarks"]:
        if b.get("aggregate_name") != "median":
            continue
        name = re.sub(r"(/min_time:[^/]*)?/(manual|real)_time.*$", "", b["run_name"])
        rate = b["items_per_second"]
        t = targets.get(name)
        unit = "decisions/s" if name.startswith("hot_path") else "records/s" if name.startswith("replay") else "requests/s"
        rows.append(f'| `{name}` | {rate:,.0f} {unit} | {f"{t:,} {unit}" if t else "(comparison)"} | '
                    f'{f"{rate / t:.2f}" if t else "–"} | {c["date"][:10]} | {machine} | {c.get("commit", "?")} |')
table = "\n".join(rows)
text = open(readme).read()
text = re.sub(r"(<!-- results:begin -->\n).*?(<!-- results:end -->)", lambda m: m.group(1) + table + "\n" + m.group(2),
              text, flags=re.S)
open(readme, "w").write(text)
print(table)
PY
}
if [ "${1:-}" = "replay" ]; then
  replay
  table
  exit 0
fi
if [ "${1:-}" = "core" ]; then
  run kase_hot_path_bench hot_path.json
  run kase_e2e_bench e2e_embedded.json
  table
  exit 0
fi

run kase_hot_path_bench hot_path.json
run kase_e2e_bench e2e_embedded.json
replay
table
http_bench
kafka
