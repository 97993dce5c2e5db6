"""`tiktok-harvest purge` as a user runs it, against the real Redis: it refuses to act
unasked off a terminal, removes the harvest's every key and nothing of another harvest's,
exits 1 for an unknown id, and the id can be submitted again afterwards."""

import json
import os

import pytest

from tests.conftest import ROOT, cli

pytestmark = pytest.mark.integration


def spec(tmp_path, harvest: str, keyword: str):
    path = tmp_path / f"{harvest}.json"
    path.write_text(json.dumps({"id": harvest, "project": "climate", "keywords": [keyword],
                                "period": "20240101-20240331"}))
    return path


@pytest.fixture
def env(redis_url, namespace, credentials_file, tmp_path) -> dict:
    """No workers and no simulator: submit and purge only talk to Redis."""
    return dict(os.environ, REDIS_URL=redis_url, HARVEST_NAMESPACE=namespace, HARVEST_DATA_DIR=str(tmp_path / "data"),
                HARVEST_CREDENTIALS_FILE=str(credentials_file), HARVEST_METRICS_PORT="0", LOG_LEVEL="INFO",
                PYTHONPATH=str(ROOT))


def keys_of(redis_client, namespace, harvest) -> list[bytes]:
    return list(redis_client.scan_iter(match=f"{namespace}:h:{harvest}:*"))


def test_purge_refuses_unasked_removes_the_harvest_only_and_the_id_can_be_submitted_again(
        env, redis_client, namespace, tmp_path):
    for harvest, keyword in (("tiktok_query_0000010", "klimaat"), ("tiktok_query_0000011", "energie")):
        submitted = cli("submit", str(spec(tmp_path, harvest, keyword)), env=env)
        assert submitted.returncode == 0, submitted.stderr
    other_before = {key: redis_client.dump(key) for key in keys_of(redis_client, namespace, "tiktok_query_0000011")}
    assert other_before and keys_of(redis_client, namespace, "tiktok_query_0000010")

    unasked = cli("purge", "tiktok_query_0000010", env=env)  # stdin is not a terminal here
    assert unasked.returncode == 2 and "--yes" in unasked.stderr
    assert keys_of(redis_client, namespace, "tiktok_query_0000010")

    purged = cli("purge", "tiktok_query_0000010", "--yes", "--json", env=env)
    assert purged.returncode == 0, purged.stderr
    document = json.loads(purged.stdout)
    assert (document["id"], document["state"], document["keys"]) == ("tiktok_query_0000010", "queued", 3)
    assert keys_of(redis_client, namespace, "tiktok_query_0000010") == []
    assert redis_client.zrange(f"{namespace}:harvests", 0, -1) == [b"tiktok_query_0000011"]
    assert {key: redis_client.dump(key) for key in keys_of(redis_client, namespace, "tiktok_query_0000011")} == (
        other_before)
    assert redis_client.ttl(f"{namespace}:purged:tiktok_query_0000010") > 0

    assert cli("purge", "tiktok_query_0000010", "--yes", env=env).returncode == 1
    assert cli("purge", "tiktok_query_nothing", "--yes", env=env).returncode == 1

    # the same id, another spec: accepted as new
    again = cli("submit", str(spec(tmp_path, "tiktok_query_0000010", "hitte")), "--json", env=env)
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["created"] is True
    assert not redis_client.exists(f"{namespace}:purged:tiktok_query_0000010")
    status = cli("status", "tiktok_query_0000010", "--json", env=env)
    assert status.returncode == 0 and json.loads(status.stdout)["state"] == "queued"
