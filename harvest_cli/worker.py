"""`tiktok-harvest worker`: Dramatiq worker processes for the page, user and intake queues."""

import os
import sys
import tempfile
from pathlib import Path

import typer

from core.messages import COMMENTS_QUEUE, INTAKE_QUEUE, LISTS_QUEUE, PAGES_QUEUE, USERS_QUEUE


def worker_command(
    processes: int = typer.Option(2, "--processes", "-p", help="Worker processes."),
    # Calls wait on the network: at 300 ms of latency 16 threads finish a harvest 12 times sooner than
    # one sequential client, 4 threads 6.6 times, for the same CPU (make bench).
    threads: int = typer.Option(16, "--threads", "-t", help="Threads per process (API calls in flight)."),
    redis_url: str | None = typer.Option(None, envvar="REDIS_URL", help="Redis to use."),
    api_base_url: str | None = typer.Option(None, envvar="TIKTOK_API_BASE_URL", help="TikTok API base URL."),
    data_dir: Path | None = typer.Option(None, envvar="HARVEST_DATA_DIR", help="iCANDID storage root."),
    credentials: Path | None = typer.Option(None, envvar="HARVEST_CREDENTIALS_FILE", help="Credentials file (TOML)."),
    metrics_port: int | None = typer.Option(None, envvar="HARVEST_METRICS_PORT",
                                            help="Prometheus port; 0 turns metrics off."),
):
    """Run worker processes until stopped (SIGTERM/Ctrl-C finish the messages in hand)."""
    overrides = {
        "REDIS_URL": redis_url,
        "TIKTOK_API_BASE_URL": api_base_url,
        "HARVEST_DATA_DIR": str(data_dir.resolve()) if data_dir else None,
        "HARVEST_CREDENTIALS_FILE": str(credentials.resolve()) if credentials else None,
        "HARVEST_METRICS_PORT": str(metrics_port) if metrics_port is not None else None,
    }
    env = dict(os.environ, **{k: v for k, v in overrides.items() if v is not None})
    check_redis(redis_url)
    # Dramatiq's Prometheus middleware reads these when it is imported, in the master too.
    port = env.get("HARVEST_METRICS_PORT", "9191")
    env.setdefault("dramatiq_prom_port", port)
    env.setdefault("dramatiq_prom_db", f"{tempfile.gettempdir()}/tiktok-harvest-prometheus-{port}")
    argv = [
        sys.executable, "-m", "dramatiq", "workers.entry",
        "--processes", str(processes), "--threads", str(threads),
        "--queues", PAGES_QUEUE, USERS_QUEUE, COMMENTS_QUEUE, LISTS_QUEUE, INTAKE_QUEUE,
        # Give in-flight API calls time to finish on a graceful stop.
        "--worker-shutdown-timeout", "30000",
    ]
    # Become the Dramatiq master process: signals from ops tools reach it directly.
    os.execvpe(sys.executable, argv, env)


def check_redis(redis_url: str | None) -> None:
    """Refuse to start on a Redis that may evict keys (workers/redis_checks.py); say so when
    it keeps nothing on disk."""
    from harvest_cli.common import connect, fail, settings_from
    from workers.redis_checks import eviction_problem, persistence_note

    client = connect(settings_from(redis_url=redis_url))
    problem = eviction_problem(client)
    if problem:
        fail(f"not starting: {problem}", code=2)
    note = persistence_note(client)
    if note:
        typer.echo(f"warning: {note}", err=True)
