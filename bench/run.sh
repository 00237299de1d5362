#!/usr/bin/env bash
# Rebuilds the release benchmarks and regenerates bench/results/*.json and the
# results table in bench/README.md.
#
#   bench/run.sh                 # full run, pinned to CPU 1
#   KASE_BENCH_CPU=0 bench/run.sh
#   KASE_BENCH_REPS=3 bench/run.sh
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
cmake --build "$build" -j"$jobs" --target kase_hot_path_bench kase_e2e_bench

commit="$(git -C "$root" rev-parse --short HEAD)"
if [ -n "$(git -C "$root" status --porcelain -- engine events projections adapters bench CMakeLists.txt)" ]; then
  commit="$commit-dirty"
fi
cpu_model="$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
mkdir -p "$results"

run() {  # run <binary> <output json>
  taskset -c "$cpu" "$build/bench/$1" \
    --benchmark_repetitions="$reps" --benchmark_report_aggregates_only=true \
    --benchmark_out="$results/$2" --benchmark_out_format=json \
    --benchmark_context=commit="$commit" --benchmark_context=cpu_model="$cpu_model" \
    --benchmark_context=nproc="$(nproc)" --benchmark_context=pinned_cpu="$cpu"
}
run kase_hot_path_bench hot_path.json
run kase_e2e_bench e2e_embedded.json

python3 - "$root/bench/README.md" "$results/hot_path.json" "$results/e2e_embedded.json" <<'PY'
import json, re, sys
readme, *files = sys.argv[1:]
targets = {  # items (decisions or requests) per second, one core
    "hot_path/sign_preverified": 2_000_000,
    "hot_path/sign_with_verifier": 2_000_000,
    "e2e_embedded/submit_quiet_sync": 300_000,
    "e2e_embedded/submit_quiet_nosync": None,
}
rows = ["| benchmark | median | target | ratio to target | date | machine | commit |",
        "|---|---|---|---|---|---|---|"]
for f in files:
    d = json.load(open(f))
    c = d["context"]
    machine = f'{c.get("nproc", c.get("num_cpus"))} CPUs, {c.get("cpu_model", "?")}, pinned to CPU {c.get("pinned_cpu", "?")}'
    for b in d["benchmarks"]:
        if b.get("aggregate_name") != "median":
            continue
        name = re.sub(r"(/min_time:[^/]*)?/manual_time.*$", "", b["run_name"])
        rate = b["items_per_second"]
        t = targets.get(name)
        unit = "decisions/s" if name.startswith("hot_path") else "requests/s"
        rows.append(f'| `{name}` | {rate:,.0f} {unit} | {f"{t:,} {unit}" if t else "(comparison)"} | '
                    f'{f"{rate / t:.2f}" if t else "–"} | {c["date"][:10]} | {machine} | {c.get("commit", "?")} |')
table = "\n".join(rows)
text = open(readme).read()
text = re.sub(r"(<!-- results:begin -->\n).*?(<!-- results:end -->)", lambda m: m.group(1) + table + "\n" + m.group(2),
              text, flags=re.S)
open(readme, "w").write(text)
print(table)
PY
