"""Several keys per project with real Redis and 8 worker processes: a project's two keys,
each capped at 40 requests a day, serve exactly 80 requests, 40 on each, none over; a second
project harvesting at the same time only ever spends its own key, with its own queries, and
ends exactly."""

import json

import httpx
import msgspec
import pytest
import yaml

from core.keys import Keys
from harvest_cli.processes import wait_until
from tests.conftest import write_credentials
from tests.integration.harvest_checks import DEMO_SPEC, assert_exact, wait_for_state
from tests.integration.test_harvest_end_to_end import cli
from workers.progress import HarvestStore

pytestmark = pytest.mark.integration

CAP = 40


def credentials(tmp_path) -> str:
    tables = [write_credentials(tmp_path / f"{name}.toml", name=name, project=project, daily_requests=limit)
              .read_text() for name, project, limit in (("climate-a", "climate", CAP), ("climate-b", "climate", CAP),
                                                        ("elections-key", "elections", 5000))]
    path = tmp_path / "keys.toml"
    path.write_text("\n".join(tables))
    return str(path)


def submit(env: dict, tmp_path, spec: dict) -> str:
    path = tmp_path / f"{spec['id']}.yaml"
    path.write_text(yaml.safe_dump(spec))
    result = cli("submit", str(path), env=env)
    assert result.returncode == 0, result.stderr
    return spec["id"]


def test_two_keys_serve_twice_the_day_and_projects_never_share_keys(harvest_env, redis_client, namespace,
                                                                    simulator_url, fleets, tmp_path):
    env = dict(harvest_env, HARVEST_CREDENTIALS_FILE=credentials(tmp_path))
    demo = yaml.safe_load(DEMO_SPEC.read_text())
    httpx.post(f"{simulator_url}/_sim/stats/reset").raise_for_status()
    climate = submit(env, tmp_path, demo | {"id": "climate_two_keys"})
    elections = submit(env, tmp_path, demo | {"id": "elections_own_key", "project": "elections",
                                              "keywords": ["verkiezingen"], "period": "20240101-20240331"})
    fleet = fleets(processes=8, threads=1, env=env)
    store, keys = HarvestStore(redis_client, Keys(namespace)), Keys(namespace)

    done = wait_for_state(store, elections, timeout_s=240, fleets=[fleet])
    assert done.state == "done" and done.dead_letters == 0, done
    wait_until(lambda: store.registered_status(climate).state == "waiting_for_quota", 120, "the climate keys spent")

    used = {name: int(redis_client.hget(keys.quota(name), "requests") or 0) for name in ("climate-a", "climate-b")}
    assert used == {"climate-a": CAP, "climate-b": CAP}
    clients = httpx.get(f"{simulator_url}/_sim/stats").json()["clients"]
    assert {name: clients[f"key-{name}"]["requests"] for name in used} == used  # TikTok's count: none over
    assert store.registered_status(climate).requests_by_key == used
    assert store.registered_status(elections).requests_by_key == {"elections-key": done.requests}

    # Each key carried only its own project's queries.
    climate_plan, elections_plan = store.plan(climate), store.plan(elections)
    assert climate_plan is not None and elections_plan is not None
    query_of = {"climate": _query(climate_plan), "elections": _query(elections_plan)}
    assert set(clients["key-climate-a"]["queries"]) | set(clients["key-climate-b"]["queries"]) == {query_of["climate"]}
    assert set(clients["key-elections-key"]["queries"]) == {query_of["elections"]}
    assert_exact(store, simulator_url, tmp_path / "data", elections)


def _query(plan) -> str:
    return json.dumps(msgspec.to_builtins(plan.query), sort_keys=True, separators=(",", ":"))
