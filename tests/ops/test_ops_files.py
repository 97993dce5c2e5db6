"""Static checks of the deployment files: ops/Dockerfile, .dockerignore, docker-compose.yml
and ops/prometheus/. No Docker engine is needed; every check ties a file to the code it
deploys (CLI commands and flags, environment variables, metric names, ports), so renaming
one side without the other fails here.

promtool (Debian package `prometheus`) is required, not optional: without it these tests
fail and say how to install it.
"""

import ast
import http.server
import json
import os
import re
import shlex
import shutil
import socket
import subprocess
import sys
import threading
import tomllib
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

IMAGE_SERVICES = ("worker", "simulator")  # the services that run our image


# --- helpers: what the code defines --------------------------------------------------------


def env_vars_read_by_code() -> set[str]:
    """Every variable workers/config.py reads (`_env("NAME", ...)`)."""
    names = set(re.findall(r"""_env\(\s*["']([A-Z][A-Z0-9_]*)["']""", (REPO / "workers" / "config.py").read_text()))
    assert {"REDIS_URL", "HARVEST_DATA_DIR", "HARVEST_CREDENTIALS_FILE", "HARVEST_METRICS_PORT"} <= names, (
        "workers/config.py no longer reads the variables the deployment is built on"
    )
    return names


def _metric_calls(path: Path) -> dict[str, set[str]]:
    """name -> label names of every prometheus_client Counter/Gauge/Histogram/Summary built in
    a source file, read with ast (nothing is imported or registered)."""
    found: dict[str, set[str]] = {}
    for node in ast.walk(ast.parse(path.read_text())):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        kind = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
        if kind not in {"Counter", "Gauge", "Histogram", "Summary"} or not node.args:
            continue
        name = node.args[0]
        if not (isinstance(name, ast.Constant) and isinstance(name.value, str)):
            continue
        labels_node = node.args[2] if len(node.args) > 2 else next(
            (kw.value for kw in node.keywords if kw.arg == "labelnames"), None
        )
        labels = {elt.value for elt in getattr(labels_node, "elts", []) if isinstance(elt, ast.Constant)}
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


def known_metrics() -> dict[str, set[str]]:
    """Ours (workers/metrics.py), Dramatiq's (its Prometheus middleware, as installed) and
    the series Prometheus adds to every scrape."""
    ours = _metric_calls(REPO / "workers" / "metrics.py")
    assert any(name.startswith("tiktok_") for name in ours), "no tiktok_* metric found in workers/metrics.py"
    import dramatiq.middleware.prometheus as dramatiq_prometheus

    theirs = _metric_calls(Path(dramatiq_prometheus.__file__))
    assert "dramatiq_message_errors_total" in theirs, "Dramatiq's Prometheus middleware changed its metrics"
    # Multi-process gauges in mode "all" carry a pid label.
    theirs = {name: labels | {"pid"} for name, labels in theirs.items()}
    scrape = {name: set() for name in ("up", "scrape_duration_seconds", "scrape_samples_scraped")}
    return {**scrape, **theirs, **ours}


def queue_names() -> set[str]:
    from workers import messages

    return {messages.PAGES_QUEUE, messages.USERS_QUEUE, messages.INTAKE_QUEUE}


def api_outcomes() -> set[str]:
    """Values of tiktok_api_requests_total's outcome label: "ok" or an ApiError class name
    (workers/calls.py labels failures with type(error).__name__)."""
    from workers import errors

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

    from harvest_cli.main import app

    assert args and not args[0].startswith("-"), f"no subcommand in {args}"
    subcommand, rest = args[0], args[1:]
    shown = cli_help(subcommand)
    offered = set(re.findall(r"(?<![\w-])(--[a-z][a-z0-9-]*)", shown))
    for flag in (arg.split("=", 1)[0] for arg in rest if arg.startswith("--")):
        assert flag in offered, f"`tiktok-harvest {subcommand}` has no {flag} (it offers {sorted(offered)})"
    group = typer.main.get_command(app)
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


# === Dockerfile ===============================================================================


def test_dockerfile_is_multi_stage_on_python_311_slim():
    instructions = dockerfile_instructions()
    args = {}
    for keyword, arguments in instructions:
        if keyword == "ARG" and "=" in arguments:
            name, value = arguments.split("=", 1)
            args[name] = value
    bases = [
        re.sub(r"\$\{?(\w+)\}?", lambda m: args.get(m.group(1), m.group(0)), arguments.split()[0])
        for keyword, arguments in instructions
        if keyword == "FROM"
    ]
    assert len(bases) >= 2, "build and runtime should be separate stages"
    assert all(base == "python:3.11-slim" for base in bases), bases
    stage_names = [arguments.split()[-1] for keyword, arguments in instructions if keyword == "FROM" and " AS " in arguments.upper()]
    copied_from = [a for k, a in final_stage() if k == "COPY" and a.startswith("--from=")]
    assert copied_from and all(a.split()[0].split("=", 1)[1] in stage_names for a in copied_from), copied_from


def test_dockerfile_installs_the_project_without_dev_extras():
    runs = " ".join(arguments for keyword, arguments in dockerfile_instructions() if keyword == "RUN")
    installs = re.findall(r"pip install ([^&;]+)", runs)
    assert installs, "the project is not installed with pip"
    for install in installs:
        targets = [t for t in install.split() if not t.startswith("-")]
        assert targets == ["."], f"install the project itself, without extras: pip install {install}"
        assert "[" not in install and "-e" not in install.split(), install


def test_dockerfile_copies_every_package_pyproject_ships():
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text())
    includes = pyproject["tool"]["setuptools"]["packages"]["find"]["include"]
    packages = {pattern.rstrip("*").rstrip(".") for pattern in includes}
    copied = set()
    for keyword, arguments in dockerfile_instructions():
        if keyword == "COPY" and not arguments.startswith("--from"):
            copied |= {Path(source).as_posix().rstrip("/") for source in arguments.split()[:-1]}
    needed = packages | {"pyproject.toml", pyproject["project"]["readme"]}
    assert needed <= copied, f"the image misses {sorted(needed - copied)}"
    for source in copied:
        assert (REPO / source).exists(), f"COPY {source}: no such file in the build context"
        assert not dockerignored(source), f"COPY {source}: excluded by .dockerignore"


def test_dockerfile_runs_as_non_root_user():
    users = [arguments for keyword, arguments in final_stage() if keyword == "USER"]
    assert users, "the runtime stage must switch to an unprivileged USER"
    user = users[-1].split(":")[0]
    assert user not in {"root", "0"}, users[-1]


def test_dockerfile_entrypoint_and_cmd_are_real_cli_commands():
    stage = final_stage()
    entrypoint = [exec_form(a) for k, a in stage if k == "ENTRYPOINT"]
    cmd = [exec_form(a) for k, a in stage if k == "CMD"]
    assert entrypoint == [["tiktok-harvest"]], entrypoint
    assert cmd == [["worker", "--processes", "2", "--threads", "4"]], cmd
    scripts = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["scripts"]
    assert "tiktok-harvest" in scripts, "ENTRYPOINT names a script pyproject does not install"
    check_cli_invocation(cmd[0])


def test_dockerfile_environment_is_read_by_the_code():
    stage = final_stage()
    env = dockerfile_env(stage)
    interpreter = {"PATH", "PYTHONUNBUFFERED", "PYTHONDONTWRITEBYTECODE"}
    unknown = set(env) - env_vars_read_by_code() - interpreter
    assert not unknown, f"Dockerfile sets variables nothing reads: {sorted(unknown)}"
    assert env["HARVEST_DATA_DIR"] == "/data"
    assert env["HARVEST_CREDENTIALS_FILE"] == "/run/secrets/tiktok-credentials.toml"
    assert "/opt/venv/bin" in env["PATH"].split(":")[0]
    volumes = [v for k, a in stage if k == "VOLUME" for v in (exec_form(a) if a.startswith("[") else a.split())]
    assert env["HARVEST_DATA_DIR"] in volumes, "the data root must be a VOLUME"
    exposed = {a.split("/")[0] for k, a in stage if k == "EXPOSE"}
    assert env["HARVEST_METRICS_PORT"] in exposed, "EXPOSE the metrics port the workers use"


def test_no_secret_is_passed_through_the_environment():
    """Credentials come from the mounted file only: no variable may carry a key or secret."""
    names = set(dockerfile_env(dockerfile_instructions()))
    for service in compose()["services"].values():
        environment = service.get("environment") or {}
        names |= set(environment if isinstance(environment, dict) else (e.split("=", 1)[0] for e in environment))
        assert "env_file" not in service, "an env_file is an easy place for a secret to leak into"
    names |= {a.split("=", 1)[0] for k, a in dockerfile_instructions() if k == "ARG"}  # build args stay in the image
    risky = {n for n in names if re.search(r"SECRET|CLIENT_KEY|TOKEN|PASSWORD|PASSWD", n)}
    assert not risky, f"secrets must come from the credentials file, not {sorted(risky)}"


def test_dockerfile_healthcheck_hits_the_metrics_port():
    command = dockerfile_healthcheck()
    assert not any("curl" in part or "wget" in part for part in command), "the slim image has no curl"

    class Metrics(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b"# metrics\n")

        def log_message(self, *args):
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Metrics)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        assert run_healthcheck(command, server.server_port) == 0, "healthy worker reported unhealthy"
    finally:
        server.shutdown()
        server.server_close()
    assert run_healthcheck(command, free_port()) != 0, "a dead metrics server must fail the check"
    assert run_healthcheck(command, 0) == 0, "with metrics off there is nothing to check"


# === .dockerignore ============================================================================


def test_dockerignore_keeps_secrets_data_and_caches_out():
    for path in (".venv/bin/python", ".git/config", "data/records/x.json", "demo-data/x.json",
                 "credentials.toml", "ops/demo-credentials.toml", "workers/__pycache__/config.cpython-311.pyc",
                 ".pytest_cache/v/cache", ".hypothesis/examples/x", "icandid_tiktok_harvest.egg-info/PKG-INFO"):
        assert dockerignored(path), f"{path} would be sent to the Docker build"
    for path in ("pyproject.toml", "README.md", "workers/lua/quota_take.lua", "harvest_cli/main.py",
                 "ops/Dockerfile"):
        assert not dockerignored(path), f"{path} is needed by the build but ignored"


# === docker-compose.yml =======================================================================


def test_compose_services_and_images():
    services = compose()["services"]
    assert set(services) == {"redis", "simulator", "worker", "prometheus"}
    assert str(services["redis"]["image"]).startswith("redis:7")
    assert str(services["prometheus"]["image"]).startswith("prom/prometheus")
    images = {compose_default(services[name]["image"]) for name in IMAGE_SERVICES}
    assert len(images) == 1, f"worker and simulator must run the same image: {images}"
    for name in IMAGE_SERVICES:
        build = services[name]["build"]
        assert (REPO / build["context"]).resolve() == REPO, "the build context is the repo root"
        assert (REPO / build["context"] / build["dockerfile"]).resolve() == DOCKERFILE


def test_compose_redis_keeps_harvest_state():
    redis = compose()["services"]["redis"]
    command = [str(part) for part in redis["command"]]
    assert command[0] == "redis-server"
    assert command[command.index("--appendonly") + 1] == "yes", "AOF must stay on: harvest state lives in Redis"
    assert any(volume.endswith(":/data") for volume in redis["volumes"]), "the AOF needs a volume"
    assert "ping" in " ".join(redis["healthcheck"]["test"])


def test_compose_simulator_only_in_rehearsals():
    services = compose()["services"]
    assert services["simulator"].get("profiles") == ["rehearsal"]
    for name, service in services.items():
        if name != "simulator":
            assert "profiles" not in service, f"{name} must start in production"
            for dependency in service.get("depends_on") or {}:
                assert dependency != "simulator", f"{name} would pull the simulator into production"
    command = [str(part) for part in services["simulator"]["command"]]
    assert command[:1] == ["simulator"]
    assert command[command.index("--port") + 1] == "8901" and command[command.index("--seed") + 1] == "7"
    assert command[command.index("--host") + 1] == "0.0.0.0", "other containers cannot reach 127.0.0.1"
    check_cli_invocation(command)


def test_compose_worker_service():
    document = compose()
    worker = document["services"]["worker"]
    command = [str(part) for part in worker["command"]]
    check_cli_invocation(command)
    assert worker["deploy"]["replicas"] == 2
    assert worker["depends_on"]["redis"]["condition"] == "service_healthy"
    assert "container_name" not in worker and "ports" not in worker, "replicas cannot share a name or a host port"

    grace = worker["stop_grace_period"]
    match = re.fullmatch(r"(\d+)(s|m)", str(grace))
    assert match, f"unexpected stop_grace_period {grace!r}"
    grace_s = int(match.group(1)) * (60 if match.group(2) == "m" else 1)
    assert grace_s >= 60 and grace_s > worker_shutdown_timeout_s(), (
        f"stop_grace_period {grace} leaves in-flight calls no time ({worker_shutdown_timeout_s()} s to finish)"
    )

    env = {name: compose_default(value) for name, value in worker["environment"].items()}
    secret = worker["secrets"][0]
    assert document["secrets"][secret["source"]]["file"] == "./credentials.toml"
    assert env["HARVEST_CREDENTIALS_FILE"] == f"/run/secrets/{secret['target']}"
    assert env["HARVEST_CREDENTIALS_FILE"] == dockerfile_env(final_stage())["HARVEST_CREDENTIALS_FILE"]
    assert dockerignored("credentials.toml"), "the secret file must never reach the build context"
    assert any(volume.split(":")[1] == env["HARVEST_DATA_DIR"] for volume in worker["volumes"]), (
        "HARVEST_DATA_DIR must be a mounted volume"
    )
    assert env["REDIS_URL"].startswith("redis://redis:"), "workers must use the compose Redis"
    assert str(env["HARVEST_METRICS_PORT"]) in [str(port) for port in worker["expose"]]
    assert float(env["HARVEST_DEAD_WORKER_AFTER_S"]) > 2 * float(env["HARVEST_SWEEP_INTERVAL_S"]), (
        "a live worker must sweep (and so heartbeat) several times before it counts as dead"
    )


def test_compose_sets_only_variables_the_code_reads():
    known = env_vars_read_by_code()
    for name, service in compose()["services"].items():
        environment = service.get("environment") or {}
        names = set(environment) if isinstance(environment, dict) else {e.split("=", 1)[0] for e in environment}
        unknown = names - known
        assert not unknown, f"{name} sets variables workers/config.py does not read: {sorted(unknown)}"


def test_compose_variables_have_defaults():
    # A plain `docker compose up` must work without an .env file.
    bare = re.findall(r"\$\{(\w+)\}|\$\{(\w+):?\?", COMPOSE.read_text())
    assert not bare, f"variables without a default: {bare}"


def test_compose_healthchecks():
    services = compose()["services"]
    for name in ("redis", "worker"):
        assert services[name]["healthcheck"]["test"], f"{name} needs a healthcheck"
    test = services["worker"]["healthcheck"]["test"]
    assert test[0] == "CMD" and test[1:] == dockerfile_healthcheck(), "worker and image health checks differ"
    simulator = services["simulator"]["healthcheck"]["test"]
    assert simulator[0] == "CMD" and "8901" in " ".join(simulator), "the simulator has no metrics port to ask"


def test_compose_prometheus_mounts_config_and_rules_together():
    prometheus = compose()["services"]["prometheus"]
    mounts = {}
    for volume in prometheus["volumes"]:
        host, container = volume.split(":")[:2]
        if host.startswith("."):
            assert (REPO / host).is_file(), f"{host} is mounted but missing"
            mounts[(REPO / host).resolve()] = container
    config_path = mounts.get(PROM_CONFIG.resolve())
    assert config_path, "ops/prometheus/prometheus.yml is not mounted"
    assert f"--config.file={config_path}" in prometheus["command"]
    for rule_file in load_yaml(PROM_CONFIG)["rule_files"]:
        in_container = str(Path(config_path).parent / rule_file)
        assert mounts.get((PROM_DIR / rule_file).resolve()) == in_container, (
            f"rule file {rule_file} is not mounted next to the config ({in_container})"
        )


# === Prometheus ===============================================================================


def test_prometheus_scrapes_every_worker_on_the_metrics_port():
    config = load_yaml(PROM_CONFIG)
    worker_env = compose()["services"]["worker"]["environment"]
    port = int(compose_default(worker_env["HARVEST_METRICS_PORT"]))
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    job = jobs["tiktok-harvest-workers"]
    targets = [(name, sd["port"]) for sd in job.get("dns_sd_configs", []) for name in sd["names"]]
    targets += [tuple(t.rsplit(":", 1)) for sc in job.get("static_configs", []) for t in sc["targets"]]
    assert targets, "the worker job has no targets"
    for name, target_port in targets:
        assert name == "worker", f"{name} is not the compose service"
        assert int(target_port) == port, f"scrapes port {target_port}, workers serve {port}"
    for sd in job.get("dns_sd_configs", []):
        assert sd.get("type") == "A", "compose has no SRV records: use type A"


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
                if label == "job":
                    assert values <= jobs, f"{name}: prometheus.yml has no job {value!r}"


def test_metric_name_check_is_not_vacuous():
    """The parser above must see the metrics in real expressions, and flag a typo."""
    expr = alert_rules()["TikTokQuotaNearlySpent"]["expr"]
    assert {"tiktok_quota_requests_remaining", "tiktok_queue_depth"} <= promql_metric_names(expr)
    assert "tiktok_quota_request_remaining" not in known_metrics()
    assert promql_metric_names('sum by (x) (rate(tiktok_api_request_total{a="b"}[5m])) > 0') == {
        "tiktok_api_request_total"
    }


def test_required_alerts_exist_and_are_complete():
    alerts = alert_rules()
    exprs = {name: " ".join(rule["expr"].split()) for name, rule in alerts.items()}
    quota = exprs["TikTokQuotaNearlySpent"]
    assert "tiktok_quota_requests_remaining" in quota and 'tiktok_queue_depth{queue="pages"}' in quota
    assert "increase(tiktok_dead_letters_total[15m])) > 0" in exprs["TikTokDeadLetters"]
    assert "tiktok_queue_depth" in exprs["TikTokFleetStalled"] and "tiktok_api_requests_total" in exprs["TikTokFleetStalled"]
    assert 'outcome!~"ok|RateLimited"' in exprs["TikTokApiErrorRatioHigh"]
    for name, rule in alerts.items():
        assert re.fullmatch(r"\d+[smh]", str(rule.get("for", ""))), f"{name} needs a for: duration"
        assert rule["labels"]["severity"] in {"info", "warning", "critical"}, name
        for key in ("summary", "description", "runbook"):
            assert str(rule["annotations"].get(key, "")).strip(), f"{name} lacks annotations.{key}"


def test_every_alert_has_firing_and_quiet_unit_tests():
    document = load_yaml(ALERTS_TEST)
    assert document["rule_files"] == [ALERTS.name]
    fires, quiet = set(), set()
    for case in document["tests"]:
        for check in case.get("alert_rule_test", []):
            (fires if check.get("exp_alerts") else quiet).add(check["alertname"])
    alerts = set(alert_rules())
    assert alerts <= fires, f"never shown firing: {sorted(alerts - fires)}"
    assert alerts <= quiet, f"never shown staying quiet: {sorted(alerts - quiet)}"
