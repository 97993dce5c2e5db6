"""The resources a worker process uses, created once per process (not per message)."""

from dataclasses import dataclass

import dramatiq
import httpx
import redis as redis_lib
from dramatiq.brokers.redis import RedisBroker

from core.config import Settings, get_settings
from core.credentials import CredentialStore
from core.keys import Keys
from workers.lease import UnitLeases
from workers.progress import HarvestStore
from workers.quota import QuotaBucket
from workers.refresh_progress import RefreshStore
from workers.storage import Storage
from workers.tiktok.client import TikTokClient, make_http_client
from workers.tiktok.tokens import TokenCache


@dataclass
class WorkerContext:
    settings: Settings
    redis: redis_lib.Redis
    keys: Keys
    store: HarvestStore
    refreshes: RefreshStore  # compliance refreshes (workers/refresh.py)
    leases: UnitLeases
    quota: QuotaBucket
    tokens: TokenCache
    client: TikTokClient
    http: httpx.Client
    storage: Storage
    credentials: CredentialStore
    broker: dramatiq.Broker

    def close(self) -> None:
        self.leases.close()
        self.http.close()


def build_context(
    settings: Settings,
    broker: dramatiq.Broker,
    *,
    redis: redis_lib.Redis | None = None,
    http: httpx.Client | None = None,
) -> WorkerContext:
    if redis is None:
        assert isinstance(broker, RedisBroker), "without `redis`, the broker's Redis client is used"
        redis = broker.client
    keys = Keys(settings.namespace)
    http = http or make_http_client(settings.api_base_url)
    client = TikTokClient(http)
    return WorkerContext(
        settings=settings,
        redis=redis,
        keys=keys,
        store=HarvestStore(redis, keys),
        refreshes=RefreshStore(redis, keys),
        leases=UnitLeases(redis, keys, hold_s=settings.lease_hold_s),
        quota=QuotaBucket(redis, keys, clock_offset_s=settings.quota_clock_offset_s),
        tokens=TokenCache(redis, keys, client.request_token),
        client=client,
        http=http,
        storage=Storage(settings.data_dir),
        credentials=CredentialStore(settings.credentials_file),
        broker=broker,
    )


_context: WorkerContext | None = None


def get_context() -> WorkerContext:
    global _context
    if _context is None:
        _context = build_context(get_settings(), dramatiq.get_broker())
    return _context


def set_context(context: WorkerContext | None) -> None:
    global _context
    _context = context
