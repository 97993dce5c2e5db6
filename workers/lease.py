"""Which delivery may work on a logical unit right now, and for how long.

Messages are delivered at least once, and sometimes twice at the same time: Dramatiq hands a
message back to the queue when its worker looks dead (a stalled process, a host cut off from
Redis, a clock far ahead), while the first delivery may still be running. So each delivery
holds the unit (`begin`) with an id of its own, renewed every few seconds by a thread of the
worker process while the delivery runs and lapsing `hold_s` after the last renewal. Another
delivery can take the unit over only once the hold has lapsed, and from then on every
Redis step of the old one (storing the answer's reservation, claiming videos, completing the
unit, closing a window) is refused inside the same Lua script that would make it.

File writes cannot be fenced by Redis, so a delivery writes a file only while its last
confirmed renewal is younger than `hold_s - margin` by its own monotonic clock, and confirms
again (one round trip) when it is older. What this relies on, written down for operators:

- a process does not stall for longer than `margin` (5 s by default) between that check and
  the write that follows it (a SIGSTOP, swapping to death); and
- the host's monotonic clock and Redis's clock advance at the same rate to within
  margin/hold (a third). Wall-clock offsets between hosts do not matter: holds are measured
  on Redis's clock, and each worker measures only elapsed time on its own.
"""

import threading
import time
import uuid
from dataclasses import dataclass, field

import structlog

from core import lua
from core.keys import Keys

log = structlog.get_logger(__name__)

# How long an owner keeps a unit without any delivery running it: longer than any wait a
# message can have (parked until midnight, retries, replays).
OWNER_TTL_S = 8 * 86400


class LeaseLost(Exception):
    """This delivery's hold on its unit ended (another delivery took over, or the unit is
    done): it must stop before its next effect. Its message is sent again, and that copy
    finds the unit done, owned by someone else, or free to finish."""


class Busy(Exception):
    """Another delivery holds the unit now: come back once its hold may have lapsed."""

    def __init__(self, wait_s: float):
        self.wait_s = wait_s
        super().__init__(f"unit busy for up to {wait_s:.1f}s")


@dataclass
class Delivery:
    """One delivery's hold on one unit."""

    harvest: str
    unit: str
    key: str  # the unit's lease hash
    token: str  # the owner token its message carries
    id: str = field(default_factory=lambda: uuid.uuid4().hex)
    confirmed_at: float = 0.0  # monotonic time just before the last confirmed renewal was sent
    lost: bool = False


@dataclass(frozen=True)
class Begun:
    verdict: str  # unknown, purged, cancelled, done, closed, dropped, paused, busy or granted
    generation: str = ""  # of the harvest's registration (see register.lua)
    delivery: Delivery | None = None  # when granted
    reservation: str | None = None  # granted: the reservation of the stored answer, if any
    window_state: str = ""  # closed: what became of the window
    wait_s: float = 0.0  # busy: until the other hold lapses


class UnitLeases:
    def __init__(self, redis, keys: Keys, *, hold_s: float = 15.0, clock=time.monotonic):
        self._redis = redis
        self._keys = keys
        self.hold_s = hold_s
        self.margin_s = hold_s / 3
        self._clock = clock
        self._held: dict[str, Delivery] = {}
        self._mutex = threading.Lock()
        self._keeper: threading.Thread | None = None
        self._stop = threading.Event()
        self._begin = lua.register(redis, "unit_begin", "workers")
        self._renew = lua.register(redis, "lease_renew", "workers")
        self._release = lua.register(redis, "lease_release", "workers")
        self._handover = lua.register(redis, "lease_handover", "workers")

    # --- a delivery's life ---------------------------------------------------------------------
    def begin(self, harvest: str, unit: str, window: str, token: str, predecessor: str = "") -> Begun:
        k = self._keys
        delivery = Delivery(harvest, unit, k.lease(harvest, unit), token)
        sent_at = self._clock()
        verdict, detail, generation = (_text(v) for v in self._begin(
            keys=[k.meta(harvest), k.done(harvest), k.fetched(harvest), k.windows(harvest), delivery.key,
                  k.purged(harvest)],
            args=[unit, window, token, predecessor, delivery.id, int(self.hold_s * 1000), OWNER_TTL_S],
        ))
        if verdict == "busy":
            return Begun(verdict, generation, wait_s=int(detail) / 1000)
        if verdict == "closed":
            return Begun(verdict, generation, window_state=detail)
        if verdict != "granted":
            return Begun(verdict, generation)
        delivery.confirmed_at = sent_at
        with self._mutex:
            self._held[delivery.id] = delivery
        self._start_keeper()
        return Begun(verdict, generation, delivery=delivery, reservation=detail or None)

    def ensure(self, delivery: Delivery) -> None:
        """Before an effect Redis cannot fence (a file write, a call to TikTok): raise
        LeaseLost unless the hold is confirmed recent enough to outlast the effect."""
        if not delivery.lost and self._clock() - delivery.confirmed_at > self.hold_s - self.margin_s:
            self._renew_now([delivery])
        if delivery.lost:
            raise hold_lost(delivery)

    def end(self, delivery: Delivery, *, completed: bool) -> None:
        """The delivery is over. Unless it completed the unit (which removed the lease), let
        the next delivery in now rather than when the hold lapses."""
        with self._mutex:
            self._held.pop(delivery.id, None)
        if not completed and not delivery.lost:
            self._release(keys=[delivery.key], args=[delivery.id])

    def hand_over(self, harvest: str, unit: str, old: str, new: str) -> bool:
        """A parked message's unit goes to its delayed copy (token `new`)."""
        return bool(self._handover(keys=[self._keys.lease(harvest, unit)], args=[old, new, OWNER_TTL_S]))

    # --- renewal ------------------------------------------------------------------------------
    def renew_all(self) -> None:
        with self._mutex:
            held = list(self._held.values())
        if held:
            self._renew_now(held)

    def _renew_now(self, deliveries: list[Delivery]) -> None:
        sent_at = self._clock()
        results = self._renew(keys=[d.key for d in deliveries],
                              args=[int(self.hold_s * 1000), *(d.id for d in deliveries)])
        for delivery, held in zip(deliveries, results, strict=True):
            if held:
                delivery.confirmed_at = max(delivery.confirmed_at, sent_at)
            elif not delivery.lost:
                delivery.lost = True
                log.warning("hold_lost", harvest=delivery.harvest, unit=delivery.unit)

    def _start_keeper(self) -> None:
        if self._keeper is not None or self.hold_s <= 0:
            return
        with self._mutex:
            if self._keeper is None:
                self._keeper = threading.Thread(target=self._keep, name="lease-keeper", daemon=True)
                self._keeper.start()

    def _keep(self) -> None:
        # Five renewals per hold: a renewal can be late by most of a hold before it matters.
        while not self._stop.wait(self.hold_s / 5):
            try:
                self.renew_all()
            except Exception as error:  # Redis away for a moment: the holds lapse or not
                log.warning("hold_renewal_failed", error=type(error).__name__)

    def close(self) -> None:
        self._stop.set()


def hold_lost(delivery: Delivery) -> LeaseLost:
    """A fenced step refused this delivery: remember it, and say so."""
    delivery.lost = True
    return LeaseLost(f"{delivery.unit}: another delivery holds it now")


def _text(value) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
