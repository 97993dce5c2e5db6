"""Spec validation and planning (producers/spec.py): the query built, every refusal's field,
the credential chosen, the digest."""

import datetime as dt

import fakeredis
import msgspec
import pytest

from core.messages import producer_broker
from producers.spec import SpecRefused, validate
from schemas.credentials import Credential
from schemas.query import Condition, Query

NOW = dt.datetime(2025, 6, 15, 12, 0, tzinfo=dt.UTC).timestamp()
TODAY = dt.date(2025, 6, 15)


def cred(project="climate", start=dt.date(2025, 1, 1), end=dt.date(2026, 12, 31), secret="s") -> Credential:
    return Credential(project=project, client_key="k", client_secret=secret, access_start=start, access_end=end)


CREDS = {"climate-a": cred()}


def spec(**fields) -> dict:
    data = {"id": "tiktok_query_0001", "project": "climate", "period": "20240101-20240131", "accounts": ["@alice"]}
    data.update(fields)
    return {key: value for key, value in data.items() if value is not None}


def query_of(data: dict, credentials=CREDS) -> dict:
    return msgspec.to_builtins(validate(data, credentials, now=NOW).query)


def refused_field(data: dict, credentials=CREDS) -> str:
    with pytest.raises(SpecRefused) as caught:
        validate(data, credentials, now=NOW)
    assert caught.value.field in str(caught.value)
    return caught.value.field


# --- the query ---------------------------------------------------------------------------------


def test_accounts_keywords_hashtags_or_ed_and_regions_and_ed():
    data = spec(accounts=["@alice", "bob_2", " @c.d "],
                keywords=["klimaat", "#klimaat", " #ClimateStrike", "hitte golf"], regions=["be", " nl "])
    assert query_of(data) == {
        "and": [{"field_name": "region_code", "operation": "IN", "field_values": ["BE", "NL"]}],
        "or": [
            {"field_name": "username", "operation": "IN", "field_values": ["alice", "bob_2", "c.d"]},
            {"field_name": "keyword", "operation": "IN", "field_values": ["klimaat", "hitte golf"]},
            {"field_name": "hashtag_name", "operation": "IN", "field_values": ["klimaat", "ClimateStrike"]},
        ],
    }


def test_only_hashtags_give_one_or_condition_and_no_and():
    assert query_of(spec(accounts=None, keywords=["#a", "#b"])) == {
        "or": [{"field_name": "hashtag_name", "operation": "IN", "field_values": ["a", "b"]}]}


def test_explicit_query_passes_through():
    query = {"and": [{"field_name": "create_date", "operation": "GTE", "field_values": ["20240105"]}],
             "or": [{"field_name": "music_id", "operation": "EQ", "field_values": ["7354321098765432123"]}],
             "not": [{"field_name": "region_code", "operation": "IN", "field_values": ["US"]}]}
    plan = validate(spec(accounts=None, query=query), CREDS, now=NOW)
    assert plan.query == Query(
        and_=[Condition(field_name="create_date", operation="GTE", field_values=["20240105"])],
        or_=[Condition(field_name="music_id", operation="EQ", field_values=["7354321098765432123"])],
        not_=[Condition(field_name="region_code", operation="IN", field_values=["US"])],
    )
    assert msgspec.to_builtins(plan.query) == query


def test_plan_fields():
    plan = validate(spec(period="20240101-20240301", name="Klimaat"), CREDS, now=NOW)
    assert plan.id == "tiktok_query_0001" and plan.name == "Klimaat" and plan.project == "climate"
    assert plan.credential == "climate-a"
    assert (plan.period_start, plan.period_end) == ("20240101", "20240301")
    assert plan.storage_date == "20250615" and plan.submitted_at == NOW
    assert plan.windows == ["20240131-20240301", "20240101-20240130"]
    assert plan.collect == ["users", "videos"]
    assert validate(spec(), CREDS, now=NOW).name == "tiktok_query_0001"  # name defaults to the id


# --- refusals, each naming its field -----------------------------------------------------------


@pytest.mark.parametrize("data, field", [
    (spec(colour="blue"), "colour"),
    ({"project": "climate", "period": "20240101-20240131", "accounts": ["a"]}, "id"),
    (spec(project=None), "project"),
    (spec(period=None), "period"),
    (spec(accounts="alice"), "accounts"),
    (spec(id="bad id!"), "id"),
    (spec(id="_starts_badly"), "id"),
    (spec(id="a..b"), "id"),
    (spec(id="x" * 101), "id"),
    (spec(period="2024-01-01/2024-01-31"), "period"),
    (spec(period="20240230-20240301"), "period"),
    (spec(period="20240101-20241301"), "period"),
    (spec(period="20240201-20240131"), "period"),
    (spec(accounts=[]), "accounts"),
    (spec(accounts=["@bad name"]), "accounts"),
    (spec(accounts=["@"]), "accounts"),
    (spec(keywords=["#"]), "keywords"),
    (spec(keywords=["#two words"]), "keywords"),
    (spec(keywords=["##x"]), "keywords"),
    (spec(keywords=["   "]), "keywords"),
    (spec(regions=["BEL"]), "regions"),
    (spec(regions=["B1"]), "regions"),
    (spec(query={"and": [{"field_name": "region_code", "operation": "IN", "field_values": ["BE"]}]}), "query"),
    (spec(accounts=None, query={}), "query"),
    (spec(accounts=None, query={"and": [{"field_name": "colour", "operation": "IN", "field_values": ["x"]}]}), "query"),
    (spec(collect=["users"]), "collect"),
    (spec(collect=["comments"]), "collect"),
    (spec(collect=[]), "collect"),
    (spec(project="unknown-project"), "project"),
])
def test_refusals_name_their_field(data, field):
    assert refused_field(data) == field


def test_no_credential_valid_today_refuses_project():
    expired = {"old": cred(start=dt.date(2023, 1, 1), end=dt.date(2025, 6, 14))}
    future = {"later": cred(start=dt.date(2025, 6, 16), end=dt.date(2026, 6, 1))}
    assert refused_field(spec(), expired) == "project"
    assert refused_field(spec(), future) == "project"


def test_period_past_access_end_refuses_period():
    credentials = {"short": cred(end=dt.date(2025, 12, 31))}
    assert refused_field(spec(period="20250601-20260101"), credentials) == "period"
    assert validate(spec(period="20250601-20251231"), credentials, now=NOW).credential == "short"


# --- the credential chosen ---------------------------------------------------------------------


def test_credential_of_the_project_valid_today_covering_the_period_end():
    credentials = {
        "a-other-project": cred(project="other", end=dt.date(2030, 1, 1)),
        "b-expired": cred(start=dt.date(2023, 1, 1), end=dt.date(2025, 6, 1)),
        "c-short": cred(end=dt.date(2025, 7, 1)),
        "d-good": cred(end=dt.date(2026, 1, 1)),
        "e-good-too": cred(end=dt.date(2027, 1, 1)),
    }
    plan = validate(spec(period="20250601-20250801"), credentials, now=NOW)
    assert plan.credential == "d-good"  # the first by name among those that qualify
    assert validate(spec(period="20250601-20250701"), credentials, now=NOW).credential == "c-short"
    assert validate(spec(period="20250601-20261231"), credentials, now=NOW).credential == "e-good-too"


def test_credential_valid_on_its_first_and_last_day():
    assert validate(spec(), {"k": cred(start=TODAY, end=dt.date(2026, 1, 1))}, now=NOW).credential == "k"
    assert validate(spec(period="20250601-20250615"), {"k": cred(end=TODAY)}, now=NOW).credential == "k"


def test_plan_never_carries_the_secret():
    plan = validate(spec(), {"k": cred(secret="TOP-SECRET-xyz")}, now=NOW)
    assert b"TOP-SECRET-xyz" not in msgspec.json.encode(plan)


# --- the digest ----------------------------------------------------------------------------------


def test_spec_digest_equal_for_equal_specs():
    a = {"id": "h1", "project": "climate", "period": "20240101-20240131", "accounts": ["@alice"], "keywords": ["x"]}
    b = {"keywords": ["x"], "accounts": ["@alice"], "period": "20240101-20240131", "project": "climate", "id": "h1"}
    first = validate(a, CREDS, now=NOW)
    second = validate(b, CREDS, now=NOW + 86400 * 3)  # submitted another day
    assert first.spec_digest == second.spec_digest
    assert len(first.spec_digest) == 64


@pytest.mark.parametrize("change", [
    {"period": "20240101-20240130"},
    {"accounts": ["@bob"]},
    {"keywords": ["y"]},
    {"regions": ["BE"]},
    {"name": "other"},
    {"collect": ["videos"]},
])
def test_spec_digest_differs_for_different_specs(change):
    base = spec(keywords=["x"])
    assert validate(base, CREDS, now=NOW).spec_digest != validate({**base, **change}, CREDS, now=NOW).spec_digest


# --- registration (producers/submission.py) ------------------------------------------------------------


def test_resubmitting_after_an_interrupted_registration_registers_the_windows(tmp_path, monkeypatch):
    """Registration is one Lua script: a connection lost during it leaves nothing behind,
    and submitting again registers the whole harvest."""
    from core.config import Settings
    from core.keys import Keys
    from producers.submission import start
    from workers.progress import HarvestStore

    redis = fakeredis.FakeRedis()
    settings = Settings(namespace="unit", data_dir=tmp_path, credentials_file=tmp_path / "none.toml", metrics_port=0)
    broker = producer_broker(settings, redis)
    plan = validate(spec(), CREDS, now=NOW)
    store = HarvestStore(redis, Keys("unit"))

    def lost(*args, **kwargs):
        raise ConnectionError("connection lost")

    monkeypatch.setattr(store, "_register", lost)
    with pytest.raises(ConnectionError):
        store.register(plan)
    assert redis.keys("unit:*") == []

    start(plan, settings, broker, redis=redis)  # the researcher submits again
    assert HarvestStore(redis, Keys("unit")).window_state(plan.id, "20240101-20240131") == "open"
