"""An ongoing harvest with real workers, a real Redis that is killed and started again, and the
simulator: the archived past first, then each new day once, over "days" that pass by starting
the fleet with its clock moved on (HARVEST_QUOTA_CLOCK_OFFSET_S), between restarts of
everything (the workers SIGKILLed, then stopped cleanly; Redis SIGKILLed). The schedule lives
in Redis alone, so each fleet picks it up where the last one left it.

The fleet's clock is set in December 2025, inside the simulator's corpus (2024-2025)."""

import datetime as dt
import json
import time

import httpx
import msgspec
import pytest
import redis
import yaml

from core.keys import Keys
from harvest_cli.processes import PrivateRedis, wait_until
from producers.query_rules import build_query
from producers.spec import parse_spec
from tests.conftest import cli
from tests.integration.harvest_checks import DEMO_SPEC, assert_no_temporary_files, stored_video_ids, unexpanded_authors
from workers.progress import HarvestStore

pytestmark = pytest.mark.integration

FIRST_MOMENT = dt.datetime(2025, 12, 20, 12, tzinfo=dt.UTC)  # the days up to 20251217 are archived
DAY_S = 86400


def credentials(path) -> str:
    path.write_text('[credentials.climate-key]\nproject = "climate"\nclient_key = "key-climate-key"\n'
                    'client_secret = "s3cr3t-ongoing-0a1b2c"\naccess_start = 2025-06-01\naccess_end = 2027-05-31\n'
                    "daily_requests = 1000\ndaily_records = 100000\n")
    return str(path)


def test_an_ongoing_harvest_adds_each_archived_day_once_through_restarts_of_everything(
        harvest_env, namespace, simulator_url, fleets, tmp_path):
    server = PrivateRedis(tmp_path, data_dir=tmp_path).start()
    try:
        def env_at(moment: float) -> dict:
            return dict(harvest_env, REDIS_URL=server.url, HARVEST_CREDENTIALS_FILE=credentials(tmp_path / "keys.toml"),
                        HARVEST_QUOTA_CLOCK_OFFSET_S=str(moment - time.time()), HARVEST_NEW_DAYS_CHECK_S="1")

        client = redis.Redis.from_url(server.url, socket_timeout=10)
        keys = Keys(namespace)
        store = HarvestStore(client, keys)
        spec = yaml.safe_load(DEMO_SPEC.read_text()) | {"id": "klimaat_daily", "period": "20251210-ongoing"}
        (tmp_path / "spec.yaml").write_text(yaml.safe_dump(spec))
        first = FIRST_MOMENT.timestamp()
        result = cli("submit", str(tmp_path / "spec.yaml"), env=env_at(first))
        assert result.returncode == 0 and "ongoing" in result.stderr, result.stderr
        harvest = result.stdout.strip().splitlines()[-1]

        def caught_up_through(day: str) -> None:
            wait_until(lambda: (store.registered_status(harvest).state, store.registered_status(harvest).through)
                       == ("caught_up", day), 180, f"caught up through {day}")

        fleet = fleets(processes=2, threads=4, env=env_at(first))
        caught_up_through("20251217")
        status = store.registered_status(harvest)
        assert status.next_day_at == dt.datetime(2025, 12, 21, 1, tzinfo=dt.UTC).timestamp()

        # Everything dies: the workers (one holding the delayed task of the next day) and Redis.
        fleet.child.kill()
        server.kill()
        server.start()
        # A day later: the next day is archived.
        fleet = fleets(processes=2, threads=4, env=env_at(first + DAY_S))
        caught_up_through("20251218")
        fleet.stop()  # a clean stop this time: the task waiting for 20251219 goes back to Redis
        # The fleet stays down for two more days: both come in one window.
        fleet = fleets(processes=2, threads=4, env=env_at(first + 3 * DAY_S))
        caught_up_through("20251220")
        fleet.stop()

        windows = sorted(client.hkeys(keys.windows(harvest)))
        assert windows == [b"20251210-20251217", b"20251218-20251218", b"20251219-20251220"]
        status = store.registered_status(harvest)
        assert status.dead_letters == 0 and status.windows_done == status.windows_total == 3
        # No page was asked for twice: one request per page stored.
        assert status.endpoints["video_query"].requests == status.pages
        truth = _truth(simulator_url, spec, "20251210", "20251220")
        plan = store.plan(harvest)
        assert plan is not None
        stored = stored_video_ids(tmp_path / "data", plan)
        assert set(stored) == truth and set(stored.values()) == {1} and status.records == len(truth)
        assert len(truth) > 100  # (days with videos: a real test of the new days)
        assert not unexpanded_authors(tmp_path / "data", plan)
        assert_no_temporary_files(tmp_path / "data", plan)
        # The schedule waits in Redis for the next day, for whichever fleet comes next.
        # (Delayed, or just sent again to look at the clock: on either of the pages queues.)
        waiting = [json.loads(body)["args"][0] for queue in ("pages", "pages.DQ")
                   for body in client.hvals(f"{namespace}:{queue}.msgs")]
        assert waiting == [{"harvest_id": harvest, "day": "20251221"}]
    finally:
        server.stop()


def _truth(simulator_url: str, spec: dict, first: str, last: str) -> set[str]:
    query = msgspec.to_builtins(build_query(parse_spec(spec)))
    response = httpx.post(f"{simulator_url}/_sim/ground_truth", timeout=60,
                          json={"query": query, "start_date": first, "end_date": last})
    response.raise_for_status()
    return set(response.json()["ids"])
