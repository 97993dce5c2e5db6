"""What the deployment tests compare: the code's CLI, environment variables and metric names,
and parsed views of the deployment files.

promtool (Debian package `prometheus`) is required, not optional: without it the tests that
use it fail and say how to install it.
"""

import ast
import json
import os
import re
import shlex
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
DOCKERFILE = REPO / "ops" / "Dockerfile"
DOCKERIGNORE = REPO / ".dockerignore"
COMPOSE = REPO / "docker-compose.yml"
PROM_DIR = REPO / "ops" / "prometheus"
PROM_CONFIG = PROM_DIR / "prometheus.yml"
ALERTS = PROM_DIR / "alerts.yml"
ALERTS_TEST = PROM_DIR / "alerts.test.yml"

IMAGE_SERVICES = ("worker", "exporter", "simulator")  # the services that run our image
GRAFANA_DIR = REPO / "ops" / "grafana"
DASHBOARD = GRAFANA_DIR / "dashboards" / "tiktok-harvest.json"
OPS_README = REPO / "ops" / "README.md"


# --- helpers: what the code defines --------------------------------------------------------


def env_vars_read_by_code() -> set[str]:
    """Every variable core/config.py reads (`_env("NAME", ...)`)."""
    names = set(re.findall(r"""_env\(\s*["']([A-Z][A-Z0-9_]*)["']""", (REPO / "core" / "config.py").read_text()))
    assert {"REDIS_URL", "HARVEST_DATA_DIR", "HARVEST_CREDENTIALS_FILE", "HARVEST_METRICS_PORT"} <= names, (
        "core/config.py no longer reads the variables the deployment is built on"
    )
    return names


# Calls that make a metric, by the kind of metric they make: prometheus_client's classes, its
# metric families (custom collectors) and the exporter's `_gauge` helper.
_METRIC_MAKERS = {"Counter": "Counter", "Gauge": "Gauge", "Histogram": "Histogram", "Summary": "Summary",
                  "CounterMetricFamily": "Counter", "GaugeMetricFamily": "Gauge", "_gauge": "Gauge"}


def _metric_calls(path: Path) -> dict[str, set[str]]:
    """name -> label names of every metric built in a source file, read with ast (nothing is
    imported or registered). Labels are the third argument or `labels`/`labelnames`."""
    found: dict[str, set[str]] = {}
    for node in ast.walk(ast.parse(path.read_text())):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        kind = _METRIC_MAKERS.get(func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", ""))
        if kind is None or not node.args:
            continue
        name = node.args[0]
        if not (isinstance(name, ast.Constant) and isinstance(name.value, str)):
            continue
        labels_node = node.args[2] if len(node.args) > 2 else next(
            (kw.value for kw in node.keywords if kw.arg in ("labelnames", "labels")), None
        )
        labels = {elt.value for elt in getattr(labels_node, "elts", [])
                  if isinstance(elt, ast.Constant) and isinstance(elt.value, str)}
        for exposed in _exposed_names(kind, name.value):
            found[exposed] = labels | ({"le"} if exposed.endswith("_bucket") else set())
    return found


def _exposed_names(kind: str, name: str) -> list[str]:
    # The series names prometheus_client exposes for a metric of this kind.
    if kind == "Counter":
        base = name.removesuffix("_total")
        return [f"{base}_total", f"{base}_created"]
    if kind == "Histogram":
        return [f"{name}_bucket", f"{name}_sum", f"{name}_count", f"{name}_created"]
    if kind == "Summary":
        return [name, f"{name}_sum", f"{name}_count", f"{name}_created"]
    return [name]


def exporter_metrics() -> dict[str, set[str]]:
    """The exporter's (workers/exporter/collector.py)."""
    found = _metric_calls(REPO / "workers" / "exporter" / "collector.py")
    assert "tiktok_quota_requests_used" in found and "tiktok_redis_evicted_keys_total" in found, (
        "the exporter's metrics are no longer found in workers/exporter/collector.py")
    return found


def known_metrics() -> dict[str, set[str]]:
    """Ours (the workers' workers/metrics.py and the exporter's), Dramatiq's (its Prometheus
    middleware, as installed) and the series Prometheus adds to every scrape."""
    ours = _metric_calls(REPO / "workers" / "metrics.py")
    assert any(name.startswith("tiktok_") for name in ours), "no tiktok_* metric found in workers/metrics.py"
    ours |= exporter_metrics()
    import dramatiq.middleware.prometheus as dramatiq_prometheus

    theirs = _metric_calls(Path(dramatiq_prometheus.__file__))
    assert "dramatiq_message_errors_total" in theirs, "Dramatiq's Prometheus middleware changed its metrics"
    # Multi-process gauges in mode "all" carry a pid label.
    theirs = {name: labels | {"pid"} for name, labels in theirs.items()}
    scrape: dict[str, set[str]] = {name: set() for name in ("up", "scrape_duration_seconds", "scrape_samples_scraped")}
    return {**scrape, **theirs, **ours}


def queue_names() -> set[str]:
    from core import messages

    return {messages.PAGES_QUEUE, messages.USERS_QUEUE, messages.COMMENTS_QUEUE, messages.LISTS_QUEUE,
            messages.INTAKE_QUEUE}


def harvest_states() -> set[str]:
    import typing

    from schemas.status import HarvestState

    return set(typing.get_args(HarvestState))


def budgets() -> set[str]:
    from core.keys import BUDGETS

    return set(BUDGETS)


def api_outcomes() -> set[str]:
    """Values of tiktok_api_requests_total's outcome label: "ok" or an ApiError class name
    (workers/calls.py labels failures with type(error).__name__)."""
    from workers.tiktok import errors

    classes = {errors.ApiError}
    pending = [errors.ApiError]
    while pending:
        for sub in pending.pop().__subclasses__():
            classes.add(sub)
            pending.append(sub)
    return {"ok"} | {cls.__name__ for cls in classes}


def worker_shutdown_timeout_s() -> float:
    """The grace the worker command gives in-flight messages (harvest_cli/worker.py)."""
    source = (REPO / "harvest_cli" / "worker.py").read_text()
    match = re.search(r'"--worker-shutdown-timeout",\s*"(\d+)"', source)
    assert match, "harvest_cli/worker.py no longer passes --worker-shutdown-timeout"
    return int(match.group(1)) / 1000


# --- helpers: the files under test ----------------------------------------------------------


def load_yaml(path: Path):
    assert path.is_file(), f"{path.relative_to(REPO)} is missing"
    return yaml.safe_load(path.read_text())


def compose() -> dict:
    return load_yaml(COMPOSE)


def compose_default(value: str) -> str:
    """The value compose uses when the variable in `${NAME:-default}` is unset."""
    return re.sub(r"\$\{\w+:-([^}]*)\}", r"\1", str(value))


def dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) in order, continuation lines joined, comments dropped."""
    instructions, pending = [], ""
    for line in DOCKERFILE.read_text().splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue  # Docker drops comment lines, even inside a continued instruction
        if stripped.endswith("\\"):
            pending += stripped[:-1] + " "
            continue
        full = pending + stripped
        pending = ""
        keyword, _, rest = full.partition(" ")
        instructions.append((keyword.upper(), rest.strip()))
    assert not pending, "Dockerfile ends inside a continued line"
    return instructions


def final_stage() -> list[tuple[str, str]]:
    instructions = dockerfile_instructions()
    last_from = max(i for i, (keyword, _) in enumerate(instructions) if keyword == "FROM")
    return instructions[last_from:]


def exec_form(arguments: str) -> list[str]:
    value = json.loads(arguments)
    assert isinstance(value, list) and all(isinstance(item, str) for item in value), arguments
    return value


def dockerfile_env(instructions) -> dict[str, str]:
    env: dict[str, str] = {}
    for keyword, arguments in instructions:
        if keyword == "ENV":
            for token in shlex.split(arguments):
                name, sep, value = token.partition("=")
                assert sep, f"use ENV NAME=value, not the legacy form: {arguments!r}"
                env[name] = value
    return env


def dockerfile_healthcheck() -> list[str]:
    checks = [arguments for keyword, arguments in final_stage() if keyword == "HEALTHCHECK"]
    assert len(checks) == 1, "the runtime stage needs exactly one HEALTHCHECK"
    _, sep, command = checks[0].partition("CMD ")
    assert sep, "HEALTHCHECK must use CMD"
    return exec_form(command)


def cli_help(*command: str) -> str:
    """`tiktok-harvest <command> --help`, run the way the image runs it: the console script
    from pyproject's [project.scripts], installed next to this interpreter."""
    script = Path(sys.executable).with_name("tiktok-harvest")
    argv = [str(script)] if script.exists() else [sys.executable, "-m", "harvest_cli"]
    env = dict(os.environ, COLUMNS="200", NO_COLOR="1", TERM="dumb")
    result = subprocess.run([*argv, *command, "--help"], capture_output=True, text=True, env=env, timeout=120)
    assert result.returncode == 0, (
        f"`tiktok-harvest {' '.join(command)} --help` failed ({result.returncode}): "
        f"{result.stderr or result.stdout}"
    )
    assert f"tiktok-harvest {' '.join(command)}".strip() in " ".join(result.stdout.split()), result.stdout
    return result.stdout


def check_cli_invocation(args: list[str]) -> None:
    """The subcommand exists, every --flag is in its --help, and Click parses the values
    (types, choices) without running anything."""
    import typer
    import typer.core

    from harvest_cli.main import app

    assert args and not args[0].startswith("-"), f"no subcommand in {args}"
    subcommand, rest = args[0], args[1:]
    shown = cli_help(subcommand)
    offered = set(re.findall(r"(?<![\w-])(--[a-z][a-z0-9-]*)", shown))
    for flag in (arg.split("=", 1)[0] for arg in rest if arg.startswith("--")):
        assert flag in offered, f"`tiktok-harvest {subcommand}` has no {flag} (it offers {sorted(offered)})"
    group = typer.main.get_command(app)
    assert isinstance(group, typer.core.TyperGroup)  # an app of several commands
    command = group.commands.get(subcommand)
    assert command is not None, f"`tiktok-harvest` has no command {subcommand!r}"
    with group.make_context("tiktok-harvest", [subcommand], resilient_parsing=True) as parent:
        command.make_context(subcommand, list(rest), parent=parent)  # raises on bad values


def promtool(*args: str) -> subprocess.CompletedProcess:
    binary = shutil.which("promtool")
    if binary is None:
        pytest.fail(
            "promtool is not installed, so the Prometheus files cannot be checked. Install it "
            "with `apt-get install -y prometheus` (Debian/Ubuntu; .ci/run must do the same).",
            pytrace=False,
        )
    return subprocess.run([binary, *args], capture_output=True, text=True, cwd=REPO, timeout=300)


def run_healthcheck(command: list[str], port: int | None) -> int:
    """Run a `python -c` health check here, with this interpreter and the given metrics port."""
    assert command[0] == "python" and command[1] == "-c", command
    env = dict(os.environ)
    env.pop("HARVEST_METRICS_PORT", None)
    if port is not None:
        env["HARVEST_METRICS_PORT"] = str(port)
    return subprocess.run([sys.executable, *command[1:]], env=env, capture_output=True, timeout=60).returncode


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def ignore_regex(pattern: str) -> re.Pattern:
    """A .dockerignore pattern as a regex over paths relative to the context root."""
    pattern = pattern.strip("/")
    out, i = "", 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out, i = out + "(?:.*/)?", i + 3
        elif pattern.startswith("**", i):
            out, i = out + ".*", i + 2
        elif pattern[i] == "*":
            out, i = out + "[^/]*", i + 1
        elif pattern[i] == "?":
            out, i = out + "[^/]", i + 1
        elif pattern[i] == "[":
            end = pattern.index("]", i)
            out, i = out + pattern[i : end + 1], end + 1
        else:
            out, i = out + re.escape(pattern[i]), i + 1
    return re.compile(out)


def dockerignored(path: str) -> bool:
    patterns = [
        line.strip() for line in DOCKERIGNORE.read_text().splitlines() if line.strip() and not line.startswith("#")
    ]
    assert not any(p.startswith("!") for p in patterns), "exceptions (!) are not modelled by this test"
    parts = path.split("/")
    prefixes = ["/".join(parts[: n + 1]) for n in range(len(parts))]  # a match on a folder excludes it all
    return any(ignore_regex(p).fullmatch(prefix) for p in patterns for prefix in prefixes)


# --- promql helpers -------------------------------------------------------------------------

_PROMQL_WORDS = {"and", "or", "unless", "bool", "offset", "by", "without", "on", "ignoring",
                 "group_left", "group_right", "inf", "nan"}


def promql_metric_names(expr: str) -> set[str]:
    text = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)  # string literals
    text = re.sub(r"\{[^}]*\}", " ", text)  # label matchers
    text = re.sub(r"\[[^\]]*\]", " ", text)  # ranges and subqueries
    text = re.sub(r"\boffset\s+\w+", " ", text)
    text = re.sub(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", text)
    names = set()
    for match in re.finditer(r"(?<![\w.])([a-zA-Z_:][\w:]*)(\s*\()?", text):
        name, call = match.group(1), match.group(2)
        if call or name.lower() in _PROMQL_WORDS:
            continue
        names.add(name)
    return names


def promql_grouping_labels(expr: str) -> set[str]:
    labels = set()
    for group in re.findall(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\(([^)]*)\)", expr):
        labels |= {label.strip() for label in group.split(",") if label.strip()}
    return labels


def promql_selectors(expr: str) -> list[tuple[str, list[tuple[str, str, str]]]]:
    """(metric, [(label, op, value)]) for every `metric{...}` selector."""
    selectors = []
    for name, body in re.findall(r"([a-zA-Z_:][\w:]*)\s*\{([^}]*)\}", expr):
        matchers = re.findall(r'(\w+)\s*(=~|!~|!=|=)\s*"((?:[^"\\]|\\.)*)"', body)
        selectors.append((name, matchers))
    return selectors


def rules() -> list[dict]:
    document = load_yaml(ALERTS)
    return [rule for group in document["groups"] for rule in group["rules"]]


def alert_rules() -> dict[str, dict]:
    return {rule["alert"]: rule for rule in rules() if "alert" in rule}


def markdown_anchors(path: Path) -> set[str]:
    """The anchors GitHub makes for a Markdown file's headings: lower case, punctuation
    dropped, spaces turned into hyphens."""
    anchors = set()
    for line in path.read_text().splitlines():
        if match := re.match(r"#{1,6}\s+(.*)", line):
            text = re.sub(r"[^\w\- ]", "", match.group(1).strip().lower().replace("`", ""))
            anchors.add(text.replace(" ", "-"))
    return anchors


def dashboard() -> dict:
    assert DASHBOARD.is_file(), f"{DASHBOARD.relative_to(REPO)} is missing"
    return json.loads(DASHBOARD.read_text())


def dashboard_targets() -> list[tuple[str, dict]]:
    """(panel title, target) of every query in the dashboard."""
    return [(panel["title"], target) for panel in dashboard()["panels"] for target in panel.get("targets", [])]


# === Dockerfile ===============================================================================
