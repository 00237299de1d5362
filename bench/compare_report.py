#!/usr/bin/python3
"""Merges bench/compare's per-scale runs into compare.json and
compare_scale.json, draws one PNG per figure, and (with --readme) rewrites
the table between <!-- compare:begin --> and <!-- compare:end -->."""
import argparse
import datetime
import json
import os
import re
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

LABELS = {"kase_embedded": "kase, embedded log", "kase_kafka": "kase, Kafka", "postgres": "PostgreSQL",
          "postgres_wide": "PostgreSQL, per-account order"}
COLORS = {"kase_embedded": "#1f77b4", "kase_kafka": "#2ca02c", "postgres": "#d62728", "postgres_wide": "#ff7f0e"}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out-dir", required=True)
    ap.add_argument("--readme", default="")
    ap.add_argument("--commit", default="?")
    ap.add_argument("--cpu", default="?")
    ap.add_argument("--nproc", default="0")
    ap.add_argument("--pg-version", default="")
    ap.add_argument("--load", default="", help="load averages during the run (/proc/loadavg at start and end)")
    ap.add_argument("--replot", action="store_true",
                    help="redraw the plots and the table from OUT_DIR/compare_scale.json (no runs)")
    ap.add_argument("runs", nargs="*")
    a = ap.parse_args()

    if a.replot:
        saved = json.load(open(os.path.join(a.out_dir, "compare_scale.json")))
        runs = saved["runs"]
        context = saved["context"]
        draw(a, runs, context)
        return
    if not a.runs:
        sys.exit("compare_report: no runs given")
    runs = [json.load(open(r)) for r in a.runs]
    for r in runs:
        if not r["decisions_equal"] or not all(s["ok"] for s in r["systems"]):
            sys.exit(f"compare_report: scale {r['scale']}x did not pass; nothing written")
    date = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d")
    context = {"date": date, "commit": a.commit, "cpu_model": a.cpu, "nproc": int(a.nproc),
               "postgresql": a.pg_version, "load_average": a.load}
    json.dump({"context": context, **runs[0]}, open(os.path.join(a.out_dir, "compare.json"), "w"), indent=1)
    json.dump({"context": context, "runs": runs}, open(os.path.join(a.out_dir, "compare_scale.json"), "w"), indent=1)
    draw(a, runs, context)


def draw(a, runs, context):
    date, commit = context["date"], context["commit"]
    base = runs[0]

    systems = [s["system"] for s in base["systems"]]
    # Figure 1: throughput per system at 1x.
    fig, ax = plt.subplots(figsize=(6, 3.6))
    rates = [s["requests_per_second"] for s in base["systems"]]
    bars = ax.bar([LABELS[s].replace(", ", ",\n") for s in systems], rates, color=[COLORS[s] for s in systems])
    ax.tick_params(axis="x", labelsize=8)
    for b, v in zip(bars, rates):
        ax.annotate(f"{v:,.0f}/s", (b.get_x() + b.get_width() / 2, v), ha="center", va="bottom", fontsize=9)
    ax.set_yscale("log")
    ax.set_ylabel("requests/s (log scale)")
    ax.set_title(f"Throughput, {base['requests']:,} requests, {base['clients']} clients ({date}, {commit})",
                 fontsize=9)
    fig.tight_layout()
    fig.savefig(os.path.join(a.out_dir, "compare_throughput.png"), dpi=110)
    plt.close(fig)

    # Figure 2: p50 and p99 latency per system at 1x: paced (below every
    # system's capacity) and flood (at capacity, bounded window).
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8))
    x = range(len(systems))
    for ax, prefix, title in ((axes[0], "paced_", f"offered {base['systems'][0]['paced_offered_per_second']:,.0f}/s"),
                              (axes[1], "", f"flood, at most {base['window']:,} in flight")):
        p50 = [s[prefix + "p50_ms"] for s in base["systems"]]
        p99 = [s[prefix + "p99_ms"] for s in base["systems"]]
        ax.bar([i - 0.2 for i in x], p50, width=0.4, color=[COLORS[s] for s in systems], alpha=0.5)
        ax.bar([i + 0.2 for i in x], p99, width=0.4, color=[COLORS[s] for s in systems])
        for i, (a50, a99) in enumerate(zip(p50, p99)):
            ax.annotate(f"{a50:.1f}", (i - 0.2, a50), ha="center", va="bottom", fontsize=7)
            ax.annotate(f"{a99:.1f}", (i + 0.2, a99), ha="center", va="bottom", fontsize=7)
        ax.set_xticks(list(x), [LABELS[s].replace(", ", ",\n") for s in systems], fontsize=7)
        ax.set_yscale("log")
        ax.set_ylabel("ms to the durable decision (log)")
        ax.set_title(f"{title} (light p50, dark p99)", fontsize=9)
    fig.tight_layout()
    fig.savefig(os.path.join(a.out_dir, "compare_latency.png"), dpi=110)
    plt.close(fig)

    # Figure 3: throughput as users and accounts grow.
    fig, ax = plt.subplots(figsize=(6, 3.6))
    for s in systems:
        have = [r for r in runs if any(t["system"] == s for t in r["systems"])]
        if len(have) < 2:
            continue  # measured at one scale only (postgres_wide)
        xs = [r["grants"] for r in have]
        ys = [next(t for t in r["systems"] if t["system"] == s)["requests_per_second"] for r in have]
        ax.plot(xs, ys, marker="o", label=LABELS[s], color=COLORS[s])
        for r, xv, yv in zip(have, xs, ys):
            ax.annotate(f"{r['scale']}x", (xv, yv), textcoords="offset points", xytext=(4, 4), fontsize=8)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("grants (users x accounts), log")
    ax.set_ylabel("requests/s, log")
    ax.set_title("Throughput as users and accounts grow", fontsize=9)
    ax.set_ylim(top=ax.get_ylim()[1] * 3)
    ax.legend(fontsize=8, loc="upper left", ncol=3)
    fig.tight_layout()
    fig.savefig(os.path.join(a.out_dir, "compare_scale.png"), dpi=110)
    plt.close(fig)

    # Figure 4: bytes per grant and per order.
    # Memory at the largest scale: the fixed costs of the tables weigh least there.
    big = runs[-1]
    mem = {s["system"]: s for s in big["systems"] if "bytes_per_grant" in s}
    if mem:
        fig, ax = plt.subplots(figsize=(6, 3.6))
        names = list(mem)
        g = [mem[n]["bytes_per_grant"] for n in names]
        o = [mem[n].get("bytes_per_open_order", mem[n].get("bytes_per_order", 0)) for n in names]
        xi = range(len(names))
        ax.bar([i - 0.2 for i in xi], g, width=0.4, label="per grant")
        ax.bar([i + 0.2 for i in xi], o, width=0.4, label="per order")
        ax.set_xticks(list(xi), [LABELS[n] + ("\n(engine heap)" if n.startswith("kase") else "\n(tables + indexes)")
                                 for n in names])
        ax.set_ylabel("bytes")
        ax.legend(fontsize=8)
        ax.set_title(f"Memory per grant and per order at {big['scale']}x ({big['grants']:,} grants)", fontsize=9)
        fig.tight_layout()
        fig.savefig(os.path.join(a.out_dir, "compare_memory.png"), dpi=110)
        plt.close(fig)

    machine = f"{context['nproc']} CPUs, {context['cpu_model']}"
    paced = base["systems"][0]["paced_offered_per_second"]
    rows = [f"| system | requests/s | p50 | p99 | kase / PostgreSQL | paced {paced:,.0f}/s: p50 | p99 | date | machine | commit |",
            "|---|---|---|---|---|---|---|---|---|---|"]
    for s in base["systems"]:
        ratio = "–" if s["system"].startswith("postgres") else f'{s["ratio_to_postgres"]:.1f}×'
        rows.append(f'| {LABELS[s["system"]]} | {s["requests_per_second"]:,.0f} | {s["p50_ms"]:,.1f} ms | '
                    f'{s["p99_ms"]:,.1f} ms | {ratio} | {s["paced_p50_ms"]:.1f} ms | {s["paced_p99_ms"]:.1f} ms | '
                    f'{date} | {machine} | {commit} |')
    scaled = [s for s in systems if all(any(t["system"] == s for t in r["systems"]) for r in runs)]
    rows += ["", "| scale | clients | accounts | users | grants | " + " | ".join(LABELS[s] + " req/s" for s in scaled) +
             " | kase embedded / PostgreSQL |", "|---" * (6 + len(scaled)) + "|"]
    for r in runs:
        by = {t["system"]: t for t in r["systems"]}
        cells = " | ".join(f'{by[s]["requests_per_second"]:,.0f}' for s in scaled)
        ratio = (f'{by["kase_embedded"]["requests_per_second"] / by["postgres"]["requests_per_second"]:.1f}×'
                 if "kase_embedded" in by and "postgres" in by else "–")
        users = f'{r["users"]:,}' if "users" in r else "–"
        rows.append(f'| {r["scale"]}× | {r["clients"]} | {r["payment_accounts"]:,} | {users} | {r["grants"]:,} | '
                    f'{cells} | {ratio} |')
    if mem:
        rows += ["", f"Memory at {big['scale']}× ({big['grants']:,} grants):", "",
                 "| system | bytes per grant | bytes per order | how measured |", "|---|---|---|---|"]
        for n in names:
            if n.startswith("kase"):
                rows.append(f'| {LABELS[n]} | {mem[n]["bytes_per_grant"]:,.0f} | '
                            f'{mem[n]["bytes_per_open_order"]:,.0f} (open) | engine heap (mallinfo2) after the setup, '
                            f'then after {mem[n]["memory_orders"]:,.0f} prepared orders |')
            else:
                rows.append(f'| {LABELS[n]} | {mem[n]["bytes_per_grant"]:,.0f} | {mem[n]["bytes_per_order"]:,.0f} | '
                            'pg_total_relation_size after VACUUM: grants + limit changes per grant; '
                            'orders + day totals per order |')
    if context.get("load_average"):
        rows += ["", f"Load average (1, 5, 15 min) of the shared machine during the run: {context['load_average']}."]
    table = "\n".join(rows)
    print(table)
    if a.readme:
        text = open(a.readme).read()
        if "<!-- compare:begin -->" not in text:
            sys.exit("compare_report: no <!-- compare:begin --> marker in " + a.readme)
        text = re.sub(r"(<!-- compare:begin -->\n).*?(<!-- compare:end -->)",
                      lambda m: m.group(1) + table + "\n" + m.group(2), text, flags=re.S)
        open(a.readme, "w").write(text)


if __name__ == "__main__":
    main()
