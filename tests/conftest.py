"""Fixtures shared by the test suites: real Redis under a key prefix of the test's own, the
simulator as a child process, credentials and worker fleets."""

import datetime as dt
import os
import sys
import uuid
from collections.abc import Sequence
from pathlib import Path

import pytest
import redis

from harvest_cli.processes import Fleet, start_simulator

REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def redis_url() -> str:
    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2)
    try:
        client.ping()
    except redis.RedisError as error:  # never skip: a missing Redis must fail the run
        pytest.fail(f"Redis at {REDIS_URL} does not answer ({error}); start it as ../shared/services.md says")
    return REDIS_URL


@pytest.fixture
def redis_client(redis_url):
    client = redis.Redis.from_url(redis_url)
    yield client
    client.close()


@pytest.fixture
def namespace(redis_client):
    """A key prefix no other test (or parallel run) uses; its keys are removed afterwards."""
    name = f"test-{uuid.uuid4().hex[:12]}"
    yield name
    for key in redis_client.scan_iter(match=f"{name}:*", count=1000):
        redis_client.delete(key)


def write_credentials(path: Path, *, daily_requests: int = 1000, daily_records: int = 100_000,
                      project: str = "climate", name: str = "climate-key",
                      access_end: dt.date | None = None, secret: str | None = None) -> Path:
    today = dt.datetime.now(dt.UTC).date()
    access_end = access_end or today + dt.timedelta(days=600)
    path.write_text(
        f"[credentials.{name}]\n"
        f'project = "{project}"\n'
        f'client_key = "key-{name}"\n'
        f'client_secret = "{secret or "s3cr3t-" + uuid.uuid4().hex}"\n'
        f"access_start = {today - dt.timedelta(days=30)}\n"
        f"access_end = {access_end}\n"
        f"daily_requests = {daily_requests}\n"
        f"daily_records = {daily_records}\n"
    )
    return path


@pytest.fixture
def credentials_file(tmp_path) -> Path:
    # A raised daily quota (TikTok grants them on request): a whole test harvest fits one day.
    return write_credentials(tmp_path / "credentials.toml", daily_requests=5000)


@pytest.fixture(scope="session")
def simulator_url(tmp_path_factory):
    """One simulator for the session (its corpus takes a second to build); tests that change
    its switches restore them."""
    logs = tmp_path_factory.mktemp("simulator")
    child, url = start_simulator(log_dir=logs, extra=["--daily-requests", "1000000", "--daily-records", "100000000"])
    yield url
    child.stop()


@pytest.fixture
def harvest_env(redis_url, namespace, simulator_url, credentials_file, tmp_path) -> dict:
    """Environment for `tiktok-harvest` child processes in this test."""
    return dict(
        os.environ,
        REDIS_URL=redis_url,
        HARVEST_NAMESPACE=namespace,
        TIKTOK_API_BASE_URL=simulator_url,
        HARVEST_DATA_DIR=str(tmp_path / "data"),
        HARVEST_CREDENTIALS_FILE=str(credentials_file),
        HARVEST_METRICS_PORT="0",
        LOG_LEVEL="INFO",
        PYTHONPATH=str(ROOT),
    )


@pytest.fixture
def fleets(harvest_env, tmp_path):
    """Start worker fleets (`tiktok-harvest worker`); all are stopped at the end."""
    started: list[Fleet] = []

    def start(processes: int = 1, threads: int = 4, env: dict | None = None, prefix: Sequence[str] = ()) -> Fleet:
        fleet = Fleet(env or harvest_env, processes=processes, threads=threads,
                      log_path=tmp_path / f"workers-{len(started)}.log", prefix=list(prefix)).start()
        started.append(fleet)
        return fleet

    yield start
    for fleet in started:
        fleet.stop()


def cli(*args: str, env: dict, timeout: float = 120):
    """Run `tiktok-harvest ARGS` as a user would; returns the CompletedProcess."""
    import subprocess

    return subprocess.run([sys.executable, "-m", "harvest_cli", *args], env=env, capture_output=True,
                          text=True, timeout=timeout)
