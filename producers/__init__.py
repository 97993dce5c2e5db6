"""Starting and steering harvests: what the CLI and other iCANDID services call.

    import producers
    submitted = producers.submit(spec)   # a spec as plain data (the README's "A harvest spec")
    producers.status(submitted.harvest_id)
    producers.pause(...), producers.resume(...), producers.cancel(...)

Each reads the environment the CLI reads (REDIS_URL, HARVEST_NAMESPACE,
HARVEST_CREDENTIALS_FILE) unless given `settings`, and may be given a Redis client to reuse.
Nothing here imports worker code. ops/intake/README.md has the same as queue messages.
"""

import redis as redis_py

from core.config import Settings, get_settings
from core.harvests import Harvests
from core.keys import Keys
from core.messages import producer_broker
from producers.control import Controlled, ControlRefused
from producers.refusal import SpecRefused
from producers.submission import Submitted
from schemas.status import HarvestStatus

__all__ = ["ControlRefused", "Controlled", "SpecRefused", "Submitted", "cancel", "pause", "resume", "status",
           "submit"]


def submit(spec: dict, *, settings: Settings | None = None, redis: redis_py.Redis | None = None) -> Submitted:
    """Validate `spec`, register it and enqueue its first pages; raises SpecRefused (naming
    the field) before anything is written. Submitting the same spec again starts nothing new."""
    from producers.submission import prepare, start

    settings = settings or get_settings()
    plan = prepare(spec, settings)
    client = redis or _client(settings)
    return start(plan, settings, producer_broker(settings, client), redis=client)


def status(harvest_id: str, *, settings: Settings | None = None,
           redis: redis_py.Redis | None = None) -> HarvestStatus | None:
    """The harvest's status (what `tiktok-harvest status ID --json` prints); None if unknown."""
    settings = settings or get_settings()
    return Harvests(redis or _client(settings), Keys(settings.namespace)).status(harvest_id)


def pause(harvest_id: str, *, settings: Settings | None = None, redis: redis_py.Redis | None = None) -> Controlled:
    from producers import control

    settings = settings or get_settings()
    return control.pause(redis or _client(settings), Keys(settings.namespace), harvest_id)


def resume(harvest_id: str, *, settings: Settings | None = None, redis: redis_py.Redis | None = None) -> Controlled:
    from producers import control

    settings = settings or get_settings()
    client = redis or _client(settings)
    return control.resume(client, Keys(settings.namespace), producer_broker(settings, client), harvest_id)


def cancel(harvest_id: str, *, settings: Settings | None = None, redis: redis_py.Redis | None = None) -> Controlled:
    from producers import control

    settings = settings or get_settings()
    return control.cancel(redis or _client(settings), Keys(settings.namespace), harvest_id)


def _client(settings: Settings) -> redis_py.Redis:
    return redis_py.Redis.from_url(settings.redis_url, socket_connect_timeout=5, socket_timeout=30)
