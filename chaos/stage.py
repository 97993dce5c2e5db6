"""The stage a chaos run plays on: a second host (a network namespace), a Redis with an
append-only file synced on every write, the simulator, and worker fleets on both hosts, all
reachable at the host's end of the link between them."""

import datetime as dt
import os
import random
import secrets
import signal
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import redis

from chaos.netns import SecondHost, second_host
from harvest_cli.processes import Child, Fleet, PrivateRedis, start_simulator, wait_until

ROOT = Path(__file__).resolve().parent.parent


def write_credentials(path: Path, name: str) -> Path:
    today = dt.datetime.now(dt.UTC).date()
    path.write_text(
        f'[credentials.{name}]\nproject = "chaos"\nclient_key = "{name}-client-key"\n'
        f'client_secret = "{secrets.token_urlsafe(24)}"\n'
        f"access_start = {today - dt.timedelta(days=1)}\naccess_end = {today + dt.timedelta(days=700)}\n"
        "daily_requests = 1000000\ndaily_records = 100000000\n"
    )
    return path


@dataclass
class Stage:
    """Everything one run needs; fleets are restarted like containers after a kill."""

    folder: Path
    host_b: SecondHost
    redis_server: PrivateRedis
    simulator: Child
    simulator_url: str
    env: dict
    fleets: dict[str, Fleet] = field(default_factory=dict)
    cut_off: set[str] = field(default_factory=set)  # groups whose host is cut off now

    @property
    def redis(self) -> redis.Redis:
        return redis.Redis.from_url(self.redis_server.url, socket_timeout=10)

    def start_fleet(self, group: str, processes: int, threads: int) -> Fleet:
        prefix = self.host_b.run_inside if group == "B" else []
        fleet = Fleet(self.env, processes=processes, threads=threads, prefix=prefix,
                      log_path=self.folder / f"workers-{group}.log").start()
        self.fleets[group] = fleet
        return fleet

    def kill_a_worker(self, rng: random.Random) -> str:
        """SIGKILL one worker process of a random group; its fleet is restarted (its Dramatiq
        master stops when a worker dies). Returns the group."""
        # Not a cut-off host's: a restarted fleet there would find no Redis and exit (an
        # orchestrator would keep restarting it; here it would just be gone).
        live = {g: f for g, f in self.fleets.items()
                if g not in self.cut_off and f.alive() and f.worker_pids()}
        group = rng.choice(sorted(live))
        fleet = live[group]
        os.kill(rng.choice(fleet.worker_pids()), signal.SIGKILL)
        assert fleet.child is not None
        fleet.child.process.wait(60)
        self.start_fleet(group, fleet.processes, fleet.threads)
        return group

    def switches(self, **values) -> None:
        httpx.post(f"{self.simulator_url}/_sim/config", json=values, timeout=10).raise_for_status()

    def simulator_stats(self) -> dict:
        return httpx.get(f"{self.simulator_url}/_sim/stats", timeout=10).json()

    def stop_fleets(self) -> None:
        for fleet in self.fleets.values():
            fleet.stop()
        self.fleets.clear()


@contextmanager
def stage(folder: Path, *, latency_ms: float, jitter_ms: float):
    with second_host() as host_b:
        redis_server = PrivateRedis(folder, data_dir=folder, bind=host_b.host_ip).start()
        simulator, url = start_simulator(log_dir=folder, host=host_b.host_ip, extra=[
            "--daily-requests", "1000000", "--daily-records", "100000000",
            "--latency-ms", str(latency_ms), "--latency-jitter-ms", str(jitter_ms)])
        env = dict(os.environ, REDIS_URL=redis_server.url, TIKTOK_API_BASE_URL=url, HARVEST_METRICS_PORT="0",
                   HARVEST_DATA_DIR=str(folder / "data"), LOG_LEVEL="INFO", PYTHONPATH=str(ROOT))
        the_stage = Stage(folder, host_b, redis_server, simulator, url, env)
        try:
            yield the_stage
        finally:
            the_stage.stop_fleets()
            simulator.stop()
            redis_server.stop()


def wait_for(check, timeout_s: float, what: str):
    return wait_until(check, timeout_s, what, interval_s=0.5)


def sleep_until(t0: float, at_s: float) -> None:
    time.sleep(max(0.0, t0 + at_s - time.monotonic()))
