"""Static checks of docker-compose.yml against the code it deploys."""

import re
from pathlib import Path

from tests.ops.ops_helpers import (
    COMPOSE,
    DASHBOARD,
    DOCKERFILE,
    GRAFANA_DIR,
    IMAGE_SERVICES,
    PROM_CONFIG,
    PROM_DIR,
    REPO,
    check_cli_invocation,
    compose,
    compose_default,
    dockerfile_env,
    dockerfile_healthcheck,
    dockerignored,
    env_vars_read_by_code,
    final_stage,
    load_yaml,
    worker_shutdown_timeout_s,
)


def test_compose_services_and_images():
    services = compose()["services"]
    assert set(services) == {"redis", "simulator", "worker", "exporter", "prometheus", "grafana"}
    assert str(services["redis"]["image"]).startswith("redis:7")
    assert str(services["prometheus"]["image"]).startswith("prom/prometheus")
    assert str(services["grafana"]["image"]).startswith("grafana/grafana-oss:")
    images = {compose_default(services[name]["image"]) for name in IMAGE_SERVICES}
    assert len(images) == 1, f"worker, exporter and simulator must run the same image: {images}"
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


def test_compose_exporter_service():
    services = compose()["services"]
    exporter, worker = services["exporter"], services["worker"]
    command = [str(part) for part in exporter["command"]]
    check_cli_invocation(command)
    assert command[0] == "exporter"
    port = command[command.index("--port") + 1]
    assert [str(p) for p in exporter["expose"]] == [port]
    assert f"127.0.0.1:{port}/metrics" in " ".join(exporter["healthcheck"]["test"])
    assert float(command[command.index("--interval") + 1]) < 15, "a reading younger than the scrape interval"
    assert exporter.get("deploy", {}).get("replicas", 1) == 1, "one exporter: more only read Redis twice"
    assert exporter["depends_on"]["redis"]["condition"] == "service_healthy"
    # It must see the fleet as the workers do: same Redis, key prefix, credentials, timeout.
    env = {name: compose_default(value) for name, value in exporter["environment"].items()}
    worker_env = {name: compose_default(value) for name, value in worker["environment"].items()}
    for name in ("REDIS_URL", "HARVEST_NAMESPACE", "HARVEST_CREDENTIALS_FILE", "HARVEST_DEAD_WORKER_AFTER_S"):
        assert env[name] == worker_env[name], f"exporter and workers differ in {name}"
    assert exporter["secrets"] == worker["secrets"]
    jobs = {job["job_name"]: job for job in load_yaml(PROM_CONFIG)["scrape_configs"]}
    targets = [t for sc in jobs["tiktok-harvest-exporter"]["static_configs"] for t in sc["targets"]]
    assert targets == [f"exporter:{port}"]


def test_compose_grafana_loads_the_dashboard_on_start():
    grafana = compose()["services"]["grafana"]
    mounts = {}
    for volume in grafana["volumes"]:
        host, container, *mode = volume.split(":")
        if host.startswith("."):
            assert (REPO / host).is_dir(), f"{host} is mounted but missing"
            assert mode == ["ro"], f"{host} must be mounted read-only"
            mounts[(REPO / host).resolve()] = container
    assert mounts.get(GRAFANA_DIR.resolve() / "provisioning") == "/etc/grafana/provisioning"
    dashboards_in_container = mounts.get(DASHBOARD.parent.resolve())
    assert dashboards_in_container, "the dashboards folder is not mounted"
    providers = load_yaml(GRAFANA_DIR / "provisioning" / "dashboards" / "tiktok-harvest.yml")["providers"]
    assert [provider["options"]["path"] for provider in providers] == [dashboards_in_container]
    sources = load_yaml(GRAFANA_DIR / "provisioning" / "datasources" / "prometheus.yml")["datasources"]
    assert [(s["type"], s["url"]) for s in sources] == [("prometheus", "http://prometheus:9090")]
    assert grafana["ports"] == ["127.0.0.1:3000:3000"], "Grafana is for this host only, like Prometheus"


def test_compose_sets_only_variables_the_code_reads():
    known = env_vars_read_by_code()
    for name, service in compose()["services"].items():
        environment = service.get("environment") or {}
        names = set(environment) if isinstance(environment, dict) else {e.split("=", 1)[0] for e in environment}
        unknown = names - known
        assert not unknown, f"{name} sets variables core/config.py does not read: {sorted(unknown)}"


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
