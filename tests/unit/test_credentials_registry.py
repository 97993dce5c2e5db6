"""`tiktok-harvest credentials list` (harvest_cli/credentials.py): every credential of the file
with its standing today, today's use per budget, the reset and the harvests on it; a malformed
one listed with its field and problem without stopping the others; secrets never shown."""

import datetime as dt
import json

import pytest
from typer.testing import CliRunner

import harvest_cli.credentials as credentials_cli
import harvest_cli.main as cli_main
from core.credentials import load_credentials
from producers.spec import SpecRefused
from producers.submission import prepare
from tests.redis_dump import redis_dump
from tests.unit.conftest import CLIENT_KEY, CLIENT_SECRET, CREDENTIAL, HARVEST_ID
from workers.quota import QuotaBucket, reservation

TODAY = dt.datetime.now(dt.UTC).date()
BROKEN_SECRET = "S3CRET-of-a-broken-table-0c4e"
OLD_SECRET = "S3CRET-of-an-expired-key-77aa"
SECRETS = (CLIENT_SECRET, CLIENT_KEY, BROKEN_SECRET, OLD_SECRET, "KEY-broken-table-31", "KEY-expired-key-4242")


def table(name: str, *, project: str, key: str, secret: str, start: dt.date, end: dt.date, extra: str = "") -> str:
    return (f'\n[credentials.{name}]\nproject = "{project}"\nclient_key = "{key}"\nclient_secret = "{secret}"\n'
            f"access_start = {start}\naccess_end = {end}\n{extra}")


@pytest.fixture
def many(settings):
    """The unit credential (valid today) plus an expired, a not yet valid and a malformed one."""
    day = dt.timedelta(days=1)
    with settings.credentials_file.open("a") as file:
        file.write(table("old-key", project="climate", key="KEY-expired-key-4242", secret=OLD_SECRET,
                         start=TODAY - 400 * day, end=TODAY - day))
        file.write(table("next-key", project="elections", key="short", secret="S3CRET-next-key-1234",
                         start=TODAY + 10 * day, end=TODAY + 300 * day))
        file.write(table("broken-key", project="media", key="KEY-broken-table-31", secret=BROKEN_SECRET,
                         start=TODAY, end=TODAY + day, extra="daily_requests = 0\n"))
    return settings.credentials_file


@pytest.fixture
def run(monkeypatch, settings, fake):
    """`tiktok-harvest ARGS` in-process, on this test's fake Redis; records whether it connected."""
    connections = []

    def connect(_settings):
        connections.append(True)
        return fake

    monkeypatch.setattr(credentials_cli, "settings_from", lambda **overrides: settings)
    monkeypatch.setattr(credentials_cli, "connect", connect)

    def invoke(*args: str):
        result = CliRunner().invoke(cli_main.app, list(args), env={"COLUMNS": "250"})
        result.connected = bool(connections)  # type: ignore[attr-defined]  # read by the tests
        return result

    return invoke


def listed(run) -> dict[str, dict]:
    result = run("credentials", "list", "--json")
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout.strip().splitlines()[-1])
    assert document["today"] == str(TODAY)
    return {entry["name"]: entry for entry in document["credentials"]}


def budgets(entry: dict) -> dict[str, dict]:
    return {budget["budget"]: budget for budget in entry["budgets"]}


def test_every_credential_is_listed_with_its_standing_today(run, many):
    entries = listed(run)
    assert list(entries) == ["broken-key", CREDENTIAL, "next-key", "old-key"]
    assert {name: entry["standing"] for name, entry in entries.items()} == {
        CREDENTIAL: "valid", "old-key": "expired", "next-key": "not_yet_valid", "broken-key": "malformed"}
    valid = entries[CREDENTIAL]
    assert (valid["project"], valid["access_start"], valid["access_end"]) == (
        "climate", str(TODAY - dt.timedelta(days=30)), str(TODAY + dt.timedelta(days=600)))
    assert valid["problem"] is None and valid["problem_field"] is None


def test_a_malformed_credential_is_named_with_its_field_and_problem(run, many):
    broken = listed(run)["broken-key"]
    assert (broken["problem_field"], broken["project"], broken["client_key"]) == ("daily_requests", None, None)
    assert broken["problem"] == "Expected `int` >= 1"
    assert {b["requests_limit"] for b in broken["budgets"]} == {None}  # its limits are not known


def test_client_keys_show_their_first_characters_only(run, many):
    entries = listed(run)
    assert entries[CREDENTIAL]["client_key"] == CLIENT_KEY[:4] + "…"
    assert entries["next-key"]["client_key"] == "…"  # too short to show any of it


def test_todays_use_and_what_is_left_per_budget(run, many, fake, settings):
    limits = load_credentials(settings.credentials_file)[CREDENTIAL]
    bucket = QuotaBucket(fake, settings_keys(settings), clock_offset_s=settings.quota_clock_offset_s)
    for n in range(3):
        assert bucket.take(CREDENTIAL, limits, "h1", reservation("h1", f"u{n}", "d", 1), 100).granted
    bucket.settle(CREDENTIAL, "h1", "u0", reservation("h1", "u0", "d", 1), 40)
    assert bucket.take(f"{CREDENTIAL}#follows", limits.follow_budget(), "h1", "f", 100).granted

    entry = listed(run)[CREDENTIAL]
    research, follows = budgets(entry)["research"], budgets(entry)["follows"]
    assert (research["requests_used"], research["requests_limit"], research["requests_left"]) == (3, 1000, 997)
    assert (research["records_used"], research["records_limit"], research["records_left"]) == (240, 100_000, 99_760)
    assert (follows["requests_used"], follows["requests_left"], follows["records_used"]) == (1, 19_999, 100)
    assert research["spent_for_s"] == 0
    assert abs(entry["resets_in_s"] - 43200) < 60  # the unit tests' bucket clock says noon


def test_a_credential_spent_by_tiktoks_429s_says_for_how_long(run, many, fake, settings):
    QuotaBucket(fake, settings_keys(settings), clock_offset_s=settings.quota_clock_offset_s).mark_spent(CREDENTIAL)
    research = budgets(listed(run)[CREDENTIAL])["research"]
    assert research["spent_for_s"] > 43200


def test_the_harvests_on_a_credential_are_listed_with_their_state(run, many, plan, fake, settings):
    entries = listed(run)
    assert entries[CREDENTIAL]["harvests"] == [{"id": HARVEST_ID, "state": "queued", "asking": False}]
    assert entries["old-key"]["harvests"] == []

    limits = load_credentials(settings.credentials_file)[CREDENTIAL]
    bucket = QuotaBucket(fake, settings_keys(settings), clock_offset_s=settings.quota_clock_offset_s)
    bucket.take(CREDENTIAL, limits, HARVEST_ID, "r1", 100)
    bucket.take(f"{CREDENTIAL}#follows", limits.follow_budget(), "gone-harvest", "r2", 100)
    assert listed(run)[CREDENTIAL]["harvests"] == [
        {"id": "gone-harvest", "state": None, "asking": True},  # asked lately, registered no more
        {"id": HARVEST_ID, "state": "queued", "asking": True}]


def test_the_table_shows_every_credential_and_the_problem(run, many, plan):
    result = run("credentials", "list")
    assert result.exit_code == 0, result.output
    for shown in (CREDENTIAL, "old-key", "next-key", "broken-key", "expired", "not yet valid", "malformed",
                  "field `daily_requests`: Expected `int` >= 1", f"{HARVEST_ID} (queued)",
                  "1,000/1,000 requests left", "0 records used", CLIENT_KEY[:4] + "…"):
        assert shown in result.stdout, shown


def test_no_secret_reaches_the_output_or_redis(run, many, plan, fake):
    outputs = [run("credentials", "list", "--json").output, run("credentials", "list").output]
    for text in [*outputs, redis_dump(fake).decode("utf-8", "replace")]:
        for secret in SECRETS:
            assert secret not in text


def test_a_file_that_cannot_be_read_exits_1_before_redis(run, settings):
    settings.credentials_file.write_text("[credentials.x\n")
    result = run("credentials", "list", "--json")
    assert result.exit_code == 1 and "not valid TOML" in result.output
    assert not result.connected
    settings.credentials_file.unlink()
    assert run("credentials", "list").exit_code == 1


def test_a_file_of_malformed_credentials_only_is_still_listed(run, settings):
    settings.credentials_file.write_text(table("only", project="p", key="k", secret=BROKEN_SECRET,
                                               start=TODAY, end=TODAY - dt.timedelta(days=1)))
    entries = listed(run)
    assert (entries["only"]["standing"], entries["only"]["problem_field"]) == ("malformed", "access_end")


def test_a_spec_whose_project_has_only_a_malformed_credential_is_refused_naming_the_project(many, settings):
    data = {"id": "tiktok_query_x", "project": "media", "period": "20240101-20240131", "accounts": ["@alice"]}
    with pytest.raises(SpecRefused, match="project 'media'"):
        prepare(data, settings)  # broken-key, its one credential, is left out


def settings_keys(settings):
    from core.keys import Keys

    return Keys(settings.namespace)
