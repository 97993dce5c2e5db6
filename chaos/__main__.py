"""`make chaos`: one harvest of the demo query over 2024-2025 (about 28,000 videos by 1,100
authors, with their profiles) against the simulator and a Redis with an append-only file,
while everything the fleet must survive happens to it:

- worker processes SIGKILLed, on both hosts (at least ten times; each fleet restarted like a
  container);
- every fault the simulator can inject, at low rates, all the time;
- Redis SIGKILLed and started again;
- the second host's link cut for 40 s;
- TikTok down for 60 s.

A second, smaller harvest (chaos/lists.py: three days of the same accounts, with comments,
follower lists, liked / pinned / reposted videos and playlists) runs alongside on the same
fleet, so the follow-up endpoints go through the same faults; the faults play on while
either harvest runs.

It first runs both harvests without any of that (a credential of its own, so the simulator
counts it apart) for the request count to compare with, then prints what was stored
against the ground truth, the faults, the dead letters with their reasons and the requests
spent. Both harvests of a run share its credential (as two harvests of one project do), so
requests are compared in total, both budgets (research and follower lists) together: the
lists harvest is too small for its own 10% to mean anything, and the per-endpoint table
shows where any extra went. Exit code 0 when both harvests are exact, the fault-free run
stored exactly the truth too, and the chaos run spent at most 10% more requests.
"""

import random
import tempfile
import threading
import time
from pathlib import Path

import typer
from rich.console import Console

from chaos import lists
from chaos.report import Report, Requests, compare, ground_truth, stored
from chaos.stage import Stage, sleep_until, stage, wait_for, write_credentials
from core.config import Settings
from core.keys import Keys
from core.logs import configure_logging
from core.messages import producer_broker
from producers.submission import prepare, start
from workers.middleware.dead_letters import list_dead
from workers.progress import HarvestStore

SPEC = {"id": "tiktok_query_chaos", "name": "Klimaat op TikTok, 2024-2025", "project": "chaos",
        "accounts": ["@vrtnws", "hln_be"], "keywords": ["klimaat", "#klimaatzaak"], "regions": ["BE", "NL"],
        "period": "20240101-20251231", "collect": ["videos", "users"]}
# Every fault of the simulator, at rates a day of real TikTok could show; each failed request
# still costs one, as TikTok counts it.
FAULTS = dict(error_500_rate=0.01, error_504_rate=0.004, malformed_rate=0.004, search_id_invalid_rate=0.004,
              invalid_cursor_rate=0.004, empty_page_rate=0.01, throttle_429_rate=0.004, user_500_rate=0.01,
              slow_rate=0.02, slow_ms=3000, search_id_change_rate=0.02, comment_500_rate=0.02,
              playlist_500_rate=0.02)
GROUPS = {"A": (2, 3), "B": (1, 4)}  # host A: 2 processes x 3 threads; host B (cut off): 1 x 4
console = Console()


def harvest(the_stage: Stage, namespace: str, credential: str, *,
            groups: dict) -> tuple[HarvestStore, list[str], Settings]:
    """Submits both harvests (the main one first), then starts the fleets that work on them."""
    credentials = write_credentials(the_stage.folder / f"{credential}.toml", credential)
    the_stage.env.update(HARVEST_NAMESPACE=namespace, HARVEST_CREDENTIALS_FILE=str(credentials))
    settings = Settings(redis_url=the_stage.redis_server.url, namespace=namespace, credentials_file=credentials,
                        data_dir=the_stage.folder / "data" / namespace, metrics_port=0)
    the_stage.env["HARVEST_DATA_DIR"] = str(settings.data_dir)
    client = the_stage.redis
    broker = producer_broker(settings, client)
    harvest_ids = []
    for spec in (SPEC, lists.LISTS_SPEC):
        plan = prepare(spec, settings)
        start(plan, settings, broker, redis=client)
        harvest_ids.append(plan.id)
    for group, (processes, threads) in groups.items():
        the_stage.start_fleet(group, processes, threads)
    return HarvestStore(client, Keys(namespace)), harvest_ids, settings


def over(store: HarvestStore, harvest_ids: list[str]) -> bool:
    return all(store.registered_status(h).state in ("done", "failed") for h in harvest_ids)


def ended(store: HarvestStore, harvest_id: str) -> tuple[str, float | None]:
    """The harvest's state, and when it ended (seconds after it was submitted)."""
    status = store.registered_status(harvest_id)
    return status.state, None if status.finished_at is None else status.finished_at - status.submitted_at


def fault_free(the_stage: Stage) -> Requests:
    """The same harvests with nothing going wrong (and no latency: the count is the same)."""
    the_stage.switches(latency_ms=0, latency_jitter_ms=0)
    store, harvest_ids, _ = harvest(the_stage, "baseline", "baseline", groups={"A": (2, 4)})
    wait_for(lambda: all(store.registered_status(h).state == "done" for h in harvest_ids), 1800,
             "the fault-free harvests")
    the_stage.stop_fleets()
    requests = Requests.of(the_stage.simulator_stats(), "baseline")
    console.print(f"fault-free run: {requests.total:,} requests", highlight=False)
    return requests


class Monkey(threading.Thread):
    """Plays the timeline of faults while either harvest runs."""

    def __init__(self, the_stage: Stage, store: HarvestStore, harvest_ids: list[str], kills: int, seed: int):
        super().__init__(daemon=True, name="chaos-monkey")
        self.stage, self.store, self.harvest_ids, self.kills_wanted = the_stage, store, harvest_ids, kills
        self.rng = random.Random(seed)
        self.kills: dict[str, int] = {}
        self.events: list[tuple[float, str]] = []
        self.t0 = time.monotonic()

    def note(self, what: str) -> None:
        self.events.append((time.monotonic() - self.t0, what))
        console.print(f"  {time.monotonic() - self.t0:6.1f}s  {what}", highlight=False)

    def running(self) -> bool:
        """While either harvest runs: the lists harvest may outlast the big one."""
        return not over(self.store, self.harvest_ids)

    def kill(self) -> None:
        group = self.stage.kill_a_worker(self.rng)
        self.kills[group] = self.kills.get(group, 0) + 1
        self.note(f"SIGKILL a worker process on host {group} (kill {sum(self.kills.values())})")

    def run(self) -> None:
        timeline = sorted([(12 + 11 * i, self.kill) for i in range(self.kills_wanted)] + [
            (30, self.redis_restart), (45, self.cut_host_b), (100, self.tiktok_down)], key=lambda e: e[0])
        for at, action in timeline:
            sleep_until(self.t0, at)
            if not self.running():
                self.note(f"harvest over: {action.__name__} not played")
                continue
            action()

    def redis_restart(self) -> None:
        self.note("SIGKILL Redis")
        self.stage.redis_server.kill()
        time.sleep(3)
        self.stage.redis_server.start()
        self.note("Redis started again (append-only file)")

    def cut_host_b(self) -> None:
        self.stage.cut_off.add("B")
        self.stage.host_b.cut()
        self.note("host B cut off for 40 s")
        threading.Timer(40, self._restore).start()

    def _restore(self) -> None:
        self.stage.host_b.restore()
        self.stage.cut_off.discard("B")
        self.note("host B back")

    def tiktok_down(self) -> None:
        self.stage.switches(outage_status=503, outage_for_s=60)
        self.note("TikTok down (503 on everything) for 60 s")


def main(kills: int = typer.Option(10, help="Worker processes to SIGKILL (at least)."),
         latency_ms: float = typer.Option(700, help="Simulator latency: long enough for every fault to find "
                                                   "the harvest still running."),
         seed: int = typer.Option(11, help="Which workers get killed."),
         keep: bool = typer.Option(False, help="Keep the run's folder (logs, data) and print its path.")):
    configure_logging("WARNING")
    folder = Path(tempfile.mkdtemp(prefix="tiktok-chaos-"))
    with stage(folder, latency_ms=latency_ms, jitter_ms=latency_ms / 2) as the_stage:
        baseline = fault_free(the_stage)
        the_stage.switches(latency_ms=latency_ms, latency_jitter_ms=latency_ms / 2, **FAULTS)
        began = time.monotonic()
        store, harvest_ids, settings = harvest(the_stage, "chaos", "chaos", groups=GROUPS)
        monkey = Monkey(the_stage, store, harvest_ids, kills, seed)
        monkey.start()
        wait_for(lambda: not monkey.running() and not monkey.is_alive(), 3600, "the chaos harvests")
        seconds = time.monotonic() - began
        plan, lists_plan = (store.plan(h) for h in harvest_ids)
        assert plan is not None and lists_plan is not None
        data = the_stage.folder / "data"
        found, baseline_found = stored(settings.data_dir, plan), stored(data / "baseline", plan)
        truth = ground_truth(the_stage.simulator_url, plan)
        baseline_videos = compare("videos", truth, baseline_found.videos)
        found_lists = lists.stored(settings.data_dir, lists_plan, the_stage.redis, "chaos")
        baseline_lists = lists.stored(data / "baseline", lists_plan, the_stage.redis, "baseline")
        lists_truth = lists.ground_truth(the_stage.simulator_url, lists_plan,
                                         ground_truth(the_stage.simulator_url, lists_plan), settings.data_dir)
        stats = the_stage.simulator_stats()
        report = Report(
            outcomes=[compare("videos", truth, found.videos, (baseline_videos.missing, baseline_videos.duplicated)),
                      compare("profiles", set(baseline_found.users), found.users),
                      *lists.outcomes(lists_truth, found_lists, baseline_lists)],
            states={h: ended(store, h) for h in harvest_ids}, seconds=seconds,
            kills=monkey.kills, events=monkey.events, faults={k: v for k, v in stats["faults"].items() if v},
            dead_letters=[(f"{letter.actor_name} {letter.payload}", letter.reason)
                          for letter in list_dead(the_stage.redis, Keys("chaos"))],
            requests=Requests.of(stats, "chaos"), baseline=baseline)
    report.print(console)
    if keep:
        console.print(f"run folder: {folder}")
    else:
        import shutil

        shutil.rmtree(folder, ignore_errors=True)
    raise typer.Exit(0 if report.exact and report.extra_requests <= 0.10 else 1)


if __name__ == "__main__":
    typer.run(main)
