"""Which failures are retried, and how patiently."""

from dramatiq.middleware import Retries

from workers.tiktok.errors import PermanentError

MAX_RETRIES = 8
# 1 s, 2 s, 4 s … capped at 5 minutes (with jitter): about 8 minutes before a dead letter.
MIN_BACKOFF_MS = 1_000
MAX_BACKOFF_MS = 300_000


def should_retry(retries_so_far: int, exception: BaseException) -> bool:
    if isinstance(exception, PermanentError):
        return False  # a bad query or a revoked key does not heal: dead-letter it now
    return retries_so_far < MAX_RETRIES


def retries() -> Retries:
    return Retries(min_backoff=MIN_BACKOFF_MS, max_backoff=MAX_BACKOFF_MS, retry_when=should_retry)
