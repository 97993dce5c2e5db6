"""Each credential's budgets today (research requests, follower lists), read through the
quota bucket's own `peek` script, so the exporter sees the day exactly as the workers do
(Redis TIME plus HARVEST_QUOTA_CLOCK_OFFSET_S, a stale day read as a fresh one)."""

from dataclasses import dataclass
from pathlib import Path

from core import lua
from core.credentials import load_credentials
from core.keys import BUDGETS, FOLLOWS, Keys, budget_bucket
from schemas.credentials import Credential
from workers.quota.bucket import ACTIVE_S


@dataclass(frozen=True)
class BudgetReading:
    credential: str
    budget: str  # research or follows
    requests_used: int
    records_used: int
    requests_limit: int
    records_limit: int
    reset_in_s: float  # until 00:00 UTC by the bucket's clock
    throttled_for_s: float  # >0: TikTok kept answering 429, nothing is asked until then
    api_down: bool  # calls fail across units: only probes go out
    harvests_sharing: int  # harvests that asked for this budget in the last ACTIVE_S

    @property
    def requests_left(self) -> int:
        return max(0, self.requests_limit - self.requests_used)

    @property
    def day_spent(self) -> bool:
        """Nothing more today: a limit reached, or TikTok's 429s hold the budget past the reset."""
        return (self.requests_used >= self.requests_limit or self.records_used >= self.records_limit
                or self.throttled_for_s >= self.reset_in_s)


def limits(credential: Credential, budget: str) -> tuple[int, int]:
    if budget == FOLLOWS:
        return credential.daily_follow_requests, credential.daily_follow_records
    return credential.daily_requests, credential.daily_records


class CredentialsFile:
    """The credentials file, read again when it changes (as workers do)."""

    def __init__(self, path: Path):
        self._path = Path(path)
        self._stamp: tuple[int, int] | None = None
        self._credentials: dict[str, Credential] = {}

    def current(self) -> dict[str, Credential]:
        """Raises CredentialsError when the file cannot be used."""
        stat = self._path.stat() if self._path.exists() else None
        stamp = (stat.st_mtime_ns, stat.st_size) if stat else None
        if stamp != self._stamp or stamp is None:
            self._credentials = load_credentials(self._path)
            self._stamp = stamp
        return self._credentials


def read_budgets(redis, keys: Keys, credentials: dict[str, Credential], clock_offset_s: float) -> list[BudgetReading]:
    peek = lua.register(redis, "peek", "workers.quota", "")
    order = [(name, budget) for name in sorted(credentials) for budget in BUDGETS]
    with redis.pipeline(transaction=False) as pipe:
        for name, budget in order:
            bucket = budget_bucket(name, budget)
            peek(keys=[keys.quota(bucket), keys.quota_active(bucket), keys.quota_shares_prefix(bucket)],
                 args=[str(clock_offset_s), "", ACTIVE_S], client=pipe)
        answers = pipe.execute()
    readings = []
    for (name, budget), answer in zip(order, answers, strict=True):
        requests, records, reset_ms, spent_ms, _mine, sharing, down_ms, _probe_ms = (int(v) for v in answer)
        request_limit, record_limit = limits(credentials[name], budget)
        readings.append(BudgetReading(name, budget, requests, records, request_limit, record_limit,
                                      reset_ms / 1000, spent_ms / 1000, down_ms > 0, sharing))
    return readings
