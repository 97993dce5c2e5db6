"""The simulator's clock, access tokens, per-client daily budgets and request statistics.

Everything time-dependent reads :class:`SimClock`, so tests can expire tokens and cross
midnight UTC by shifting the clock instead of waiting.

Two budgets, as TikTok keeps them: ``follows`` for the follower and following lists
(``daily_follow_requests`` / ``daily_follow_records``) and ``research`` for every other
research endpoint (``daily_requests`` / ``daily_records``).  Spending one leaves the other
alone.  A client's stats (and each of its days) show ``budgets``: per budget the requests
charged and the records returned; the top-level ``requests`` and ``records`` are the
research budget's, ``rejected_over_quota`` counts refusals of either.
"""

from __future__ import annotations

import datetime as dt
import secrets
import threading
import time
from collections import defaultdict


class SimClock:
    """Wall clock plus an offset set through ``POST /_sim/clock``."""

    def __init__(self) -> None:
        self.offset_s = 0.0

    def now(self) -> float:
        return time.time() + self.offset_s


class TokenStore:
    """Access tokens -> (client_key, expiry on the simulator clock)."""

    def __init__(self, clock: SimClock) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._tokens: dict[str, tuple[str, float]] = {}

    def issue(self, client_key: str, ttl_s: int) -> str:
        token = "clt." + secrets.token_urlsafe(24)
        now = self._clock.now()
        with self._lock:
            if len(self._tokens) > 10000:  # drop expired ones; keeps a long run bounded
                self._tokens = {t: e for t, e in self._tokens.items() if e[1] > now}
            self._tokens[token] = (client_key, now + ttl_s)
        return token

    def client_for(self, token: str | None) -> str | None:
        """The token's client key, or None when missing, unknown or expired."""
        if not token:
            return None
        entry = self._tokens.get(token)
        if entry is None or entry[1] <= self._clock.now():
            return None
        return entry[0]


RESEARCH, FOLLOWS = "research", "follows"
FOLLOW_ENDPOINTS = frozenset({"user_followers", "user_following"})


def budget_of(endpoint: str) -> str:
    return FOLLOWS if endpoint in FOLLOW_ENDPOINTS else RESEARCH


def _limits(budget: str, config) -> tuple[int, int]:
    if budget == FOLLOWS:
        return config.daily_follow_requests, config.daily_follow_records
    return config.daily_requests, config.daily_records


def _new_budgets() -> dict:
    return {RESEARCH: {"requests": 0, "records": 0}, FOLLOWS: {"requests": 0, "records": 0}}


def _new_day() -> dict:
    return {"requests": 0, "records": 0, "budgets": _new_budgets(),
            "by_endpoint": defaultdict(int), "by_status": defaultdict(int)}


def _new_client() -> dict:
    return {"token_requests": 0, "token_failures": 0, "requests": 0, "records": 0, "budgets": _new_budgets(),
            "rejected_over_quota": 0, "throttled": 0, "status_429": 0, "status_5xx": 0,
            "by_endpoint": defaultdict(int), "by_status": defaultdict(int),
            "days": defaultdict(_new_day),
            # Video queries asked with this key, by query (JSON): which project's work it carried.
            "queries": defaultdict(int)}


def _charge(counters: dict, budget: str, key: str, amount: int) -> None:
    """Add to a budget's counter, and to the top-level one for the research budget."""
    counters["budgets"][budget][key] += amount
    if budget == RESEARCH:
        counters[key] += amount


class QuotaBook:
    """Daily request/record budgets per client key, and what each key was answered.

    The quota day is the UTC date of ``now - quota_reset_lag_s``: with a lag, a key spent
    yesterday keeps getting 429 for that long after 00:00 UTC.
    """

    def __init__(self, clock: SimClock) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._clients: dict[str, dict] = defaultdict(_new_client)
        self.unauthenticated = 0
        self.in_flight = 0
        self.max_in_flight = 0

    def day(self, lag_s: float) -> str:
        now = self._clock.now() - lag_s
        return dt.datetime.fromtimestamp(now, dt.UTC).strftime("%Y-%m-%d")

    def admit(self, client_key: str, endpoint: str, config, rejected_status: int = 429) -> bool:
        """Charge one request to today's budget for ``endpoint``; False (and nothing charged)
        when that budget is spent.

        ``rejected_status`` is what a spent key is answered: 429, or an outage's answer.
        """
        day = self.day(config.quota_reset_lag_s)
        budget = budget_of(endpoint)
        max_requests, max_records = _limits(budget, config)
        with self._lock:
            client = self._clients[client_key]
            today = client["days"][day]
            spent = today["budgets"][budget]
            if spent["requests"] >= max_requests or spent["records"] >= max_records:
                key = _status_key(rejected_status)
                client["rejected_over_quota"] += 1
                today["by_status"][key] += 1
                client["by_status"][key] += 1
                client["status_429"] += rejected_status == 429
                client["status_5xx"] += rejected_status >= 500
                return False
            _charge(today, budget, "requests", 1)
            _charge(client, budget, "requests", 1)
            today["by_endpoint"][endpoint] += 1
            client["by_endpoint"][endpoint] += 1
            return True

    def note_query(self, client_key: str, query: str) -> None:
        with self._lock:
            self._clients[client_key]["queries"][query] += 1

    def answered(self, client_key: str, endpoint: str, status: int, records: int, config,
                 throttled: bool = False) -> None:
        """Record an admitted request's outcome and the records it returned."""
        day = self.day(config.quota_reset_lag_s)
        key = _status_key(status)
        budget = budget_of(endpoint)
        with self._lock:
            client = self._clients[client_key]
            today = client["days"][day]
            today["by_status"][key] += 1
            _charge(today, budget, "records", records)
            _charge(client, budget, "records", records)
            client["by_status"][key] += 1
            client["throttled"] += throttled
            client["status_429"] += status == 429
            client["status_5xx"] += status >= 500

    def token_request(self, client_key: str, ok: bool) -> None:
        with self._lock:
            client = self._clients[client_key or "<none>"]
            client["token_requests"] += 1
            client["token_failures"] += not ok

    def not_authenticated(self) -> None:
        with self._lock:
            self.unauthenticated += 1

    def enter(self) -> None:
        with self._lock:
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)

    def leave(self) -> None:
        with self._lock:
            self.in_flight -= 1

    def snapshot(self) -> dict:
        """Plain dicts for ``GET /_sim/stats``."""
        with self._lock:
            clients = {key: _plain(c) for key, c in self._clients.items()}
            return {"clients": clients, "unauthenticated": self.unauthenticated,
                    "max_in_flight": self.max_in_flight}

    def reset(self) -> None:
        with self._lock:
            self._clients.clear()
            self.unauthenticated = 0
            self.max_in_flight = self.in_flight


def _status_key(status: int) -> str:
    """by_status key: the HTTP status, or "reset" for a connection dropped unanswered."""
    return str(status) if status else "reset"


def _plain(value):
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value
