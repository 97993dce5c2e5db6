"""What the hostile-spec tests share: a valid base spec, the credentials and clock it is
validated against, and the property every input must have (a plan, or a refusal naming a field)."""

import datetime as dt

import msgspec
import pytest
from hypothesis import HealthCheck, settings

from producers.query_rules import MAX_QUERY_BYTES
from producers.spec import EARLIEST_DAY, SpecRefused, validate
from schemas.credentials import Credential
from schemas.spec import HarvestPlan

NOW = dt.datetime(2025, 6, 15, 12, 0, tzinfo=dt.UTC).timestamp()
CREDS = {"climate-a": Credential(project="climate", client_key="k", client_secret="s",
                                 access_start=dt.date(2025, 1, 1), access_end=dt.date(2026, 12, 31))}
FUZZ = settings(max_examples=200, deadline=None, database=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


def spec(**fields) -> dict:
    data = {"id": "tiktok_query_0001", "project": "climate", "period": "20240101-20240131", "accounts": ["@alice"]}
    data.update(fields)
    return {key: value for key, value in data.items() if value is not None}


def condition(field_name: str, *values: str, operation: str = "IN") -> dict:
    return {"field_name": field_name, "operation": operation, "field_values": list(values)}


def query_spec(**lists) -> dict:
    return spec(accounts=None, query={key.rstrip("_"): value for key, value in lists.items()})


def refused(data) -> SpecRefused:
    with pytest.raises(SpecRefused) as caught:
        validate(data, CREDS, now=NOW)
    assert f"`{caught.value.field}`" in str(caught.value)
    return caught.value


def planned_or_refused(data) -> HarvestPlan | None:
    """The property every input must have: a plan, or a refusal that names a field."""
    try:
        plan = validate(data, CREDS, now=NOW)
    except SpecRefused as refusal:
        assert refusal.field and f"`{refusal.field}`" in str(refusal)
        assert str(refusal).isprintable()  # nothing the input smuggled in reaches a terminal raw
        return None
    assert (plan.windows or plan.ongoing) and len(msgspec.json.encode(plan.query)) <= MAX_QUERY_BYTES
    assert EARLIEST_DAY.strftime("%Y%m%d") <= plan.period_start <= plan.storage_date
    return plan
