"""One measured harvest: a private simulator, a worker fleet, a spec, numbers."""

import datetime as dt
import os
import secrets
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import redis

from core.config import Settings
from core.keys import Keys
from core.messages import producer_broker
from harvest_cli.processes import Fleet, start_simulator
from producers.submission import prepare, start
from schemas.status import EndpointStatus
from workers.progress import HarvestStore

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def write_credentials(path: Path) -> Path:
    today = dt.datetime.now(dt.UTC).date()
    path.write_text(
        "[credentials.bench]\nproject = \"bench\"\nclient_key = \"bench-key\"\n"
        f"client_secret = \"{secrets.token_urlsafe(16)}\"\n"
        f"access_start = {today - dt.timedelta(days=1)}\naccess_end = {today + dt.timedelta(days=700)}\n"
        "daily_requests = 1000000\ndaily_records = 100000000\n"
    )
    return path


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime + stime


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


@dataclass
class RunResult:
    seconds: float
    pages: int
    records: int
    users: int
    requests: int
    worker_cpu_s: float
    worker_rss_mib: float
    redis_commands: int  # while harvesting: the workers' (Dramatiq's polling included) and the submit's
    endpoints: dict[str, EndpointStatus] = field(default_factory=dict)

    @property
    def calls(self) -> int:
        return self.pages + self.users + sum(e.pages for name, e in self.endpoints.items() if name == "comment_list")


class Bench:
    """A simulator and a Redis namespace shared by the runs of one benchmark session."""

    def __init__(self, workdir: Path, redis_url: str, latency_ms: int = 0):
        self.workdir = workdir
        self.redis_url = redis_url
        self.credentials = write_credentials(workdir / "credentials.toml")
        self.simulator, self.api_url = start_simulator(
            log_dir=workdir, credentials=self.credentials,
            extra=["--daily-requests", "1000000", "--daily-records", "100000000"])
        self.set_latency(latency_ms)

    def set_latency(self, latency_ms: int) -> None:
        httpx.post(f"{self.api_url}/_sim/config", json={"latency_ms": latency_ms}).raise_for_status()

    def close(self) -> None:
        self.simulator.stop()

    def namespace(self) -> tuple[str, Settings, dict]:
        """A fresh namespace for one run: its settings and the environment of its fleet."""
        namespace = f"bench-{uuid.uuid4().hex[:8]}"
        settings = Settings(redis_url=self.redis_url, api_base_url=self.api_url, data_dir=self.workdir / namespace,
                            credentials_file=self.credentials, namespace=namespace, metrics_port=0)
        env = dict(os.environ, REDIS_URL=self.redis_url, TIKTOK_API_BASE_URL=self.api_url,
                   HARVEST_DATA_DIR=str(settings.data_dir), HARVEST_CREDENTIALS_FILE=str(self.credentials),
                   HARVEST_NAMESPACE=namespace, HARVEST_METRICS_PORT="0", LOG_LEVEL="WARNING")
        return namespace, settings, env

    def run(self, spec: dict, *, processes: int, threads: int) -> RunResult:
        namespace, settings, env = self.namespace()
        client = redis.Redis.from_url(self.redis_url)
        fleet = Fleet(env, processes=processes, threads=threads, log_path=self.workdir / f"{namespace}.log").start()
        store = HarvestStore(client, Keys(namespace))
        try:
            pids = wait_for_workers(fleet, processes)
            cpu_before = sum(cpu_seconds(pid) for pid in pids)
            plan = prepare(spec, settings)
            began = time.perf_counter()
            commands_before = commands_processed(client)
            start(plan, settings, producer_broker(settings, client), redis=client)
            polls = 0
            while (status := store.registered_status(plan.id)).state not in ("done", "failed"):
                polls += 1
                if not fleet.alive():
                    raise RuntimeError(f"workers exited; see {fleet.log_path}")
                time.sleep(0.02)
            commands = commands_processed(client) - commands_before - 1
            commands -= (polls + 1) * commands_per_status(client, store, plan.id)
            seconds = (status.finished_at or time.time()) - plan.submitted_at
            seconds = min(seconds, time.perf_counter() - began)
            cpu = sum(cpu_seconds(pid) for pid in pids) - cpu_before
            rss = sum(rss_mib(pid) for pid in pids)
            return RunResult(seconds, status.pages, status.records, status.users_done, status.requests, cpu, rss,
                             commands, status.endpoints)
        finally:
            fleet.stop()
            for key in client.scan_iter(match=f"{namespace}:*", count=1000):
                client.delete(key)


def tear_down(fleet: Fleet | None, simulator, client, namespace: str) -> None:
    """Stop what a benchmark started and remove its namespace's keys."""
    if fleet is not None:
        fleet.stop()
    simulator.stop()
    for key in client.scan_iter(match=f"{namespace}:*", count=1000):
        client.delete(key)
    client.close()


def commands_processed(client) -> int:
    return int(client.info("stats")["total_commands_processed"])


def commands_per_status(client, store: HarvestStore, harvest: str) -> int:
    """What one status read costs, to take the benchmark's own polling out of the count."""
    costs = []
    for _ in range(5):
        before = commands_processed(client)
        store.status(harvest)
        costs.append(commands_processed(client) - before - 1)
    return min(costs)


def wait_for_workers(fleet: Fleet, processes: int) -> list[int]:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        pids = fleet.worker_pids()
        if len(pids) >= processes:
            time.sleep(1.0)  # let them finish booting (imports, consumers)
            return fleet.worker_pids()
        time.sleep(0.1)
    raise RuntimeError("worker processes did not start")
