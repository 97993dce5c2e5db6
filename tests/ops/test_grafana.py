"""ops/grafana/: the dashboard's queries name real metrics and labels, add counters up over
the worker containers, and pick their data source and filters through variables of bounded
cardinality; the provisioning files load it."""

import re

from tests.ops.ops_helpers import (
    GRAFANA_DIR,
    dashboard,
    dashboard_targets,
    known_metrics,
    load_yaml,
    promql_grouping_labels,
    promql_metric_names,
    promql_selectors,
    queue_names,
)

VARIABLES = {"credential", "project", "harvest"}
# Labels whose values are names from a bounded set: credentials, projects, at most 100 harvests.
BOUNDED = {"credential", "project", "harvest", "budget", "queue", "actor", "endpoint", "why", "outcome", "state"}


def test_dashboard_is_a_provisionable_grafana_model():
    board = dashboard()
    assert board["uid"] == "tiktok-harvest" and board["schemaVersion"] >= 36
    ids = [panel["id"] for panel in board["panels"]]
    assert len(ids) == len(set(ids)), "panel ids must be unique"
    for panel in board["panels"]:
        if panel["type"] == "row":
            continue
        assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}, panel["title"]
        assert panel.get("description"), f"{panel['title']}: say what the panel answers"
        assert panel["targets"], panel["title"]
        for target in panel["targets"]:
            assert target["datasource"] == panel["datasource"], panel["title"]


def test_variables_pick_the_data_source_and_bounded_label_values():
    variables = {v["name"]: v for v in dashboard()["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource" and variables["datasource"]["query"] == "prometheus"
    metrics = known_metrics()
    for name in VARIABLES:
        query = variables[name]["definition"]
        match = re.fullmatch(r"label_values\((\w+)(\{[^}]*\})?, (\w+)\)", query)
        assert match and match.group(3) == name, f"{name}: {query}"
        assert name in metrics[match.group(1)], f"{match.group(1)} has no label {name}"
        assert variables[name]["includeAll"] and variables[name]["allValue"] == ".*"


def test_queries_use_real_metrics_labels_and_variables():
    metrics = known_metrics()
    for title, target in dashboard_targets():
        expr = target["expr"]
        used = set(re.findall(r"\$(\w+)", expr))
        assert used <= VARIABLES | {"__rate_interval"}, f"{title}: unknown variables {used}"
        unknown = promql_metric_names(expr) - set(metrics)
        assert not unknown, f"{title} uses metrics nobody exports: {sorted(unknown)}"
        labels = set().union(*(metrics[name] for name in promql_metric_names(expr)))
        assert promql_grouping_labels(expr) <= labels | {"le"}, f"{title}: groups by unknown labels"
        assert promql_grouping_labels(expr) <= BOUNDED | {"le"}, f"{title}: a label of unbounded values"
        for metric, matchers in promql_selectors(expr):
            for label, _, value in matchers:
                assert label in metrics[metric], f"{title}: {metric} has no label {label}"
                if label == "queue":
                    assert set(value.split("|")) <= queue_names()


def test_counters_are_added_up_over_the_worker_containers():
    for title, target in dashboard_targets():
        expr = target["expr"]
        if re.search(r"tiktok_\w+_(total|bucket)\b", expr):
            assert re.search(r"\bsum(\s+by\s*\([^)]*\))?\s*\(", expr), f"{title}: counters are per container"
            assert "instance" not in promql_grouping_labels(expr), title


def test_provisioning_points_grafana_at_prometheus_and_the_dashboards():
    sources = load_yaml(GRAFANA_DIR / "provisioning" / "datasources" / "prometheus.yml")
    assert sources["apiVersion"] == 1
    (source,) = sources["datasources"]
    assert source["type"] == "prometheus" and source["isDefault"]
    providers = load_yaml(GRAFANA_DIR / "provisioning" / "dashboards" / "tiktok-harvest.yml")
    assert providers["apiVersion"] == 1
    (provider,) = providers["providers"]
    assert provider["type"] == "file" and provider["options"]["path"]
