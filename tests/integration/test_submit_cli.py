"""`tiktok-harvest submit` as a user runs it: refusals exit 2 naming the field and leave Redis
untouched; an accepted spec prints its id, and submitting it again starts nothing new."""

import datetime as dt
import json

import pytest

from tests.conftest import cli, write_credentials

pytestmark = pytest.mark.integration

VALID = """\
id: tiktok_query_0000001
name: Klimaat op TikTok
project: climate
accounts: ["@vrtnws", "hln_be"]
keywords: ["klimaat", "#klimaatzaak"]
regions: ["BE", "NL"]
period: 20240101-20240331
"""

YESTERDAY = dt.datetime.now(dt.UTC).date() - dt.timedelta(days=1)

REFUSALS = [
    ("does not parse", "id: [unclosed\n", "file"),
    ("not a mapping", "- just\n- a list\n", "file"),
    ("unknown key", VALID + "colour: blue\n", "colour"),
    ("id of the wrong type", VALID.replace("id: tiktok_query_0000001", "id: 12"), "id"),
    ("malformed id", VALID.replace("tiktok_query_0000001", "'../etc'"), "id"),
    ("missing period", VALID.replace("period: 20240101-20240331\n", ""), "period"),
    ("not yyyymmdd", VALID.replace("20240101-20240331", "2024-01-01"), "period"),
    ("not a real day", VALID.replace("20240101-20240331", "20240101-20240231"), "period"),
    ("ends before it starts", VALID.replace("20240101-20240331", "20240331-20240101"), "period"),
    ("past the access end", VALID.replace("20240101-20240331", "20240101-20991231"), "period"),
    ("no criteria", "id: q1\nproject: climate\nperiod: 20240101-20240131\nregions: [BE]\n", "accounts"),
    ("bad account", VALID.replace('"@vrtnws"', '"@vrt nws"'), "accounts"),
    ("bad hashtag", VALID.replace('"#klimaatzaak"', '"#"'), "keywords"),
    ("bad region", VALID.replace('"NL"', '"NLD"'), "regions"),
    ("query and criteria", VALID + "query: {or: [{field_name: keyword, operation: IN, field_values: [x]}]}\n", "query"),
    ("bad query operation", "id: q1\nproject: climate\nperiod: 20240101-20240131\n"
                            "query: {or: [{field_name: keyword, operation: LIKE, field_values: [x]}]}\n", "query"),
    ("unknown project", VALID.replace("project: climate", "project: elections"), "project"),
    ("unknown collect", VALID + "collect: [videos, tweets]\n", "collect"),
]


def keys_under(redis_client, namespace):
    return list(redis_client.scan_iter(match=f"{namespace}:*"))


@pytest.mark.parametrize("case, text, field", REFUSALS, ids=[case for case, _, _ in REFUSALS])
def test_refused_spec_exits_2_naming_the_field_and_leaves_redis_untouched(case, text, field, harvest_env,
                                                                          redis_client, namespace, tmp_path):
    spec = tmp_path / "spec.yaml"
    spec.write_text(text)
    result = cli("submit", str(spec), env=harvest_env)
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert f"`{field}`" in result.stderr, result.stderr
    assert result.stdout == ""
    assert keys_under(redis_client, namespace) == []


def test_no_credential_valid_today_is_refused(harvest_env, redis_client, namespace, tmp_path):
    credentials = write_credentials(tmp_path / "expired.toml", access_end=YESTERDAY)
    spec = tmp_path / "spec.yaml"
    spec.write_text(VALID)
    result = cli("submit", str(spec), env=dict(harvest_env, HARVEST_CREDENTIALS_FILE=str(credentials)))
    assert result.returncode == 2 and "`project`" in result.stderr and "valid today" in result.stderr
    assert keys_under(redis_client, namespace) == []


def test_accepted_spec_prints_its_id_and_a_second_submit_starts_nothing(harvest_env, redis_client, namespace, tmp_path):
    spec = tmp_path / "spec.json"
    spec.write_text(json.dumps({"id": "tiktok_query_0000002", "project": "climate", "keywords": ["klimaat"],
                                "period": "20240101-20240331"}))
    first = cli("submit", str(spec), env=harvest_env)
    assert first.returncode == 0, first.stderr
    assert first.stdout.strip() == "tiktok_query_0000002"
    assert "warning" not in first.stderr  # a period long past: nothing to warn about
    queue = f"{namespace}:pages"
    assert redis_client.llen(queue) == 3  # 91 days: three windows of at most 31 days

    again = cli("submit", str(spec), "--json", env=harvest_env)
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout) == {"id": "tiktok_query_0000002", "created": False, "windows": 3}
    assert redis_client.llen(queue) == 3

    spec.write_text(json.dumps({"id": "tiktok_query_0000002", "project": "climate", "keywords": ["other"],
                                "period": "20240101-20240331"}))
    different = cli("submit", str(spec), env=harvest_env)
    assert different.returncode == 2 and "`id`" in different.stderr
    assert redis_client.llen(queue) == 3


def test_secrets_never_reach_output_or_redis(harvest_env, redis_client, namespace, tmp_path, credentials_file):
    secret = credentials_file.read_text().split('client_secret = "')[1].split('"')[0]
    spec = tmp_path / "spec.yaml"
    spec.write_text(VALID)
    result = cli("submit", str(spec), env=harvest_env)
    status = cli("status", "--json", env=harvest_env)
    for output in (result.stdout, result.stderr, status.stdout, status.stderr):
        assert secret not in output
    for key in keys_under(redis_client, namespace):
        assert secret.encode() not in key
        if redis_client.type(key) == b"string":
            assert secret.encode() not in redis_client.get(key)


def test_a_period_reaching_the_last_two_days_is_accepted_with_a_warning(harvest_env, tmp_path):
    today = dt.datetime.now(dt.UTC).date()
    spec = tmp_path / "recent.yaml"
    spec.write_text(VALID.replace("20240101-20240331", f"{today - dt.timedelta(days=20):%Y%m%d}-{today:%Y%m%d}"))
    result = cli("submit", str(spec), env=harvest_env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "tiktok_query_0000001"
    assert "48 hours" in result.stderr
