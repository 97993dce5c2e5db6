"""A real Prometheus (the Debian package's /usr/bin/prometheus) on a free port, scraping the
processes of a test every second with the project's alert rules loaded, and the few calls of
its HTTP API the tests make."""

import shutil
import time
from pathlib import Path

import httpx
import pytest
import yaml

from harvest_cli.processes import Child, free_port, wait_until

REPO = Path(__file__).resolve().parents[2]
ALERTS = REPO / "ops" / "prometheus" / "alerts.yml"


class PrometheusServer:
    def __init__(self, folder: Path, jobs: dict[str, list[str]]):
        """`jobs`: job name -> host:port targets."""
        binary = shutil.which("prometheus")
        if binary is None:
            pytest.fail("prometheus is not installed (ops/install-tools.sh installs it)", pytrace=False)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = {
            "global": {"scrape_interval": "1s", "scrape_timeout": "1s", "evaluation_interval": "1s"},
            "rule_files": [str(ALERTS)],
            "scrape_configs": [{"job_name": name, "static_configs": [{"targets": targets}]}
                               for name, targets in jobs.items()],
        }
        folder.mkdir(parents=True, exist_ok=True)
        config_file = folder / "prometheus.yml"
        config_file.write_text(yaml.safe_dump(config))
        self.child = Child.start("prometheus", [
            binary, f"--config.file={config_file}", f"--storage.tsdb.path={folder / 'tsdb'}",
            f"--web.listen-address=127.0.0.1:{self.port}", "--log.level=warn",
        ], log_path=folder / "prometheus.log")
        wait_until(lambda: httpx.get(f"{self.url}/-/ready", timeout=1).status_code == 200, 30, "prometheus")

    def stop(self) -> None:
        self.child.stop(10)

    def api(self, path: str, **params) -> dict:
        response = httpx.get(f"{self.url}/api/v1/{path}", params=params, timeout=10)
        body = response.json()
        assert body.get("status") == "success", (path, params, body)
        return body["data"]

    def query(self, expr: str, at: float) -> list[dict]:
        return self.api("query", query=expr, time=at)["result"]

    def query_range(self, expr: str, start: float, end: float, step_s: float = 1.0) -> list[dict]:
        return self.api("query_range", query=expr, start=start, end=end, step=step_s)["result"]

    def targets_up(self) -> bool:
        active = self.api("targets", state="active")["activeTargets"]
        return bool(active) and all(target["health"] == "up" for target in active)

    def rules(self) -> list[dict]:
        return [rule for group in self.api("rules")["groups"] for rule in group["rules"]]

    def wait_for_rules_evaluated(self, timeout_s: float = 20) -> list[dict]:
        """Every rule evaluated at least once since it was loaded."""
        deadline = time.monotonic() + timeout_s
        while True:
            rules = self.rules()
            if rules and all(rule["health"] != "unknown" for rule in rules):
                return rules
            assert time.monotonic() < deadline, [(r["name"], r["health"]) for r in rules]
            time.sleep(0.2)
