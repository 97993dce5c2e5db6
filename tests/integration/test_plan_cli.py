"""`tiktok-harvest plan` against the simulator: without --probe nothing is asked of TikTok;
with it, one request per window, taken from the key's bucket like any other, and estimates
of the right size against the simulator's ground truth."""

import json

import httpx
import pytest

from core.keys import Keys
from tests.integration.harvest_checks import DEMO_SPEC
from tests.integration.test_harvest_end_to_end import cli

pytestmark = pytest.mark.integration


def research_requests(simulator_url: str) -> int:
    return httpx.get(f"{simulator_url}/_sim/stats").json()["clients"].get("key-climate-key", {}).get("requests", 0)


def test_plan_costs_nothing_and_the_probe_one_request_a_window(harvest_env, redis_client, namespace,
                                                                simulator_url):
    before = research_requests(simulator_url)
    plain = json.loads(cli("plan", str(DEMO_SPEC), "--json", env=harvest_env).stdout)
    assert len(plain["windows"]) == 6 and plain["requests_at_least"] == 6 and plain["probe_requests"] == 0
    assert plain["keys"] == ["climate-key"] and plain["days_at_least"] == 1
    assert research_requests(simulator_url) == before

    result = cli("plan", str(DEMO_SPEC), "--probe", "--json", env=harvest_env)
    assert result.returncode == 0, result.stderr
    probed = json.loads(result.stdout)
    assert probed["probe_requests"] == 6 and research_requests(simulator_url) == before + 6
    assert int(redis_client.hget(Keys(namespace).quota("climate-key"), "requests")) == 6  # paid from the bucket
    assert redis_client.zcard(Keys(namespace).quota_active("climate-key")) == 0  # the probe left the share
    videos = next(e for e in probed["endpoints"] if e["endpoint"] == "video_query")
    truth = 6101  # the demo spec's videos (tests/integration/harvest_checks.py)
    assert truth / 2 <= videos["records_estimate"] <= truth * 2, videos
    authors = next(e for e in probed["endpoints"] if e["endpoint"] == "user_info")
    assert authors["requests_estimate"] > 0 and probed["days_estimate"] >= 1
    table = cli("plan", str(DEMO_SPEC), env=dict(harvest_env, COLUMNS="200")).stdout
    assert "video_query" in table and "at least 1 day(s)" in table
