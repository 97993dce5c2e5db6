"""The metrics, the dashboard and the alert rules against a real Prometheus: a worker fleet
with metrics on and the exporter harvest a week of the demo spec from the simulator while
Prometheus scrapes both every second. Every target is up, every rule group evaluates without
error, every dashboard query runs (the ones about the work just done return it), and promtool
finds nothing to say about the metric names our code defines."""

import json
import subprocess
import sys
import time

import httpx
import pytest
import yaml

from core.keys import Keys
from harvest_cli.processes import Child, free_port, wait_until
from tests.conftest import cli
from tests.integration.harvest_checks import DEMO_SPEC, wait_for_state
from tests.integration.prometheus_server import REPO, PrometheusServer
from workers.progress import HarvestStore

pytestmark = pytest.mark.integration

DASHBOARD = REPO / "ops" / "grafana" / "dashboards" / "tiktok-harvest.json"
# What Grafana puts in place of its variables here: every credential, project and harvest.
GRAFANA_VARIABLES = {"$__rate_interval": "30s", "$__interval": "1s", "$__range": "5m",
                     "$credential": ".*", "$project": ".*", "$harvest": ".*"}
# Panels about the work the fleet just did: their queries must find it.
ABOUT_THE_WORK = {
    "Requests used vs the day's limit", "Records used vs the day's limit", "Share of the day's requests used",
    "Pages per second by project and endpoint", "Records per second by project and endpoint",
    "API answers by outcome", "API latency quantiles", "API latency p90 by endpoint",
    "Author profiles by outcome", "Harvest state", "Units done of those known",
    "Records stored by harvest and endpoint", "Requests spent by harvest", "Estimated time to finish",
}


def dashboard_queries() -> list[tuple[str, str, bool]]:
    """(panel title, query with the variables filled in, instant?) of every panel."""
    found = []
    for panel in json.loads(DASHBOARD.read_text())["panels"]:
        for target in panel.get("targets", []):
            expr = target["expr"]
            for variable, value in sorted(GRAFANA_VARIABLES.items(), key=lambda item: -len(item[0])):
                expr = expr.replace(variable, value)
            assert "$" not in expr, f"{panel['title']}: a variable the test does not fill in: {expr}"
            found.append((panel["title"], expr, bool(target.get("instant"))))
    return found


# Series that appear only with the work (their labels are not known in advance).
WORK_SERIES = ("tiktok_harvest_users_total", "tiktok_api_request_seconds_count", "tiktok_harvest_records_stored",
               "tiktok_harvest_requests_spent")


def scraped_at_least(prometheus: PrometheusServer, metric: str, samples: int) -> bool:
    """Every series of `metric` has `samples` samples in the last 30 s (and there is one)."""
    counts = prometheus.query(f"count_over_time({metric}[30s])", time.time())
    return bool(counts) and all(float(series["value"][1]) >= samples for series in counts)


def own_metric_problems(exposition: str) -> list[str]:
    """What `promtool check metrics` says about the names our code defines (Dramatiq's aside)."""
    result = subprocess.run(["promtool", "check", "metrics"], input=exposition, capture_output=True, text=True,
                            timeout=60)
    lines = [line.strip() for line in (result.stdout + result.stderr).splitlines() if line.strip()]
    return [line for line in lines if not line.startswith("dramatiq_")]


def test_metrics_dashboard_and_alerts_hold_up_on_a_real_prometheus(
        harvest_env, redis_client, namespace, simulator_url, fleets, tmp_path):
    began = time.monotonic()
    worker_port, exporter_port = free_port(), free_port()
    env = dict(harvest_env, HARVEST_METRICS_PORT=str(worker_port))
    exporter = Child.start("exporter", [sys.executable, "-m", "harvest_cli", "exporter", "--host", "127.0.0.1",
                                        "--port", str(exporter_port), "--interval", "1"],
                           env=env, log_path=tmp_path / "exporter.log")
    prometheus = None
    try:
        fleet = fleets(processes=1, threads=4, env=env)
        prometheus = PrometheusServer(tmp_path / "prometheus", {
            "tiktok-harvest-workers": [f"127.0.0.1:{worker_port}"],
            "tiktok-harvest-exporter": [f"127.0.0.1:{exporter_port}"],
        })
        wait_until(prometheus.targets_up, 30, "every scrape target up")

        # A week of the demo harvest: videos and their authors' profiles.
        spec = yaml.safe_load(DEMO_SPEC.read_text()) | {"id": "prometheus_week", "period": "20240601-20240607"}
        spec_file = tmp_path / "week.yaml"
        spec_file.write_text(yaml.safe_dump(spec))
        started = time.time()
        submitted = cli("submit", str(spec_file), env=env)
        assert submitted.returncode == 0, submitted.stderr
        store = HarvestStore(redis_client, Keys(namespace))
        status = wait_for_state(store, "prometheus_week", timeout_s=60, fleets=[fleet])
        assert status.state == "done", status
        # Scraped and evaluated after the end: the exporter's last reading says done.
        wait_until(lambda: prometheus.query('tiktok_harvest_state{harvest="prometheus_week", state="done"}',
                                            time.time()), 15, "the finished harvest scraped")
        # A short harvest may be over between two scrapes: a rate over the series it made needs
        # two samples before the range's last step (1 s apart), so wait for three, and a step.
        for metric in WORK_SERIES:
            wait_until(lambda metric=metric: scraped_at_least(prometheus, metric, 3), 30, f"{metric} scraped")
        time.sleep(1.0)
        ended = time.time()

        assert prometheus.targets_up()
        rules = prometheus.wait_for_rules_evaluated()
        assert len(rules) == 13
        for group in prometheus.api("rules")["groups"]:
            for rule in group["rules"]:
                assert rule["health"] == "ok" and not rule.get("lastError"), (group["name"], rule["name"], rule)

        queries, answered, with_data = dashboard_queries(), 0, set()
        for title, expr, instant in queries:
            result = prometheus.query(expr, ended) if instant else prometheus.query_range(expr, started, ended)
            if result:
                answered += 1
                with_data.add(title)
        assert ABOUT_THE_WORK <= with_data, f"no data for {sorted(ABOUT_THE_WORK - with_data)}"

        # The numbers are the work's, not just series that exist.
        def peak(expr: str) -> dict[str, float]:
            series = prometheus.query_range(expr, started, ended)
            return {json.dumps(s["metric"], sort_keys=True): max(float(v) for _, v in s["values"]) for s in series}

        records = peak('sum by (endpoint) (rate(tiktok_harvest_records_total[30s]))')
        assert {"video_query", "user_info"} <= {json.loads(k)["endpoint"] for k, v in records.items() if v > 0}
        calls = peak('sum by (outcome) (increase(tiktok_api_requests_total[30s]))')
        assert calls.get('{"outcome": "ok"}', 0) > 0, calls
        used = prometheus.query('max by (credential) (tiktok_quota_requests_used{budget="research"})', ended)
        research = {r["metric"]["credential"]: float(r["value"][1]) for r in used}
        assert research == {"climate-key": status.requests}, (research, status.requests)
        stored = prometheus.query('sum(tiktok_harvest_records_stored{harvest="prometheus_week", '
                                  'endpoint="video_query"})', ended)
        assert float(stored[0]["value"][1]) == status.records
        # The worker process, and for a few seconds the `submit` that enqueued (Dramatiq
        # records a heartbeat for every client that sends a message).
        assert float(prometheus.query("max(tiktok_workers_live)", ended)[0]["value"][1]) in (1, 2)

        # promtool's lint of both expositions: nothing about our own metric names.
        for port in (worker_port, exporter_port):
            text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
            assert "tiktok_" in text
            assert own_metric_problems(text) == [], port
    finally:
        if prometheus:
            prometheus.stop()
        exporter.stop(10)
    print(f"\n{answered} of {len(queries)} dashboard queries returned data, for {len(with_data)} panels: "
          f"none for {sorted({title for title, *_ in queries} - with_data)}; {time.monotonic() - began:.1f} s")
