"""Starting and stopping the local processes a demo, a test or a benchmark needs: a private
redis-server, the simulator and worker fleets, each a child process on a free port."""

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import redis


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until(check, timeout_s: float, what: str, interval_s: float = 0.05):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            result = check()
            if result:
                return result
        except Exception:
            pass
        time.sleep(interval_s)
    raise TimeoutError(f"{what} not ready after {timeout_s:.0f}s")


def redis_answers(url: str) -> bool:
    try:
        return bool(redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=1).ping())
    except redis.RedisError:
        return False


@dataclass
class Child:
    """A child process in its own process group, so it and its children stop together."""

    name: str
    process: subprocess.Popen
    log_path: Path | None = None

    @classmethod
    def start(cls, name: str, argv: list[str], *, env: dict | None = None, log_path: Path | None = None) -> "Child":
        output = open(log_path, "ab") if log_path else subprocess.DEVNULL
        process = subprocess.Popen(
            argv, env=env, stdout=output, stderr=subprocess.STDOUT if log_path else subprocess.DEVNULL,
            stdin=subprocess.DEVNULL, start_new_session=True,
        )
        return cls(name, process, log_path)

    @property
    def pid(self) -> int:
        return self.process.pid

    def alive(self) -> bool:
        return self.process.poll() is None

    def stop(self, timeout_s: float = 30.0) -> None:
        """SIGTERM to the leader only (a Dramatiq master passes it on to its workers; a second
        one straight from us would make them hard-kill themselves), SIGKILL to the group
        when it does not finish in time."""
        if self.alive():
            try:
                self.process.send_signal(signal.SIGTERM)
                self.process.wait(timeout_s)
            except subprocess.TimeoutExpired:
                pass
        self.kill()

    def kill(self) -> None:
        """SIGKILL the whole group (leader and whatever it started)."""
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        self.process.wait(10)


@dataclass
class PrivateRedis:
    """A redis-server of our own on a free port: for the demo when no Redis answers, and for
    tests that stop, kill or cut off their Redis. With `data_dir` it keeps an append-only file
    synced on every write, as a production Redis should (ops/README.md), so it can be killed
    and started again without losing anything it acknowledged."""

    log_dir: Path
    data_dir: Path | None = None
    bind: str = "127.0.0.1"
    password: str | None = None
    extra: list[str] = field(default_factory=list)  # more redis-server options
    port: int = field(default_factory=free_port)
    child: Child | None = field(default=None, init=False)

    @property
    def url(self) -> str:
        auth = f":{self.password}@" if self.password else ""
        return f"redis://{auth}{self.bind}:{self.port}/0"

    def start(self) -> "PrivateRedis":
        server = shutil.which("redis-server")
        if server is None:
            raise RuntimeError("redis-server is not installed (ops/install-tools.sh installs it)")
        persistence = (["--appendonly", "yes", "--appendfsync", "always", "--dir", str(self.data_dir)]
                       if self.data_dir else ["--appendonly", "no"])
        access = ["--requirepass", self.password] if self.password else ["--protected-mode", "no"]
        self.child = Child.start("redis", [server, "--port", str(self.port), "--bind", self.bind, "--save", "",
                                           *persistence, *access, *self.extra, "--daemonize", "no"],
                                 log_path=self.log_dir / "redis.log")
        wait_until(lambda: redis_answers(self.url), 20, "redis-server")
        return self

    @property
    def pid(self) -> int:
        assert self.child is not None, "not started"
        return self.child.pid

    def kill(self) -> None:
        """SIGKILL: what is not on disk is gone."""
        assert self.child is not None, "not started"
        self.child.kill()

    def shutdown(self) -> None:
        """A clean stop (SHUTDOWN: the append-only file is complete)."""
        try:
            redis.Redis.from_url(self.url, socket_timeout=5).shutdown(nosave=not self.data_dir)
        except redis.ConnectionError:
            pass  # it closes the connection as it goes
        assert self.child is not None, "not started"
        self.child.process.wait(20)

    def stop(self) -> None:
        if self.child:
            self.child.stop(10)


def start_redis(log_dir: Path) -> tuple[Child, str]:
    server = PrivateRedis(log_dir).start()
    assert server.child is not None
    return server.child, server.url


def start_simulator(*, seed: int = 7, log_dir: Path, extra: Sequence[str] = (), credentials: Path | None = None,
                    host: str = "127.0.0.1") -> tuple[Child, str]:
    port = free_port()
    argv = [sys.executable, "-m", "simulator", "--host", host, "--port", str(port), "--seed", str(seed), *extra]
    if credentials:
        argv += ["--credentials", str(credentials)]
    child = Child.start("simulator", argv, log_path=log_dir / "simulator.log")
    url = f"http://{host}:{port}"
    wait_until(lambda: httpx.get(f"{url}/_sim/health", timeout=1).status_code == 200, 60, "simulator")
    return child, url


@dataclass
class Fleet:
    """`tiktok-harvest worker` as a child process (the Dramatiq master and its workers)."""

    env: dict
    processes: int = 1
    threads: int = 4
    log_path: Path | None = None
    prefix: list[str] = field(default_factory=list)  # e.g. `ip netns exec NAME`: run it elsewhere
    child: Child | None = field(default=None, init=False)

    def start(self) -> "Fleet":
        argv = [*self.prefix, sys.executable, "-m", "harvest_cli", "worker",
                "--processes", str(self.processes), "--threads", str(self.threads)]
        self.child = Child.start("workers", argv, env=self.env, log_path=self.log_path)
        return self

    def worker_pids(self) -> list[int]:
        """The worker processes under the Dramatiq master."""
        assert self.child is not None, "not started"
        return children_of(self.child.pid)

    def alive(self) -> bool:
        """Started, and the Dramatiq master has not exited."""
        return self.child is not None and self.child.alive()

    def stop(self) -> None:
        if self.child:
            self.child.stop(60)


def children_of(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(entry.name))
    return sorted(found)
