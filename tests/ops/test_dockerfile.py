"""Static checks of ops/Dockerfile and .dockerignore: no Docker engine is needed; each check
ties the file to the code it deploys (CLI commands and flags, environment variables)."""

import http.server
import re
import threading
import tomllib
from pathlib import Path

from tests.ops.ops_helpers import (
    REPO,
    check_cli_invocation,
    compose,
    dockerfile_env,
    dockerfile_healthcheck,
    dockerfile_instructions,
    dockerignored,
    env_vars_read_by_code,
    exec_form,
    final_stage,
    free_port,
    run_healthcheck,
)


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
    stage_names = [arguments.split()[-1] for keyword, arguments in instructions
                   if keyword == "FROM" and " AS " in arguments.upper()]
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
    assert cmd == [["worker", "--processes", "2", "--threads", "16"]], cmd
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
    for path in ("pyproject.toml", "README.md", "workers/quota/take.lua", "harvest_cli/main.py",
                 "ops/Dockerfile"):
        assert not dockerignored(path), f"{path} is needed by the build but ignored"


# === docker-compose.yml =======================================================================
