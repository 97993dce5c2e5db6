"""A rough time to finish for a harvest in progress, quota waits included.

The estimate, per budget (research requests, follower lists):

1. Requests still to make, per endpoint: its unfinished units (windows, accounts, videos'
   comments, ...) times the requests a finished unit took on average (at least one; the
   requests spent so far when none has finished). Units not discovered yet (authors of pages
   still to come) are not counted, so early in a harvest this is low.
2. The harvest's pace: its requests so far over the time since it was submitted (waits and
   all).
3. Its part of the budget: what is left today and the daily limit, divided among the harvests
   sharing the credential right now. What fits in today's part takes remaining / pace; the
   rest waits for 00:00 UTC and then takes a day's part per day.

The harvest's estimate is its slowest budget's. None when there is nothing to go on yet (no
request made) or the harvest is not progressing (failed, paused, cancelled).
"""

import math

from core.chains import FOLLOW_ENDPOINTS
from core.keys import FOLLOWS, RESEARCH
from schemas.status import EndpointStatus, HarvestStatus
from workers.exporter.quota import BudgetReading

DAY_S = 86400
IN_PROGRESS = ("queued", "running", "waiting_for_quota")


def budget_of(endpoint: str) -> str:
    return FOLLOWS if endpoint in FOLLOW_ENDPOINTS.values() else RESEARCH


def requests_to_go(endpoint: EndpointStatus) -> float:
    unfinished = max(0, endpoint.chains_total - endpoint.chains_done)
    per_unit = endpoint.requests / endpoint.chains_done if endpoint.chains_done else endpoint.requests
    return unfinished * max(1.0, per_unit)


def eta_seconds(status: HarvestStatus, budgets: dict[str, BudgetReading], now: float) -> float | None:
    """`budgets`: the harvest credential's readings by budget name (missing: no quota limit known)."""
    if status.state == "done":
        return 0.0
    if status.state not in IN_PROGRESS:
        return None
    elapsed = now - status.submitted_at
    if status.requests <= 0 or elapsed <= 0:
        return None
    pace = status.requests / elapsed
    to_go: dict[str, float] = {}
    for name, endpoint in status.endpoints.items():
        to_go[budget_of(name)] = to_go.get(budget_of(name), 0.0) + requests_to_go(endpoint)
    return round(max((_time_for(requests, pace, budgets.get(budget)) for budget, requests in to_go.items()),
                     default=0.0), 3)


def _time_for(requests: float, pace: float, budget: BudgetReading | None) -> float:
    if budget is None or requests <= 0:
        return requests / pace
    sharing = max(1, budget.harvests_sharing)
    today = 0 if budget.day_spent else budget.requests_left / sharing
    if requests <= today:
        return requests / pace
    beyond = requests - today
    per_day = budget.requests_limit / sharing
    full_days = math.ceil(beyond / per_day) - 1  # days spent whole before the last one
    return budget.reset_in_s + full_days * DAY_S + (beyond - full_days * per_day) / pace
