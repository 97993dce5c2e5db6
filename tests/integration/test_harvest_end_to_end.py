"""Whole harvests through real processes: the CLI, Redis, Dramatiq workers and the simulator
over HTTP. What is stored must be exactly the simulator's matching set."""

import contextlib
import json
import os
import re
import signal
import time

import httpx
import pytest

from core.keys import Keys
from tests.conftest import cli
from tests.integration.harvest_checks import DEMO_SPEC, assert_exact, wait_for_state
from tests.redis_dump import redis_dump
from workers.progress import HarvestStore

pytestmark = pytest.mark.integration


# API faults, all at once (the simulator's switches).
FAULTS = dict(error_500_rate=0.04, error_504_rate=0.01, malformed_rate=0.03, search_id_invalid_rate=0.02,
              invalid_cursor_rate=0.02, empty_page_rate=0.05, throttle_429_rate=0.01, user_500_rate=0.03,
              slow_rate=0.01, slow_ms=1500)


@contextlib.contextmanager
def simulator_switches(url: str, **switches):
    before = httpx.get(f"{url}/_sim/config").json()
    httpx.post(f"{url}/_sim/config", json=switches).raise_for_status()
    try:
        yield
    finally:
        httpx.post(f"{url}/_sim/config", json={k: before[k] for k in switches}).raise_for_status()


def submit(env) -> str:
    result = cli("submit", str(DEMO_SPEC), env=env)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip().splitlines()[-1]


def test_two_worker_processes_store_exactly_the_matching_set(harvest_env, redis_client, namespace,
                                                             simulator_url, fleets, tmp_path, credentials_file):
    store = HarvestStore(redis_client, Keys(namespace))
    harvest_id = submit(harvest_env)
    assert harvest_id == "tiktok_query_demo001"
    fleet = fleets(processes=2, threads=4)
    status = wait_for_state(store, harvest_id, timeout_s=240, fleets=[fleet])
    assert status.state == "done", status
    assert status.records >= 5000
    assert_exact(store, simulator_url, tmp_path / "data", harvest_id)

    # The status command agrees, in JSON a script can read.
    result = cli("status", harvest_id, "--json", env=harvest_env)
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    assert document["id"] == harvest_id and document["state"] == "done"
    assert document["records"] == status.records and document["windows_done"] == document["windows_total"] == 6
    assert document["requests"] >= document["pages"] + document["users_done"]

    # Neither the client secret nor the access token (TikTok's start with "clt.") is anywhere
    # in Redis, in clear, or in the workers' logs.
    secret = credentials_file.read_text().split('client_secret = "')[1].split('"')[0].encode()
    dump = redis_dump(redis_client, f"{namespace}:*")
    assert b"clt." not in dump and secret not in dump
    assert redis_client.exists(Keys(namespace).token("climate-key"))  # it is there, encrypted
    logs = b"".join(path.read_bytes() for path in tmp_path.glob("workers-*.log"))
    assert b"clt." not in logs and secret not in logs


@pytest.mark.parametrize("faults", [{}, {k: v / 2 if k.endswith("rate") else v for k, v in FAULTS.items()}],
                         ids=["clean-api", "api-faults"])
def test_sigkilled_worker_is_restarted_and_the_harvest_is_still_exact(harvest_env, redis_client, namespace,
                                                                      simulator_url, fleets, tmp_path, faults):
    """Two fleets of one worker process each; a worker process is SIGKILLed twice mid-harvest
    (once during the page chains, once later) and its fleet restarted; with and without API
    faults at the same time."""
    store = HarvestStore(redis_client, Keys(namespace))
    with simulator_switches(simulator_url, latency_ms=60, **faults):
        httpx.post(f"{simulator_url}/_sim/stats/reset").raise_for_status()
        harvest_id = submit(harvest_env)
        first, second = fleets(processes=1, threads=4), fleets(processes=1, threads=4)
        kills = 0
        for victim, when in ((first, lambda s: s.pages >= 12), (second, lambda s: s.users_done >= 300)):
            deadline = time.monotonic() + 120
            while not when(store.status(harvest_id)):
                assert time.monotonic() < deadline, store.status(harvest_id)
                time.sleep(0.05)
            (pid,) = victim.worker_pids()
            os.kill(pid, signal.SIGKILL)  # the worker process, mid-flight, at whatever line it is on
            kills += 1
            victim.child.process.wait(60)  # its Dramatiq master notices and stops
            fleets(processes=1, threads=4)  # "the container restarts"
        status = wait_for_state(store, harvest_id, timeout_s=300, may_wait_for_quota=bool(faults))
        stats = httpx.get(f"{simulator_url}/_sim/stats").json()
    assert status.state == "done", status
    assert_exact(store, simulator_url, tmp_path / "data", harvest_id)

    # Quota: the bucket counted every request TikTok saw, and a killed worker's in-flight calls
    # at most once more (a call can die after its quota was taken, before it was sent).
    plan = store.plan(harvest_id)
    assert plan is not None
    sent = stats["clients"]["key-climate-key"]["requests"]
    counted = int(redis_client.hget(Keys(namespace).quota(plan.credential), "requests"))
    # Requests counted as going out sit in between: taken from the bucket, then counted just
    # before the HTTP call; a kill can fall between any two of these.
    assert sent <= status.requests <= counted <= sent + kills * 4, (sent, status.requests, counted)


def test_spent_quota_parks_the_harvest_until_utc_midnight_then_it_completes(
        harvest_env, redis_client, namespace, simulator_url, fleets, tmp_path):
    """TikTok's real default of 1,000 requests a day is below what this harvest needs (~1,020).
    The fleet spends the day to the last request, never one over, waits for quota without
    burning retries, and finishes after the bucket resets at 00:00 UTC. The bucket's clock
    (Redis TIME + offset) is set to 35 s before a midnight so the test need not wait for one."""
    from tests.conftest import write_credentials
    from tests.integration.test_quota_bucket import seconds_to_midnight

    credentials = write_credentials(tmp_path / "tiktok-default.toml", daily_requests=1000)
    offset = seconds_to_midnight(redis_client) - 35
    env = dict(harvest_env, HARVEST_CREDENTIALS_FILE=str(credentials), HARVEST_QUOTA_CLOCK_OFFSET_S=str(offset))
    store = HarvestStore(redis_client, Keys(namespace))
    httpx.post(f"{simulator_url}/_sim/stats/reset").raise_for_status()
    harvest_id = submit(env)
    fleet = fleets(processes=2, threads=4, env=env)

    waiting = wait_for_state(store, harvest_id, states=("waiting_for_quota", "done", "failed"), timeout_s=60)
    assert waiting.state == "waiting_for_quota", waiting
    bucket = redis_client.hgetall(Keys(namespace).quota("climate-key"))
    client = httpx.get(f"{simulator_url}/_sim/stats").json()["clients"]["key-climate-key"]
    assert int(bucket[b"requests"]) == 1000  # to the last request …
    assert client["requests"] == 1000 and client["status_429"] == 0  # … and never one over

    status = wait_for_state(store, harvest_id, timeout_s=120, fleets=[fleet], may_wait_for_quota=True)
    assert status.state == "done" and status.quota_waits > 0 and status.errors == 0
    assert status.dead_letters == 0
    assert_exact(store, simulator_url, tmp_path / "data", harvest_id)



def test_api_faults_are_retried_split_or_restarted_and_nothing_is_lost(harvest_env, redis_client, namespace,
                                                                       simulator_url, fleets, tmp_path):
    """500s (more on long windows), 504s with HTML, bodies cut short, stale search ids and
    cursors, empty pages, short throttling and slow answers: still exactly the matching set."""
    store = HarvestStore(redis_client, Keys(namespace))
    with simulator_switches(simulator_url, **FAULTS):
        harvest_id = submit(harvest_env)
        fleet = fleets(processes=2, threads=4)
        # Short-term 429s park pages for a few seconds: waiting for quota is allowed here.
        status = wait_for_state(store, harvest_id, timeout_s=400, fleets=[fleet], may_wait_for_quota=True)
    assert status.state == "done", status
    assert status.errors > 0 and status.dead_letters == 0
    assert_exact(store, simulator_url, tmp_path / "data", harvest_id)


def test_refused_key_dead_letters_with_reason_and_replay_resumes(harvest_env, redis_client, namespace,
                                                                   simulator_url, fleets, tmp_path):
    """A revoked key is a permanent error: each page goes to the dead-letter list with its
    reason at once (no retries) and the harvest is failed. With the key fixed in the
    credentials file, `dead replay` resumes the harvest and it completes exactly."""
    from tests.conftest import write_credentials

    credentials = write_credentials(tmp_path / "rotating.toml", daily_requests=5000, secret="revoked-by-tiktok")
    env = dict(harvest_env, HARVEST_CREDENTIALS_FILE=str(credentials))
    store = HarvestStore(redis_client, Keys(namespace))
    harvest_id = submit(env)
    fleet = fleets(processes=1, threads=4, env=env)
    failed = wait_for_state(store, harvest_id, states=("failed",), timeout_s=60, fleets=[fleet])
    time.sleep(1)  # let the remaining first pages fail too
    letters = json.loads(cli("dead", "list", harvest_id, "--json", env=env).stdout)
    assert failed.state == "failed"
    assert len(letters) == 6 and {letter["payload"]["page"] for letter in letters} == {0}
    assert all("client key or secret refused" in letter["reason"] for letter in letters)
    assert "revoked-by-tiktok" not in json.dumps(letters)
    assert store.registered_status(harvest_id).requests == 0  # a refused token costs no research quota

    write_credentials(credentials, daily_requests=5000, secret="a-fresh-secret")
    replayed = cli("dead", "replay", harvest_id, env=env)
    assert replayed.returncode == 0, replayed.stderr
    status = wait_for_state(store, harvest_id, timeout_s=120, fleets=[fleet])
    assert status.state == "done" and status.dead_letters == 0
    assert json.loads(cli("dead", "list", "--json", env=env).stdout) == []
    assert_exact(store, simulator_url, tmp_path / "data", harvest_id)


def test_workers_export_prometheus_metrics_that_match_the_status(harvest_env, redis_client, namespace,
                                                                 simulator_url, fleets, tmp_path):
    from harvest_cli.processes import free_port, wait_until

    port = free_port()
    env = dict(harvest_env, HARVEST_METRICS_PORT=str(port))
    store = HarvestStore(redis_client, Keys(namespace))
    spec = tmp_path / "month.yaml"
    spec.write_text(DEMO_SPEC.read_text().replace("20240101-20240630", "20240601-20240630"))
    result = cli("submit", str(spec), env=env)
    assert result.returncode == 0, result.stderr
    harvest_id = result.stdout.strip()
    fleet = fleets(processes=2, threads=4, env=env)
    status = wait_for_state(store, harvest_id, timeout_s=120, fleets=[fleet])
    text = wait_until(lambda: httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=2).text, 30, "metrics")

    def total(name: str, **labels) -> float:
        found = 0.0
        for line in text.splitlines():
            if line.startswith(name + "{") and all(f'{k}="{v}"' in line for k, v in labels.items()):
                found += float(line.rsplit(" ", 1)[1])
        return found

    assert total("tiktok_harvest_records_total", project="climate", endpoint="video_query") == status.records
    assert total("tiktok_harvest_pages_total", project="climate", endpoint="video_query") == status.pages
    assert total("tiktok_api_requests_total", credential="climate-key", outcome="ok") == status.requests
    # Counters whose label values are known in advance start at 0 (nothing failed here).
    assert 'tiktok_dead_letters_total{actor="fetch_comments"} 0.0' in text
    assert "dramatiq_messages_total" in text
    assert "s3cr3t" not in text  # label values are names, never secrets


def test_another_service_submits_through_the_intake_queue(harvest_env, redis_client, namespace,
                                                          simulator_url, fleets, tmp_path):
    """iCANDID services publish a spec as a message; the workers validate, plan and run it."""
    import yaml

    from core import intake, messages
    from core.config import Settings
    from core.messages import producer_broker
    from schemas.messages import SubmitHarvest

    spec = yaml.safe_load(DEMO_SPEC.read_text()) | {"id": "from_a_service", "period": "20240601-20240630"}
    broker = producer_broker(Settings(redis_url=harvest_env["REDIS_URL"], namespace=namespace, metrics_port=0),
                             redis_client)
    messages.send(broker, SubmitHarvest(spec=spec, request_id="service-42"))
    messages.send(broker, SubmitHarvest(spec=spec | {"period": "20240631-20240701"},  # refused: not a day
                                        request_id="service-43"))
    fleet = fleets(processes=1, threads=4)
    store = HarvestStore(redis_client, Keys(namespace))
    wait_until_registered = time.monotonic() + 60
    while store.plan("from_a_service") is None:
        assert time.monotonic() < wait_until_registered
        time.sleep(0.1)
    status = wait_for_state(store, "from_a_service", timeout_s=120, fleets=[fleet])
    assert status.state == "done"
    assert_exact(store, simulator_url, tmp_path / "data", "from_a_service")
    accepted = intake.wait_for_reply(redis_client, Keys(namespace), "service-42")
    refused = intake.wait_for_reply(redis_client, Keys(namespace), "service-43")
    assert accepted is not None and (accepted.outcome, accepted.harvest_id) == ("accepted", "from_a_service")
    assert refused is not None and refused.outcome == "refused" and refused.field == "period"
    assert json.loads(cli("dead", "list", "--json", env=harvest_env).stdout) == []  # answered, not failed


def test_harvests_sharing_a_credential_get_equal_halves_of_its_day(harvest_env, redis_client, namespace,
                                                                    simulator_url, fleets, tmp_path):
    """Two harvests on one credential whose day holds 400 requests: the day is spent to the
    last request, and the two harvests get equal halves of it."""
    from harvest_cli.processes import free_port
    from tests.conftest import write_credentials

    credentials = write_credentials(tmp_path / "shared.toml", daily_requests=400)
    port = free_port()
    env = dict(harvest_env, HARVEST_CREDENTIALS_FILE=str(credentials), HARVEST_METRICS_PORT=str(port))
    second = tmp_path / "second.yaml"
    second.write_text(DEMO_SPEC.read_text().replace("tiktok_query_demo001", "tiktok_query_demo002")
                      .replace("20240101-20240630", "20240701-20241231"))
    first_id, second_id = submit(env), cli("submit", str(second), env=env).stdout.strip()
    fleets(processes=2, threads=4, env=env)
    store = HarvestStore(redis_client, Keys(namespace))
    deadline = time.monotonic() + 90
    while int(redis_client.hget(Keys(namespace).quota("climate-key"), "requests") or 0) < 400 \
            or store.registered_status(first_id).state != "waiting_for_quota" \
            or store.registered_status(second_id).state != "waiting_for_quota":
        assert time.monotonic() < deadline, (store.status(first_id), store.status(second_id))
        time.sleep(0.2)
    time.sleep(1)
    shares = [store.registered_status(harvest).requests for harvest in (first_id, second_id)]
    assert sum(shares) == 400, shares
    assert abs(shares[0] - shares[1]) <= 1, shares

    # The status tells a researcher why the harvest waits while others share the credential.
    document = json.loads(cli("status", first_id, "--json", env=env).stdout)
    assert document["quota"]["requests_used"] == 400 and document["quota"]["requests_left"] == 0
    assert document["quota"]["harvest_requests"] == shares[0] and document["quota"]["harvests_sharing"] == 2
    # Waiting for the day's reset: its rough time to finish counts the wait.
    assert document["eta_s"] is not None and document["eta_s"] >= document["quota"]["resets_in_s"]
    table = cli("status", second_id, env=dict(env, COLUMNS="200")).stdout
    assert f"{shares[1]:,} of them by this harvest, which shares the day evenly with 1 other harvest" in table

    # Grafana can tell why pages wait: here, at least, for the spent day.
    metrics = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    waits = [line for line in metrics.splitlines() if line.startswith("tiktok_quota_waits_total{")]
    assert any('why="day_spent"' in line and float(line.rsplit(" ", 1)[1]) > 0 for line in waits), waits
    # Every why starts at 0; TikTok was never down here.
    counted = [line for line in waits if float(line.rsplit(" ", 1)[1]) > 0]
    assert all(re.search(r'why="(day_spent|throttled|fair_share)"', line) for line in counted), waits
