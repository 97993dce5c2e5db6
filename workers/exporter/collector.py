"""The exporter's Prometheus collector: reads Redis when scraped (at most once per
`interval_s`, however many Prometheus servers ask) and turns the readings into metrics.

Labels hold queue, actor, credential, budget, project, harvest and endpoint names; never a
secret, a video id, a cursor or a username.
"""

import threading
import time
from collections.abc import Callable, Iterable

import redis as redis_lib
import structlog
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from core.config import Settings
from core.credentials import CredentialsError
from core.keys import Keys
from schemas.status import HarvestStatus
from workers.exporter.eta import eta_seconds
from workers.exporter.harvests import HarvestReader
from workers.exporter.queues import DeadLetterCounts, read_queues, read_workers
from workers.exporter.quota import BudgetReading, CredentialsFile, read_budgets
from workers.exporter.redis_memory import read_memory

log = structlog.get_logger(__name__)


class FleetCollector(Collector):
    def __init__(self, redis, settings: Settings, *, interval_s: float = 15.0,
                 clock: Callable[[], float] = time.time):
        self._redis = redis
        self._settings = settings
        self._keys = Keys(settings.namespace)
        self._interval_s = interval_s
        self._clock = clock
        self._credentials = CredentialsFile(settings.credentials_file)
        self._letters = DeadLetterCounts()
        self._harvests = HarvestReader(redis, self._keys)
        self._lock = threading.Lock()
        self._cached: list[Metric] = []
        self._read_at: float | None = None

    def describe(self) -> Iterable[Metric]:
        return []  # registering must not read Redis

    def collect(self) -> Iterable[Metric]:
        with self._lock:
            now = time.monotonic()
            if self._read_at is None or now - self._read_at >= self._interval_s:
                self._cached = self.read()
                self._read_at = now
            return list(self._cached)

    def read(self) -> list[Metric]:
        began = time.perf_counter()
        up = GaugeMetricFamily("tiktok_exporter_redis_up", "1 when the exporter's last read of Redis succeeded.")
        try:
            families = self._read_redis()
            up.add_metric([], 1)
        except redis_lib.RedisError as error:
            log.warning("exporter_read_failed", error=type(error).__name__)
            families = []
            up.add_metric([], 0)
        took = GaugeMetricFamily("tiktok_exporter_read_seconds", "How long the exporter's last read of Redis took.")
        took.add_metric([], round(time.perf_counter() - began, 6))
        return [*families, up, took]

    def _read_redis(self) -> list[Metric]:
        now = self._clock()
        settings, keys = self._settings, self._keys
        workers, worker_ids = read_workers(self._redis, keys, settings.dead_worker_after_s, now)
        families = _queue_families(read_queues(self._redis, keys, worker_ids, now))
        families += _dead_letter_families(self._letters.read(self._redis, keys))
        families += _worker_families(workers.live, workers.dead)
        credentials_ok = GaugeMetricFamily("tiktok_exporter_credentials_ok",
                                           "1 when the exporter could read the credentials file.")
        try:
            budgets = read_budgets(self._redis, keys, self._credentials.current(), settings.quota_clock_offset_s)
            credentials_ok.add_metric([], 1)
        except CredentialsError as error:
            log.warning("exporter_credentials_unreadable", error=str(error))
            budgets = []
            credentials_ok.add_metric([], 0)
        families += [*_budget_families(budgets), credentials_ok]
        families += _harvest_families(self._harvests.read(now), budgets, now)
        memory = read_memory(self._redis)
        if memory is not None:
            families += _memory_families(memory.used_bytes, memory.max_bytes, memory.evicted_keys)
        return families


def _gauge(name: str, documentation: str, labels: list[str], rows: Iterable[tuple[list[str], float]]) -> Metric:
    family = GaugeMetricFamily(name, documentation, labels=labels)
    for values, value in rows:
        family.add_metric(values, value)
    return family


def _queue_families(queues) -> list[Metric]:
    return [
        _gauge("tiktok_queue_ready_messages", "Messages waiting to be fetched.", ["queue"],
               (([q.queue], q.ready) for q in queues)),
        _gauge("tiktok_queue_delayed_messages", "Messages waiting for their time (parked for quota, retry "
               "back-offs), held by a worker or not.", ["queue"], (([q.queue], q.delayed) for q in queues)),
        _gauge("tiktok_queue_inflight_messages", "Messages fetched by a worker and not acknowledged yet.",
               ["queue"], (([q.queue], q.in_flight) for q in queues)),
        _gauge("tiktok_queue_oldest_message_age_seconds", "How long the oldest ready message has waited since it "
               "became ready (0 when none waits).", ["queue"], (([q.queue], q.oldest_age_s) for q in queues)),
    ]


def _dead_letter_families(counts: dict[tuple[str, str], int]) -> list[Metric]:
    return [_gauge("tiktok_dead_letters_stored", "Dead letters kept for `tiktok-harvest dead list/replay`.",
                   ["queue", "actor"], (([queue, actor], n) for (queue, actor), n in sorted(counts.items())))]


def _worker_families(live: int, dead: int) -> list[Metric]:
    return [
        _gauge("tiktok_workers_live", "Worker processes whose heartbeat is within the dead-worker timeout.",
               [], [([], live)]),
        _gauge("tiktok_workers_dead", "Worker processes silent for longer, whose messages are about to be handed "
               "back.", [], [([], dead)]),
    ]


def _budget_families(budgets: list[BudgetReading]) -> list[Metric]:
    def rows(value: Callable[[BudgetReading], float]):
        return (([b.credential, b.budget], value(b)) for b in budgets)

    return [
        _gauge("tiktok_quota_requests_used", "Requests taken from the budget today (UTC).",
               ["credential", "budget"], rows(lambda b: b.requests_used)),
        _gauge("tiktok_quota_records_used", "Records taken from the budget today (UTC).",
               ["credential", "budget"], rows(lambda b: b.records_used)),
        _gauge("tiktok_quota_requests_limit", "The budget's requests per day.",
               ["credential", "budget"], rows(lambda b: b.requests_limit)),
        _gauge("tiktok_quota_records_limit", "The budget's records per day.",
               ["credential", "budget"], rows(lambda b: b.records_limit)),
        _gauge("tiktok_quota_reset_seconds", "Seconds until the budget resets at 00:00 UTC.",
               ["credential", "budget"], rows(lambda b: b.reset_in_s)),
        _gauge("tiktok_quota_day_spent", "1 when the budget serves nothing more today (a limit reached, or "
               "TikTok's 429s hold it past the reset).", ["credential", "budget"], rows(lambda b: int(b.day_spent))),
        _gauge("tiktok_quota_throttled", "1 while TikTok's persistent 429s keep the budget from asking.",
               ["credential", "budget"], rows(lambda b: int(b.throttled_for_s > 0))),
        _gauge("tiktok_quota_api_down", "1 while calls fail across units and only probes go out.",
               ["credential", "budget"], rows(lambda b: int(b.api_down))),
    ]


def _harvest_families(statuses: list[HarvestStatus], budgets: list[BudgetReading], now: float) -> list[Metric]:
    by_credential: dict[str, dict[str, BudgetReading]] = {}
    for budget in budgets:
        by_credential.setdefault(budget.credential, {})[budget.budget] = budget
    per_endpoint = [([s.id, s.project, name], e) for s in statuses for name, e in s.endpoints.items()]
    etas = [(s, eta_seconds(s, by_credential.get(s.credential, {}), now)) for s in statuses]
    return [
        _gauge("tiktok_harvest_state", "1 for the harvest's state (registered harvests not finished more than a "
               "day ago).", ["harvest", "project", "credential", "state"],
               (([s.id, s.project, s.credential, s.state], 1) for s in statuses)),
        _gauge("tiktok_harvest_units", "Units known so far per endpoint: windows, accounts, videos' comments, ...",
               ["harvest", "project", "endpoint"], ((values, e.chains_total) for values, e in per_endpoint)),
        _gauge("tiktok_harvest_units_done", "Units finished per endpoint.",
               ["harvest", "project", "endpoint"], ((values, e.chains_done) for values, e in per_endpoint)),
        _gauge("tiktok_harvest_records_stored", "Records stored per endpoint, each once per harvest.",
               ["harvest", "project", "endpoint"], ((values, e.records) for values, e in per_endpoint)),
        _gauge("tiktok_harvest_requests_spent", "Research API requests spent per endpoint.",
               ["harvest", "project", "endpoint"], ((values, e.requests) for values, e in per_endpoint)),
        _gauge("tiktok_harvest_eta_seconds", "Rough seconds until the harvest is done, quota waits included "
               "(workers/exporter/eta.py); 0 once done.", ["harvest", "project"],
               (([s.id, s.project], eta) for s, eta in etas if eta is not None)),
    ]


def _memory_families(used: int, maximum: int, evicted: int) -> list[Metric]:
    evictions = CounterMetricFamily("tiktok_redis_evicted_keys", "Keys Redis evicted since it started (any is "
                                    "harvest state lost).")
    evictions.add_metric([], evicted)
    return [
        _gauge("tiktok_redis_used_memory_bytes", "Memory Redis uses (INFO used_memory).", [], [([], used)]),
        _gauge("tiktok_redis_maxmemory_bytes", "Redis's memory limit (maxmemory); 0: none set.", [], [([], maximum)]),
        evictions,
    ]
