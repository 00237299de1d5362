#!/usr/bin/env python3
"""Writes kase.json, the Grafana dashboard over kase's metrics.

The JSON is generated so that the panels stay consistent; edit this file and
run it (python3 ops/grafana/make_dashboard.py [OUT]), then commit both. Tests
(ctest ops.prometheus, kase_metrics_tests) check that kase.json is what this
writes, and that every metric the dashboard and the alert
rules name is one kase exposes.
"""
import json
import pathlib
import sys

DS = {"type": "prometheus", "uid": "${datasource}"}
SEL = 'job="kase",instance=~"$instance"'

panels = []
y = 0
next_id = 1


def row(title):
    global y, next_id
    panels.append({"type": "row", "title": title, "id": next_id, "collapsed": False,
                   "gridPos": {"h": 1, "w": 24, "x": 0, "y": y}, "panels": []})
    next_id += 1
    y += 1


def panel(kind, title, targets, x, w, h=8, unit=None, description=None, stack=False):
    global next_id
    p = {"type": kind, "title": title, "id": next_id, "datasource": DS,
         "gridPos": {"h": h, "w": w, "x": x, "y": y},
         "targets": [{"datasource": DS, "refId": chr(ord("A") + i), "expr": expr, "legendFormat": legend}
                     for i, (expr, legend) in enumerate(targets)],
         "fieldConfig": {"defaults": {}, "overrides": []}, "options": {}}
    if unit:
        p["fieldConfig"]["defaults"]["unit"] = unit
    if description:
        p["description"] = description
    if stack:
        p["fieldConfig"]["defaults"]["custom"] = {"stacking": {"mode": "normal"}}
    next_id += 1
    panels.append(p)


def line_end(h=8):
    global y
    y += h


# ---- Overview ----
row("Overview")
panel("stat", "Nodes up", [(f'sum(up{{{SEL}}})', "up")], 0, 4, description="Scraped kase nodes answering.")
panel("stat", "Requests/s", [(f'sum(rate(kase_requests_total{{{SEL}}}[5m]))', "requests/s")], 4, 5, unit="reqps")
panel("stat", "Rejected share", [(f'sum(rate(kase_requests_total{{{SEL},outcome="rejected"}}[5m])) / '
                                   f'sum(rate(kase_requests_total{{{SEL}}}[5m]))', "rejected")], 9, 5,
      unit="percentunit")
panel("stat", "p99 intake to decision",
      [(f'histogram_quantile(0.99, sum by (le) (rate(kase_decision_latency_seconds_bucket{{{SEL}}}[5m])))', "p99")],
      14, 5, unit="s")
panel("stat", "Partitions", [(f'sum(kase_partitions{{{SEL}}})', "partitions")], 19, 5,
      description="Ledgers owned: 1 for the embedded log, the assigned partitions on Kafka.")
line_end()
panel("timeseries", "Requests/s by outcome", [(f'sum by (outcome) (rate(kase_requests_total{{{SEL}}}[5m]))',
                                                "{{outcome}}")], 0, 12, unit="reqps", stack=True)
panel("timeseries", "Requests/s by service", [(f'sum by (service) (rate(kase_requests_total{{{SEL}}}[5m]))',
                                                "{{service}}")], 12, 12, unit="reqps", stack=True)
line_end()

# ---- Hot path ----
row("Hot path")
panel("timeseries", "Intake to decision", [
    (f'histogram_quantile(0.5, sum by (le) (rate(kase_decision_latency_seconds_bucket{{{SEL}}}[5m])))', "p50"),
    (f'histogram_quantile(0.99, sum by (le) (rate(kase_decision_latency_seconds_bucket{{{SEL}}}[5m])))', "p99")],
    0, 8, unit="s")
panel("timeseries", "Fold time per batch", [
    (f'histogram_quantile(0.99, sum by (le) (rate(kase_fold_seconds_bucket{{{SEL}}}[5m])))', "p99"),
    (f'sum(rate(kase_fold_seconds_sum{{{SEL}}}[5m])) / sum(rate(kase_fold_seconds_count{{{SEL}}}[5m]))', "mean")],
    8, 8, unit="s")
panel("timeseries", "Batch size", [
    (f'sum(rate(kase_batch_requests_sum{{{SEL}}}[5m])) / sum(rate(kase_batch_requests_count{{{SEL}}}[5m]))', "mean"),
    (f'histogram_quantile(0.99, sum by (le) (rate(kase_batch_requests_bucket{{{SEL}}}[5m])))', "p99")],
    16, 8, unit="none")
line_end()
panel("timeseries", "Payment orders/s by type and outcome",
      [(f'sum by (type, outcome) (rate(kase_requests_total{{{SEL},type=~"PaymentOrder.*|PaymentFromFile"}}[5m]))',
        "{{type}} {{outcome}}")], 0, 12, unit="reqps")
panel("timeseries", "Duplicates and unlogged input/s", [
    (f'sum(rate(kase_requests_duplicate_total{{{SEL}}}[5m]))', "duplicate ids"),
    (f'sum by (reason) (rate(kase_requests_unlogged_total{{{SEL}}}[5m]))', "{{reason}}")], 12, 12, unit="reqps")
line_end()

# ---- Kafka ----
row("Kafka")
panel("timeseries", "Consumer lag by partition",
      [(f'max by (partition) (kase_kafka_consumer_lag_messages{{{SEL}}})', "partition {{partition}}")], 0, 8,
      unit="none")
panel("timeseries", "Transaction commit", [
    (f'histogram_quantile(0.99, sum by (le) (rate(kase_kafka_transaction_commit_seconds_bucket{{{SEL}}}[5m])))', "p99"),
    (f'sum(rate(kase_kafka_transactions_total{{{SEL}}}[5m]))', "transactions/s")], 8, 8, unit="s")
panel("timeseries", "Aborts, dead letters, rebalances (per 10 min)", [
    (f'sum(increase(kase_kafka_transactions_aborted_total{{{SEL}}}[10m]))', "aborted"),
    (f'sum(increase(kase_kafka_dead_letters_total{{{SEL}}}[10m]))', "dead letters"),
    (f'sum(increase(kase_kafka_rebalances_total{{{SEL}}}[10m]))', "rebalances"),
    (f'sum(increase(kase_kafka_producer_restarts_total{{{SEL}}}[10m]))', "producer restarts")], 16, 8)
line_end()

# ---- Storage ----
row("Storage (RocksDB and the log)")
panel("timeseries", "Log", [(f'sum by (partition) (kase_log_bytes{{{SEL}}})', "bytes {{partition}}")], 0, 8,
      unit="bytes")
panel("timeseries", "Live data", [(f'sum by (partition) (kase_rocksdb_live_data_bytes{{{SEL}}})', "{{partition}}"),
                                  (f'sum(kase_rocksdb_live_sst_files_bytes{{{SEL}}})', "live SST files")], 8, 8,
      unit="bytes")
panel("timeseries", "Write stalls and compaction", [
    (f'sum(kase_rocksdb_write_stopped{{{SEL}}})', "writes stopped"),
    (f'sum(kase_rocksdb_compaction_pending{{{SEL}}})', "compaction pending"),
    (f'sum(increase(kase_rocksdb_write_stalls_total{{{SEL}}}[10m]))', "stalls / 10 min"),
    (f'sum(kase_rocksdb_delayed_write_rate_bytes_per_second{{{SEL}}})', "delayed write rate B/s")], 16, 8)
line_end()

# ---- Business rules ----
row("Business rules")
panel("timeseries", "Rejections/s by reason (top 10)",
      [(f'topk(10, sum by (reason) (rate(kase_requests_total{{{SEL},outcome="rejected"}}[5m])))', "{{reason}}")],
      0, 12, unit="reqps")
panel("timeseries", "R9 limit rejections/s",
      [(f'sum by (limit) (rate(kase_limit_rejections_total{{{SEL}}}[5m]))', "{{limit}} limit")], 12, 6, unit="reqps")
panel("heatmap", "R9 share of daily limit used",
      [(f'sum by (le) (increase(kase_daily_limit_used_ratio_bucket{{{SEL}}}[$__rate_interval]))', "{{le}}")],
      18, 6, description="After each accepted payment-order action that enters the user's day total.")
line_end()
panel("timeseries", "R28 users blocked by cause",
      [(f'sum by (cause, rule) (kase_users_blocked{{{SEL}}})', "{{cause}} ({{rule}})")], 0, 8, stack=True)
panel("timeseries", "R22 applications past their deadlines",
      [(f'sum by (step, rule, state) (kase_applications_past_deadline{{{SEL}}})', "{{step}} {{state}} ({{rule}})")],
      8, 8)
panel("timeseries", "R36 messages unread for more than 7 days", [
    (f'sum(kase_users_with_overdue_messages{{{SEL}}})', "users"),
    (f'sum(kase_overdue_unread_messages{{{SEL}}})', "(user, message) pairs")], 16, 8)
line_end()
panel("state-timeline", "R32, R34 service state",
      [(f'max by (service, state) (kase_service_state{{{SEL}}}) == 1', "{{service}}: {{state}}")], 0, 12)
panel("timeseries", "Out-of-hours and suspended rejections/s",
      [(f'sum by (service, reason) (rate(kase_requests_total{{{SEL},reason=~"service.outside_hours|service.not_business_day|service.suspended"}}[5m]))',
        "{{service}} {{reason}}")], 12, 12, unit="reqps")
line_end()

dashboard = {
    "title": "kase",
    "uid": "kase-overview",
    "description": "kase: the State Treasury e-services engine. Overview, hot path, Kafka, storage and business rules.",
    "tags": ["kase"],
    "timezone": "browser",
    "schemaVersion": 38,
    "version": 1,
    "editable": True,
    "refresh": "30s",
    "time": {"from": "now-6h", "to": "now"},
    "templating": {"list": [
        {"name": "datasource", "label": "Prometheus", "type": "datasource", "query": "prometheus",
         "current": {}, "hide": 0},
        {"name": "instance", "label": "Node", "type": "query", "datasource": DS,
         "query": {"query": 'label_values(kase_info{job="kase"}, instance)', "refId": "instance"},
         "definition": 'label_values(kase_info{job="kase"}, instance)',
         "includeAll": True, "multi": True, "allValue": ".*", "current": {}, "refresh": 2, "hide": 0},
    ]},
    "annotations": {"list": []},
    "panels": panels,
}

out = pathlib.Path(sys.argv[1]) if len(sys.argv) > 1 else pathlib.Path(__file__).with_name("kase.json")
out.write_text(json.dumps(dashboard, indent=2) + "\n")
