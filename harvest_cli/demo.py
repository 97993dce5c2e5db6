"""`tiktok-harvest demo`: a whole harvest against the simulator, watched live.

Starts (or reuses) Redis, the simulator and two worker processes, submits the demo spec,
shows progress until the harvest is done, compares what was stored with the simulator's
ground truth, and stops everything it started.
"""

import datetime as dt
import os
import secrets
import shutil
import time
from pathlib import Path

import httpx
import typer
from rich.console import Console, Group
from rich.live import Live
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
)

from core.redaction import mask_url
from harvest_cli.common import settings_from
from harvest_cli.processes import Fleet, redis_answers, start_redis, start_simulator
from harvest_cli.render import status_panel

DEMO_SPEC = Path(__file__).resolve().parent / "demo_spec.yaml"
NAMESPACE = "tiktok-harvest-demo"
DEMO_DAILY_REQUESTS = 5000


def write_demo_credentials(path: Path) -> None:
    today = dt.datetime.now(dt.UTC).date()
    path.write_text(
        "[credentials.climate-demo]\n"
        'project = "climate"\n'
        'client_key = "demo-client-key"\n'
        f'client_secret = "{secrets.token_urlsafe(24)}"\n'
        f"access_start = {today - dt.timedelta(days=30)}\n"
        f"access_end = {today + dt.timedelta(days=600)}\n"
        # A raised quota, as TikTok grants on request: the demo's ~1,100 calls fit one day.
        f"daily_requests = {DEMO_DAILY_REQUESTS}\n"
    )
    path.chmod(0o600)


def clear_namespace(client, namespace: str) -> None:
    for key in client.scan_iter(match=f"{namespace}:*", count=1000):
        client.delete(key)


def clear_harvest_files(storage, plan) -> None:
    for folder in (storage.source_dir(plan), storage.records_dir(plan)):
        if folder.exists():
            shutil.rmtree(folder)


def demo_command(
    data_dir: Path = typer.Option(Path("demo-data"), help="Where the demo's iCANDID storage goes."),
    spec: Path = typer.Option(DEMO_SPEC, help="Harvest spec to run."),
    processes: int = typer.Option(2, help="Worker processes."),
    threads: int = typer.Option(4, help="Threads per worker process."),
    latency_ms: int = typer.Option(40, help="Simulated API latency."),
    timeout_s: int = typer.Option(900, help="Give up after this long."),
    redis_url: str | None = typer.Option(None, envvar="REDIS_URL",
                                         help="Redis to use; a private one when none answers."),
):
    """Run a demo harvest end to end against the local simulator."""
    import redis as redis_lib

    from core.keys import Keys
    from core.messages import producer_broker
    from producers.spec import read_spec_file
    from producers.submission import prepare, start
    from workers.progress import HarvestStore
    from workers.storage import Storage

    console = Console(stderr=True)
    data_dir = data_dir.resolve()
    logs = data_dir / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    started = []
    try:
        redis_url = redis_url or "redis://127.0.0.1:6379/0"
        if not redis_answers(redis_url):
            console.print(f"No Redis at {mask_url(redis_url)}: starting a private redis-server.")
            child, redis_url = start_redis(logs)
            started.append(child)
        credentials = data_dir / "demo-credentials.toml"
        write_demo_credentials(credentials)
        simulator, api_url = start_simulator(log_dir=logs, credentials=credentials,
                                             extra=["--latency-ms", str(latency_ms),
                                                    "--daily-requests", str(DEMO_DAILY_REQUESTS)])
        started.append(simulator)
        # URLs are printed masked: a given REDIS_URL may carry a password.
        console.print(f"Simulator at {mask_url(api_url)}, Redis at {mask_url(redis_url)}, storage under {data_dir}")

        settings = settings_from(redis_url=redis_url, api_base_url=api_url, data_dir=data_dir,
                                 credentials_file=credentials, namespace=NAMESPACE, metrics_port=0)
        client = redis_lib.Redis.from_url(redis_url)
        clear_namespace(client, NAMESPACE)  # a demo starts from nothing each time
        env = dict(os.environ, REDIS_URL=redis_url, TIKTOK_API_BASE_URL=api_url, HARVEST_DATA_DIR=str(data_dir),
                   HARVEST_CREDENTIALS_FILE=str(credentials), HARVEST_NAMESPACE=NAMESPACE,
                   HARVEST_METRICS_PORT="0", LOG_LEVEL="WARNING")
        fleet = Fleet(env, processes=processes, threads=threads, log_path=logs / "workers.log").start()
        assert fleet.child is not None
        started.append(fleet.child)

        plan = prepare(read_spec_file(spec), settings)
        clear_harvest_files(Storage(data_dir), plan)
        start(plan, settings, producer_broker(settings, client), redis=client)
        console.print(f"Submitted harvest [bold]{plan.id}[/]: {len(plan.windows)} windows of up to 31 days, "
                      "newest first.")
        store = HarvestStore(client, Keys(NAMESPACE))
        status = watch(store, plan.id, timeout_s, fleet)
        exact = summarise(console, status, plan, api_url, data_dir)
        if status.state != "done" or not exact:
            raise typer.Exit(1)
    finally:
        for child in reversed(started):
            child.stop()


def watch(store, harvest_id: str, timeout_s: int, fleet: Fleet):
    progress = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    windows = progress.add_task("windows", total=None)
    users = progress.add_task("authors", total=None)
    deadline = time.monotonic() + timeout_s
    with Live(console=Console(stderr=True), refresh_per_second=4) as live:
        while True:
            status = store.status(harvest_id)
            progress.update(windows, total=status.windows_total, completed=status.windows_done)
            progress.update(users, total=status.users_requested, completed=status.users_done)
            live.update(Group(status_panel(status), progress))
            if status.state in ("done", "failed") or time.monotonic() > deadline or not fleet.alive():
                return status
            time.sleep(0.25)


def summarise(console: Console, status, plan, api_url: str, data_dir: Path) -> bool:
    """Print what was stored where; True when it is exactly the simulator's matching set."""
    from workers.storage import Storage

    storage = Storage(data_dir)
    truth = httpx.post(f"{api_url}/_sim/ground_truth", timeout=60, json={
        "query": _query_json(plan), "start_date": plan.period_start, "end_date": plan.period_end,
    }).json()["count"]
    page_files = list(storage.records_dir(plan).glob(Storage.PAGE_FILES))
    user_files = list(storage.records_dir(plan).glob(Storage.USER_FILES))
    took = (status.finished_at or time.time()) - status.submitted_at
    verdict = "[green]exact[/]" if status.records == truth else "[red]MISMATCH[/]"
    console.print(
        f"\nHarvest {plan.id}: [bold]{status.state}[/] in {took:.1f}s, {status.requests:,} API requests.\n"
        f"  videos stored: {status.records:,} (simulator's ground truth: {truth:,}: {verdict})\n"
        f"  authors: {status.users_done:,} profiles answered\n"
        f"  JSON-LD records: {len(page_files):,} page files + {len(user_files):,} profile files in\n"
        f"    {storage.records_dir(plan)}\n"
        f"  raw API pages in\n    {storage.source_dir(plan)}"
    )
    return status.records == truth


def _query_json(plan) -> dict:
    import msgspec

    return msgspec.to_builtins(plan.query)
