"""ops/prometheus/: promtool checks of the config and alert rules, the alerts' unit tests,
and metric names that exist in the code."""

import re

from tests.ops.ops_helpers import (
    ALERTS,
    ALERTS_TEST,
    OPS_README,
    PROM_CONFIG,
    REPO,
    alert_rules,
    api_outcomes,
    budgets,
    harvest_states,
    known_metrics,
    load_yaml,
    markdown_anchors,
    promql_grouping_labels,
    promql_metric_names,
    promql_selectors,
    promtool,
    queue_names,
    rules,
)


def test_promtool_check_config():
    result = promtool("check", "config", str(PROM_CONFIG.relative_to(REPO)))
    assert result.returncode == 0, result.stdout + result.stderr


def test_promtool_check_rules():
    result = promtool("check", "rules", str(ALERTS.relative_to(REPO)))
    assert result.returncode == 0, result.stdout + result.stderr


def test_promtool_unit_tests_of_the_alerts():
    result = promtool("test", "rules", str(ALERTS_TEST.relative_to(REPO)))
    assert result.returncode == 0, result.stdout + result.stderr


def test_alerts_use_only_real_metrics_and_labels():
    metrics = known_metrics()
    recorded = {rule["record"]: {"credential"} for rule in rules() if "record" in rule}
    all_series = {**metrics, **recorded}
    all_labels = set().union(*all_series.values()) | {"job", "instance"}
    jobs = {job["job_name"] for job in load_yaml(PROM_CONFIG)["scrape_configs"]}
    for rule in rules():
        name = rule.get("alert") or rule.get("record")
        expr = rule["expr"]
        unknown = promql_metric_names(expr) - set(all_series)
        assert not unknown, f"{name} uses metrics nobody exports: {sorted(unknown)}"
        bad_groups = promql_grouping_labels(expr) - all_labels
        assert not bad_groups, f"{name} groups by unknown labels {sorted(bad_groups)}"
        for metric, matchers in promql_selectors(expr):
            for label, op, value in matchers:
                assert label in all_series[metric] | {"job", "instance"}, f"{name}: {metric} has no label {label!r}"
                values = set(value.split("|")) if "~" in op else {value}
                if label == "queue":
                    assert values <= queue_names(), f"{name}: no queue named {sorted(values - queue_names())}"
                if label == "outcome":
                    assert values <= api_outcomes(), f"{name}: no outcome {sorted(values - api_outcomes())}"
                if label == "state":
                    assert values <= harvest_states(), f"{name}: no harvest state {sorted(values - harvest_states())}"
                if label == "budget":
                    assert values <= budgets(), f"{name}: no budget {sorted(values - budgets())}"
                if label == "job":
                    assert values <= jobs, f"{name}: prometheus.yml has no job {value!r}"


def test_metric_name_check_is_not_vacuous():
    """The parser above must see the metrics in real expressions, and flag a typo."""
    expr = alert_rules()["TikTokQuotaNearlySpent"]["expr"]
    assert {"tiktok_quota_requests_used", "tiktok_queue_ready_messages"} <= promql_metric_names(expr)
    assert "tiktok_quota_request_used" not in known_metrics()
    assert known_metrics()["tiktok_harvest_state"] == {"harvest", "project", "credential", "state"}
    assert promql_metric_names('sum by (x) (rate(tiktok_api_request_total{a="b"}[5m])) > 0') == {
        "tiktok_api_request_total"
    }


# What the alerts must cover (ops/README.md lists them): the quota, dead letters, stalled
# harvests, API errors, the workers, the exporter and Redis.
REQUIRED_ALERTS = {
    "TikTokQuotaSpentBeforeNoon": ["tiktok_quota_day_spent", "hour() < 12"],
    "TikTokQuotaNearlySpent": ["tiktok_quota_requests_used", "tiktok_quota_requests_limit"],
    "TikTokDeadLetters": ["increase(tiktok_dead_letters_total[15m])) > 0", "tiktok_dead_letters_stored"],
    "TikTokHarvestStalled": ["tiktok_harvest_state", "tiktok_harvest_requests_spent", "tiktok_quota_day_spent"],
    "TikTokFleetStalled": ["tiktok_queue_ready_messages", "tiktok_api_requests_total"],
    "TikTokApiErrorRatioHigh": ['outcome!~"ok|RateLimited"'],
    "TikTokNoLiveWorkers": ["tiktok_workers_live"],
    "TikTokWorkersDown": ['up{job="tiktok-harvest-workers"}'],
    "TikTokExporterDown": ['up{job="tiktok-harvest-exporter"}'],
    "TikTokRedisMemoryHigh": ["tiktok_redis_used_memory_bytes", "tiktok_redis_maxmemory_bytes"],
    "TikTokRedisEvicting": ["tiktok_redis_evicted_keys_total"],
}


def test_required_alerts_exist_and_are_complete():
    alerts = alert_rules()
    exprs = {name: " ".join(rule["expr"].split()) for name, rule in alerts.items()}
    for name, fragments in REQUIRED_ALERTS.items():
        assert name in exprs, f"alert {name} is missing"
        for fragment in fragments:
            assert fragment in exprs[name], f"{name} does not use {fragment}"
    for name, rule in alerts.items():
        assert re.fullmatch(r"\d+[smh]", str(rule.get("for", ""))), f"{name} needs a for: duration"
        assert rule["labels"]["severity"] in {"info", "warning", "critical"}, name
        for key in ("summary", "description", "runbook_url"):
            assert str(rule["annotations"].get(key, "")).strip(), f"{name} lacks annotations.{key}"


def test_every_alert_links_to_its_own_runbook_section():
    anchors = markdown_anchors(OPS_README)
    for name, rule in alert_rules().items():
        url = rule["annotations"]["runbook_url"]
        assert url == f"ops/README.md#alert-{name.lower()}", f"{name}: runbook_url {url!r}"
        assert url.split("#")[1] in anchors, f"ops/README.md has no section `Alert: {name}`"


def test_the_readme_tables_name_every_alert_and_metric():
    text = OPS_README.read_text()
    for name in alert_rules():
        assert f"`{name}`" in text, f"ops/README.md does not list the alert {name}"
    for name in known_metrics():
        if name.startswith("tiktok_") and not name.endswith(("_created", "_bucket", "_sum", "_count")):
            base = name.removesuffix("_total")
            assert f"`{name}`" in text or f"`{base}_total`" in text or name.endswith("_total") and base in text, (
                f"ops/README.md does not describe the metric {name}")


def test_every_alert_has_firing_and_quiet_unit_tests():
    document = load_yaml(ALERTS_TEST)
    assert document["rule_files"] == [ALERTS.name]
    fires: set[str] = set()
    quiet: set[str] = set()
    for case in document["tests"]:
        for check in case.get("alert_rule_test", []):
            (fires if check.get("exp_alerts") else quiet).add(check["alertname"])
    alerts = set(alert_rules())
    assert alerts <= fires, f"never shown firing: {sorted(alerts - fires)}"
    assert alerts <= quiet, f"never shown staying quiet: {sorted(alerts - quiet)}"
