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
    duplicated: int  # stored twice, or stored and not expected
    # (missing, duplicated) of the fault-free run against the same expectation; None where
    # that run is itself the expectation (profiles: the simulator has no truth for them).
    fault_free: tuple[int, int] | None = None


def compare(kind: str, expected: set, found: Counter, fault_free: tuple[int, int] | None = None) -> Outcome:
    return Outcome(kind, len(expected), sum(found.values()), len(expected - set(found)),
                   sum(n - 1 for n in found.values() if n > 1) + len(set(found) - expected), fault_free)


@dataclass
class Requests:
    """Requests charged to one credential, both budgets (research, follower lists) together."""

    total: int
    by_endpoint: dict[str, int]

    @classmethod
    def of(cls, stats: dict, credential: str) -> "Requests":
        client = stats["clients"].get(f"{credential}-client-key", {})
        budgets = client.get("budgets", {})
        return cls(sum(budget["requests"] for budget in budgets.values()), dict(client.get("by_endpoint", {})))


@dataclass
class Report:
    outcomes: list[Outcome]
    states: dict[str, tuple[str, float | None]]  # harvest id -> (state, seconds from submission to its end)
    seconds: float
    kills: dict[str, int]
    events: list[tuple[float, str]]
    faults: dict[str, int]
    dead_letters: list[tuple[str, str]]  # (unit, reason)
    requests: Requests
    baseline: Requests

    @property
    def extra_requests(self) -> float:
        return self.requests.total / self.baseline.total - 1 if self.baseline.total else float("inf")

    @property
    def exact(self) -> bool:
        return all(state == "done" for state, _ in self.states.values()) and all(
            o.missing == 0 and o.duplicated == 0 and o.fault_free in (None, (0, 0)) for o in self.outcomes)

    def print(self, console: Console) -> None:
        table = Table(title="records (chaos run against the truth)")
        for column in ("kind", "expected", "stored", "missing", "duplicated", "fault-free run"):
            table.add_column(column, justify="left" if column == "kind" else "right")
        for o in self.outcomes:
            baseline = "reference" if o.fault_free is None else (
                "exact" if o.fault_free == (0, 0) else f"{o.fault_free[0]} missing, {o.fault_free[1]} dup.")
            table.add_row(o.kind, f"{o.expected:,}", f"{o.stored:,}", str(o.missing), str(o.duplicated), baseline)
        console.print(table)
        faults = Table(title="faults")
        faults.add_column("what")
        faults.add_column("count", justify="right")
        for group, count in sorted(self.kills.items()):
            faults.add_row(f"worker processes SIGKILLed ({group})", str(count))
        for name, count in sorted(self.faults.items()):
            faults.add_row(f"API fault injected: {name}", f"{count:,}")
        console.print(faults)
        console.print("[bold]events[/] (seconds after the harvests were submitted)")
        for at, what in self.events:
            console.print(f"  {at:7.1f}  {what}", highlight=False)
        console.print(f"[bold]dead letters[/]: {len(self.dead_letters)}")
        for unit, reason in self.dead_letters:
            console.print(f"  {unit}: {reason}", highlight=False, markup=False)
        self.print_requests(console)
        console.print(f"[bold]harvests[/] (the run took {self.seconds:.0f} s)", highlight=False)
        for harvest, (state, took) in self.states.items():
            console.print(f"  {harvest}: {state}" + (f" after {took:.0f} s" if took is not None else ""),
                          highlight=False)
        verdict = "exact" if self.exact else "NOT exact"
        budget = "within" if self.extra_requests <= 0.10 else "OVER"
        console.print(f"[bold]verdict[/]: {verdict}; requests {budget} the 10% budget", highlight=False)

    def print_requests(self, console: Console) -> None:
        table = Table(title="requests (both harvests, one credential per run)")
        for column in ("endpoint", "fault-free", "chaos", "extra"):
            table.add_column(column, justify="left" if column == "endpoint" else "right")
        rows = [(e, self.baseline.by_endpoint.get(e, 0), self.requests.by_endpoint.get(e, 0))
                for e in sorted(set(self.baseline.by_endpoint) | set(self.requests.by_endpoint))]
        for endpoint, before, now in [*rows, ("total", self.baseline.total, self.requests.total)]:
            extra = f"{now / before - 1:+.1%}" if before else "—"
            table.add_row(endpoint, f"{before:,}", f"{now:,}", extra)
        console.print(table)
