"""Which of a project's credentials (TikTok keys) a unit's call may spend, in what order.

A project may hold several keys, each with its own daily budget. A unit tries the project's
keys that are valid today, starting at one chosen by the unit's name (so the units of a
harvest spread evenly over the keys) and going on to the next when one cannot serve (its day
spent, TikTok throttling it, its fair share taken): two keys give twice the day, each spent
to its own limit. Only the harvest's own project's keys are ever tried.
"""

import datetime as dt
import time
import zlib

from core.keys import FOLLOWS, RESEARCH, budget_bucket
from schemas.credentials import Credential
from workers.quota.bucket import Grant, QuotaBucket

# What a stored answer's note says paid for it: the key's name and the reservation, apart by a
# character no key's name can hold (names are printable).
PAID_SEP = "\x1f"


def keys_to_try(credentials: dict[str, Credential], project: str, harvest: str, unit: str,
                clock_offset_s: float = 0.0) -> list[tuple[str, Credential]]:
    """The project's keys valid today (UTC, on the buckets' clock), the unit's own first."""
    today = dt.datetime.fromtimestamp(time.time() + clock_offset_s, dt.UTC).date()
    own = sorted((name, c) for name, c in credentials.items() if c.project == project and c.valid_on(today))
    if not own:
        return []
    first = zlib.crc32(f"{harvest}|{unit}".encode()) % len(own)
    return own[first:] + own[:first]


def paid_with(credential: str, reservation: str) -> str:
    return f"{credential}{PAID_SEP}{reservation}"


def payer(paid_by: str, budget: str, plan_credential: str) -> tuple[str, str]:
    """(bucket, reservation) of a stored answer's payment note; a note written before keys
    were spread over names no key, and means the plan's own."""
    credential, sep, reservation = paid_by.partition(PAID_SEP)
    if not sep:
        credential, reservation = plan_credential, paid_by
    return budget_bucket(credential, budget), reservation


def take_from_keys(quota: QuotaBucket, keys: list[tuple[str, Credential]], harvest: str, reservation: str,
                   want_records: int, least_records: int = 1, budget: str = RESEARCH,
                   ) -> tuple[tuple[str, Credential, Grant] | None, list[tuple[str, Grant]]]:
    """One request from the first of `keys` whose `budget` grants it: ((name, key, grant),
    the refusals before it), or (None, every key's refusal). A refusal saying the harvest is
    paused or cancelled ends the search: no other key would grant either."""
    refused: list[tuple[str, Grant]] = []
    for name, credential in keys:
        limits = credential.follow_budget() if budget == FOLLOWS else credential
        grant = quota.take(budget_bucket(name, budget), limits, harvest, reservation, want_records, least_records)
        if grant.granted:
            return (name, credential, grant), refused
        refused.append((name, grant))
        if grant.why in ("paused", "cancelled"):
            break
    return None, refused
