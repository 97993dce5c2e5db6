"""Pause, resume and cancel a harvest: for the CLI and for services on the intake queue.

Each is one atomic state change in Redis (core/lua/harvest_control.lua), so it shows in
`status` at once however many messages are queued; the workers do the rest:

- paused: no unit takes quota any more (workers/quota/take.lua checks the state in the same
  step that would grant the call), so no request goes out once `status` says `paused`; calls
  already granted finish. Every message that meets the pause is held in Redis instead of
  being run (workers/actors.py); `resume` sends the held messages again and the harvest goes
  on exactly where it stopped.
- cancelled: for good. Queued messages are dropped without a call, held ones are forgotten,
  what was stored stays; the harvest's state is purged from Redis after its retention.

Both pause and cancel leave the credential's fair share at once, so the other harvests on
the credential may use the budget (a resumed harvest joins again with its next call).
"""

import time
from dataclasses import dataclass

import dramatiq

from core import lua
from core.harvests import Harvests
from core.keys import Keys
from schemas.status import HarvestStatus

__all__ = ["ControlRefused", "Controlled", "cancel", "pause", "resume"]


class ControlRefused(Exception):
    """The harvest is unknown, done, or cancelled for good: there is nothing to change."""

    def __init__(self, harvest_id: str, why: str):
        self.harvest_id, self.why = harvest_id, why
        super().__init__(f"harvest {harvest_id!r}: {why}")


@dataclass(frozen=True)
class Controlled:
    status: HarvestStatus  # as it is right after the change
    changed: bool  # False: it was in that state already
    messages_resent: int = 0  # resume: held messages sent again


def pause(redis, keys: Keys, harvest_id: str) -> Controlled:
    return _change(redis, keys, harvest_id, "pause")


def cancel(redis, keys: Keys, harvest_id: str) -> Controlled:
    return _change(redis, keys, harvest_id, "cancel")


def resume(redis, keys: Keys, broker: dramatiq.Broker, harvest_id: str) -> Controlled:
    """Resume a paused harvest and send its held messages again. Safe to repeat: a resume cut
    short (a crash, Redis gone) is finished by the next one, which sends what is still held
    (a message sent twice is harmless: the unit runs once)."""
    controlled = _change(redis, keys, harvest_id, "resume")
    resent = resend_held(redis, keys, broker, harvest_id)
    status = Harvests(redis, keys).registered_status(harvest_id) if resent else controlled.status
    return Controlled(status, controlled.changed, resent)


def resend_held(redis, keys: Keys, broker: dramatiq.Broker, harvest_id: str) -> int:
    """Send every held message of a harvest that is not paused (any more) again; each is
    forgotten only after it was sent, and only if no new pause held another one for its unit."""
    held = keys.held(harvest_id)
    release = lua.register(redis, "held_release", "core")
    sent = 0
    for unit, raw in redis.hscan_iter(held, count=500):
        if redis.hget(keys.meta(harvest_id), "state") != b"active":
            break  # paused again, or cancelled: the rest stays held (or was dropped)
        broker.enqueue(dramatiq.Message.decode(raw))
        release(keys=[held], args=[unit, raw])
        sent += 1
    return sent


def _change(redis, keys: Keys, harvest_id: str, action: str) -> Controlled:
    store = Harvests(redis, keys)
    control = lua.register(redis, "harvest_control", "core")
    verdict, _ = (v.decode() for v in control(keys=[keys.meta(harvest_id), keys.held(harvest_id)],
                                                args=[action, f"{time.time():.3f}"]))
    if verdict == "unknown":
        raise ControlRefused(harvest_id, "no such harvest")
    if verdict == "done":
        raise ControlRefused(harvest_id, f"it is done: nothing to {action}")
    if verdict == "cancelled":
        raise ControlRefused(harvest_id, f"it was cancelled for good: nothing to {action}")
    plan = store.plan(harvest_id)
    if plan is not None and action in ("pause", "cancel"):
        store.leave_quota(harvest_id, plan.credential)
    return Controlled(store.registered_status(harvest_id), changed=verdict == "changed")
