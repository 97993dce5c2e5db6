"""Register a harvest and enqueue the first page of each window (newest window first).

Submitting the same spec again starts nothing new; it only finishes an earlier submission
that was interrupted before all first pages were enqueued (duplicates are harmless).
"""

from dataclasses import dataclass

import dramatiq

from core import messages, windows
from core.chains import request_account_lists
from core.config import Settings
from core.credentials import CredentialsError, load_credentials
from core.harvests import Harvests
from core.keys import Keys
from producers.spec import SpecRefused, validate
from schemas.messages import NewDaysTask, PageTask
from schemas.spec import HarvestPlan

__all__ = ["SpecRefused", "Submitted", "prepare", "start", "submit_spec"]


@dataclass(frozen=True)
class Submitted:
    harvest_id: str
    created: bool  # False: the same spec was submitted before
    windows: int


def prepare(data: dict, settings: Settings) -> HarvestPlan:
    """Validate a spec against the credentials file; nothing is written. Raises SpecRefused."""
    try:
        credentials = load_credentials(settings.credentials_file)
    except CredentialsError as error:
        raise SpecRefused("project", str(error)) from None
    return validate(data, credentials, now=settings.fleet_now())


def submit_spec(data: dict, settings: Settings, broker: dramatiq.Broker, *, redis) -> Submitted:
    return start(prepare(data, settings), settings, broker, redis=redis)


def start(plan: HarvestPlan, settings: Settings, broker: dramatiq.Broker, *, redis) -> Submitted:
    """Register a validated plan and enqueue its first pages (and the follower lists of its
    accounts, when it collects them; and the schedule of its new days, when it is ongoing)."""
    store = Harvests(redis, Keys(settings.namespace))
    created = store.register(plan)
    if not created:
        existing = store.plan(plan.id)
        if existing is None or existing.spec_digest != plan.spec_digest:
            raise SpecRefused("id", f"{plan.id!r} is already used by a different harvest spec")
        plan = existing
    if not store.is_enqueued(plan.id):
        # The accounts' lists first: counted in the harvest before any page could end it.
        request_account_lists(store, broker, plan)
        for window in plan.windows:
            messages.send(broker, PageTask(harvest_id=plan.id, window=window, page=0))
        if plan.new_days_from is not None:  # an ongoing harvest: its schedule (workers/new_days.py)
            messages.send(broker, NewDaysTask(plan.id, plan.new_days_from), delay_ms=windows.new_days_delay_ms(
                plan.new_days_from, settings.fleet_now(), settings.new_days_check_s))
        store.mark_enqueued(plan.id)
    return Submitted(plan.id, created, len(plan.windows))
