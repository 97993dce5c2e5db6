"""What a chaos run stored, against what it should have, as a table."""

import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import msgspec
from rich.console import Console
from rich.table import Table

from schemas.spec import HarvestPlan
from workers.storage import Storage


@dataclass
class Stored:
    videos: Counter = field(default_factory=Counter)  # video id -> records holding it
    users: Counter = field(default_factory=Counter)  # username -> Person records


def stored(data_dir: Path, plan: HarvestPlan) -> Stored:
    found = Stored()
    folder = Storage(data_dir).records_dir(plan)
    for path in folder.glob(Storage.PAGE_FILES):
        for record in json.loads(path.read_bytes()):
            found.videos[record["@id"].removeprefix("iCANDID_tiktok_")] += 1
    for path in folder.glob(Storage.USER_FILES):
        for record in json.loads(path.read_bytes()):
            found.users[record["alternateName"]] += 1
    return found


def ground_truth(simulator_url: str, plan: HarvestPlan) -> set[str]:
    response = httpx.post(f"{simulator_url}/_sim/ground_truth", timeout=120, json={
        "query": msgspec.to_builtins(plan.query), "start_date": plan.period_start, "end_date": plan.period_end})
    response.raise_for_status()
    return set(response.json()["ids"])


@dataclass
class Outcome:
    kind: str
    expected: int
    stored: int
    missing: int
    duplicated: int


def compare(kind: str, expected: set[str], found: Counter) -> Outcome:
    return Outcome(kind, len(expected), sum(found.values()), len(expected - set(found)),
                   sum(n - 1 for n in found.values() if n > 1) + len(set(found) - expected))


@dataclass
class Report:
    outcomes: list[Outcome]
    state: str
    seconds: float
    kills: dict[str, int]
    events: list[tuple[float, str]]
    faults: dict[str, int]
    dead_letters: list[tuple[str, str]]  # (unit, reason)
    requests: int
    baseline_requests: int

    @property
    def extra_requests(self) -> float:
        return self.requests / self.baseline_requests - 1 if self.baseline_requests else float("inf")

    @property
    def exact(self) -> bool:
        return self.state == "done" and all(o.missing == 0 and o.duplicated == 0 for o in self.outcomes)

    def print(self, console: Console) -> None:
        table = Table(title="records")
        for column in ("kind", "expected", "stored", "missing", "duplicated"):
            table.add_column(column, justify="left" if column == "kind" else "right")
        for o in self.outcomes:
            table.add_row(o.kind, f"{o.expected:,}", f"{o.stored:,}", str(o.missing), str(o.duplicated))
        console.print(table)
        faults = Table(title="faults")
        faults.add_column("what")
        faults.add_column("count", justify="right")
        for group, count in sorted(self.kills.items()):
            faults.add_row(f"worker processes SIGKILLed ({group})", str(count))
        for name, count in sorted(self.faults.items()):
            faults.add_row(f"API fault injected: {name}", f"{count:,}")
        console.print(faults)
        console.print("[bold]events[/] (seconds after the harvest was submitted)")
        for at, what in self.events:
            console.print(f"  {at:7.1f}  {what}", highlight=False)
        console.print(f"[bold]dead letters[/]: {len(self.dead_letters)}")
        for unit, reason in self.dead_letters:
            console.print(f"  {unit}: {reason}", highlight=False, markup=False)
        console.print(f"[bold]requests[/]: {self.requests:,} against {self.baseline_requests:,} in the fault-free "
                      f"run ({self.extra_requests:+.1%}); harvest {self.state} after {self.seconds:.0f} s",
                      highlight=False)
        verdict = "exact" if self.exact else "NOT exact"
        budget = "within" if self.extra_requests <= 0.10 else "OVER"
        console.print(f"[bold]verdict[/]: {verdict}; requests {budget} the 10% budget", highlight=False)
