"""`tiktok-harvest exporter`: the gauges it reads from Redis, checked against what the test
put there (fakeredis), number by number."""

import os
import subprocess
import sys

import dramatiq
import pytest
import redis
from prometheus_client import CollectorRegistry, generate_latest

from core.keys import Keys
from schemas.status import EndpointStatus, HarvestStatus
from tests.unit.conftest import CREDENTIAL, HARVEST_ID, NAMESPACE
from workers.exporter.collector import FleetCollector
from workers.exporter.eta import eta_seconds
from workers.exporter.quota import BudgetReading
from workers.exporter.redis_memory import read_memory
from workers.middleware.dead_letters import DeadLetter, record, unrecord
from workers.quota import QuotaBucket, reservation

KEYS = Keys(NAMESPACE)
T0 = 1_750_000_000.0  # the tests' "now" where they set times themselves


def samples(collector: FleetCollector) -> dict[tuple, float]:
    """(metric name, sorted label pairs) -> value, as Prometheus would store them."""
    found = {}
    for family in collector.collect():
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def value(found: dict, name: str, **labels) -> float:
    return found[(name, tuple(sorted(labels.items())))]


def message(queue: str, actor: str, sent_ms: int, **options) -> dramatiq.Message:
    return dramatiq.Message(queue_name=queue, actor_name=actor, args=({"harvest_id": HARVEST_ID},), kwargs={},
                            options=options, message_timestamp=sent_ms)


@pytest.fixture
def collector(fake, settings):
    return FleetCollector(fake, settings, interval_s=0, clock=lambda: T0)


# --- queues and workers ------------------------------------------------------------------------


def test_queues_count_ready_delayed_and_in_flight_messages_and_the_oldest_ones_age(fake, broker, collector):
    # Three pages waiting, sent 90, 60 and 30 s before "now"; one put back from the delay
    # queue (its eta, 20 s ago, is when it became ready, not when it was first sent).
    for age_s in (90, 60, 30):
        broker.enqueue(message("pages", "fetch_page", int((T0 - age_s) * 1000)))
    broker.enqueue(message("users", "fetch_user", int((T0 - 3600) * 1000), eta=int((T0 - 20) * 1000)))
    # Two parked for quota (delayed), one of them already held by a worker until its time.
    broker.enqueue(message("pages", "fetch_page", int(T0 * 1000)), delay=60_000)
    broker.enqueue(message("pages", "fetch_page", int(T0 * 1000)), delay=60_000)
    broker.do_fetch("pages.DQ", 1)
    # A worker fetched the oldest page and has not acknowledged it.
    broker.do_fetch("pages", 1)

    found = samples(collector)
    assert value(found, "tiktok_queue_ready_messages", queue="pages") == 2
    assert value(found, "tiktok_queue_delayed_messages", queue="pages") == 2
    assert value(found, "tiktok_queue_inflight_messages", queue="pages") == 1
    assert value(found, "tiktok_queue_oldest_message_age_seconds", queue="pages") == 60
    assert value(found, "tiktok_queue_ready_messages", queue="users") == 1
    assert value(found, "tiktok_queue_oldest_message_age_seconds", queue="users") == 20
    for queue in ("comments", "lists", "intake"):
        for name in ("ready", "delayed", "inflight"):
            assert value(found, f"tiktok_queue_{name}_messages", queue=queue) == 0
        assert value(found, "tiktok_queue_oldest_message_age_seconds", queue=queue) == 0


def test_oldest_age_skips_a_head_id_already_acknowledged(fake, broker, collector):
    broker.enqueue(message("pages", "fetch_page", int((T0 - 50) * 1000)))
    broker.enqueue(message("pages", "fetch_page", int((T0 - 40) * 1000)))
    head = fake.lindex(f"{NAMESPACE}:pages", 0)
    fake.hdel(f"{NAMESPACE}:pages.msgs", head)  # acknowledged between the two reads
    assert value(samples(collector), "tiktok_queue_oldest_message_age_seconds", queue="pages") == 40


def test_live_and_dead_workers_by_heartbeat_and_their_unacknowledged_messages(fake, settings, collector):
    assert settings.dead_worker_after_s == 15
    heartbeats = f"{NAMESPACE}:__heartbeats__"
    fake.zadd(heartbeats, {"w-live-1": (T0 - 1) * 1000, "w-live-2": (T0 - 14) * 1000, "w-dead": (T0 - 16) * 1000})
    fake.sadd(f"{NAMESPACE}:__acks__.w-live-1.pages", "m1", "m2")
    fake.sadd(f"{NAMESPACE}:__acks__.w-dead.pages", "m3")
    fake.sadd(f"{NAMESPACE}:__acks__.w-live-2.users", "m4")
    found = samples(collector)
    assert value(found, "tiktok_workers_live") == 2
    assert value(found, "tiktok_workers_dead") == 1
    assert value(found, "tiktok_queue_inflight_messages", queue="pages") == 3
    assert value(found, "tiktok_queue_inflight_messages", queue="users") == 1


def test_no_worker_at_all_reads_zero(collector):
    found = samples(collector)
    assert value(found, "tiktok_workers_live") == 0 and value(found, "tiktok_workers_dead") == 0


# --- dead letters ------------------------------------------------------------------------------


def letter(n: int, queue: str, actor: str) -> DeadLetter:
    return DeadLetter(message_id=f"m{n}", harvest_id=None, queue_name=queue, actor_name=actor, payload={},
                      reason="test", failed_at=T0, broker_message_id="")


def test_dead_letters_by_queue_and_actor_follow_records_and_replays(fake, collector):
    found = samples(collector)
    assert value(found, "tiktok_dead_letters_stored", queue="pages", actor="fetch_page") == 0
    assert value(found, "tiktok_dead_letters_stored", queue="intake", actor="submit_harvest") == 0
    letters = [letter(1, "pages", "fetch_page"), letter(2, "pages", "fetch_page"), letter(3, "users", "fetch_user")]
    for one in letters:
        record(fake, KEYS, one, keep_s=3600)
    found = samples(collector)
    assert value(found, "tiktok_dead_letters_stored", queue="pages", actor="fetch_page") == 2
    assert value(found, "tiktok_dead_letters_stored", queue="users", actor="fetch_user") == 1
    assert value(found, "tiktok_dead_letters_stored", queue="lists", actor="fetch_follows") == 0
    unrecord(fake, KEYS, letters[0])  # replayed
    record(fake, KEYS, letter(4, "lists", "fetch_follows"), keep_s=3600)
    found = samples(collector)
    assert value(found, "tiktok_dead_letters_stored", queue="pages", actor="fetch_page") == 1
    assert value(found, "tiktok_dead_letters_stored", queue="lists", actor="fetch_follows") == 1


# --- quota -------------------------------------------------------------------------------------


@pytest.mark.limits(daily_requests=50, daily_records=4000)
def test_quota_used_limits_and_reset_per_credential_and_budget(fake, settings, collector):
    bucket = QuotaBucket(fake, KEYS, clock_offset_s=settings.quota_clock_offset_s)
    from core.credentials import load_credentials

    limits = load_credentials(settings.credentials_file)[CREDENTIAL]
    for n in range(3):
        assert bucket.take(CREDENTIAL, limits, HARVEST_ID, reservation(HARVEST_ID, f"u{n}", "d", 1), 100).granted
    bucket.settle(CREDENTIAL, HARVEST_ID, "u0", reservation(HARVEST_ID, "u0", "d", 1), 40)
    follows = limits.follow_budget()
    assert bucket.take(f"{CREDENTIAL}#follows", follows, HARVEST_ID, reservation(HARVEST_ID, "f", "d", 1), 100).granted

    found = samples(collector)
    research = {"credential": CREDENTIAL, "budget": "research"}
    follows_labels = {"credential": CREDENTIAL, "budget": "follows"}
    assert value(found, "tiktok_quota_requests_used", **research) == 3
    assert value(found, "tiktok_quota_records_used", **research) == 240  # 100 + 100 + 40 settled
    assert value(found, "tiktok_quota_requests_limit", **research) == 50
    assert value(found, "tiktok_quota_records_limit", **research) == 4000
    assert value(found, "tiktok_quota_requests_used", **follows_labels) == 1
    assert value(found, "tiktok_quota_records_used", **follows_labels) == 100
    assert value(found, "tiktok_quota_requests_limit", **follows_labels) == 20_000
    assert value(found, "tiktok_quota_records_limit", **follows_labels) == 2_000_000
    # The bucket's clock is at noon UTC (tests/unit/conftest.py): half a day to the reset.
    assert 43200 - 5 < value(found, "tiktok_quota_reset_seconds", **research) <= 43200
    for name in ("day_spent", "throttled", "api_down"):
        assert value(found, f"tiktok_quota_{name}", **research) == 0
    assert value(found, "tiktok_exporter_credentials_ok") == 1


@pytest.mark.limits(daily_requests=2)
def test_a_spent_day_and_a_throttled_budget_are_flagged(fake, settings, collector):
    from core.credentials import load_credentials

    limits = load_credentials(settings.credentials_file)[CREDENTIAL]
    bucket = QuotaBucket(fake, KEYS, clock_offset_s=settings.quota_clock_offset_s)
    for n in range(2):
        bucket.take(CREDENTIAL, limits, HARVEST_ID, reservation(HARVEST_ID, f"u{n}", "d", 1), 10)
    bucket.mark_spent(f"{CREDENTIAL}#follows")  # TikTok's 429s at noon: spent until past midnight
    found = samples(collector)
    research = {"credential": CREDENTIAL, "budget": "research"}
    follows = {"credential": CREDENTIAL, "budget": "follows"}
    assert value(found, "tiktok_quota_day_spent", **research) == 1
    assert value(found, "tiktok_quota_throttled", **research) == 0
    assert value(found, "tiktok_quota_day_spent", **follows) == 1
    assert value(found, "tiktok_quota_throttled", **follows) == 1
    assert value(found, "tiktok_quota_requests_used", **follows) == 0


def test_an_unreadable_credentials_file_drops_only_the_quota_gauges(fake, settings, collector):
    settings.credentials_file.write_text("not toml [")
    found = samples(collector)
    assert value(found, "tiktok_exporter_credentials_ok") == 0
    assert value(found, "tiktok_exporter_redis_up") == 1
    assert not [key for key in found if key[0].startswith("tiktok_quota_")]
    assert value(found, "tiktok_workers_live") == 0


# --- harvests ----------------------------------------------------------------------------------


def test_harvest_state_units_records_and_eta(fake, settings, make_plan):
    plan = make_plan()
    now = plan.submitted_at + 100
    collector = FleetCollector(fake, settings, interval_s=0, clock=lambda: now)
    stats = KEYS.stats(plan.id)
    fake.hset(stats, mapping={"requests": 12, "requests_video_query": 8, "pages": 8, "records": 700,
                              "requests_user_info": 4})
    fake.sadd(KEYS.users_requested(plan.id), *[f"user{n}" for n in range(10)])
    fake.hset(KEYS.users_done(plan.id), mapping={f"user{n}": "ok" for n in range(4)})

    found = samples(collector)
    video = {"harvest": plan.id, "project": "climate", "endpoint": "video_query"}
    users = {**video, "endpoint": "user_info"}
    assert value(found, "tiktok_harvest_state", harvest=plan.id, project="climate", credential=CREDENTIAL,
                 state="running") == 1
    assert value(found, "tiktok_harvest_units", **video) == 1  # the period's one window
    assert value(found, "tiktok_harvest_units_done", **video) == 0
    assert value(found, "tiktok_harvest_records_stored", **video) == 700
    assert value(found, "tiktok_harvest_requests_spent", **video) == 8
    assert value(found, "tiktok_harvest_units", **users) == 10
    assert value(found, "tiktok_harvest_units_done", **users) == 4
    assert value(found, "tiktok_harvest_records_stored", **users) == 4
    # 12 requests in 100 s; to go: the open window as many as it spent (8), and 6 profiles at
    # one request each: 14 requests at 0.12 a second, well within the day's 1,000.
    assert value(found, "tiktok_harvest_eta_seconds", harvest=plan.id, project="climate") == pytest.approx(
        14 / 0.12, abs=0.001)


def test_finished_harvests_leave_after_a_day_and_queued_ones_have_no_eta_yet(fake, settings, make_plan):
    old, recent, queued = (make_plan(id=f"tiktok_query_unit0{n}") for n in (1, 2, 3))
    fake.hset(KEYS.meta(old.id), "finished_at", f"{T0 - 86401:.3f}")
    fake.hset(KEYS.meta(recent.id), "finished_at", f"{T0 - 3600:.3f}")
    found = samples(FleetCollector(fake, settings, interval_s=0, clock=lambda: T0))
    states = {dict(labels)["harvest"]: dict(labels)["state"] for (name, labels) in found
              if name == "tiktok_harvest_state"}
    assert states == {recent.id: "done", queued.id: "queued"}
    etas = {dict(labels)["harvest"]: v for (name, labels), v in found.items() if name == "tiktok_harvest_eta_seconds"}
    assert etas == {recent.id: 0}


def reading(**fields) -> BudgetReading:
    base = dict(credential=CREDENTIAL, budget="research", requests_used=0, records_used=0, requests_limit=1000,
                records_limit=100_000, reset_in_s=3600.0, throttled_for_s=0.0, api_down=False, harvests_sharing=1)
    return BudgetReading(**{**base, **fields})


def status(requests: int, endpoints: dict[str, EndpointStatus], state="running") -> HarvestStatus:
    return HarvestStatus(id=HARVEST_ID, state=state, name="", project="climate", credential=CREDENTIAL,
                         period="20240101-20240131", windows_total=0, windows_done=0, pages=0, records=0,
                         users_requested=0, users_done=0, requests=requests, quota_waits=0, errors=0,
                         dead_letters=0, submitted_at=T0 - 1000, endpoints=endpoints)


def test_eta_waits_for_the_reset_when_the_day_cannot_serve_the_rest():
    # 100 requests in 1,000 s (0.1/s). To go: 30 windows of 10 requests each = 300 requests.
    going = status(100, {"video_query": EndpointStatus(100, 0, 0, chains_done=10, chains_total=40)})
    # Enough left today: 300 / 0.1.
    assert eta_seconds(going, {"research": reading(requests_used=600)}, T0) == 3000
    # 50 left today: those now, then the reset in an hour, then 250 at the same pace.
    assert eta_seconds(going, {"research": reading(requests_used=950)}, T0) == 3600 + 2500
    # A day holds 100, shared by two harvests: 50 each, today's 50 now, and the 250 after the
    # reset are 5 days' parts: the reset, four whole days, and 50 requests on the last one.
    shared = reading(requests_used=0, requests_limit=100, harvests_sharing=2)
    assert eta_seconds(going, {"research": shared}, T0) == pytest.approx(3600 + 4 * 86400 + 500)
    # Spent today: all 300 after the reset.
    assert eta_seconds(going, {"research": reading(requests_used=1000)}, T0) == 3600 + 3000


def test_eta_takes_the_slowest_budget_and_none_where_there_is_nothing_to_go_on():
    both = status(100, {"video_query": EndpointStatus(60, 0, 0, chains_done=6, chains_total=8),
                        "user_followers": EndpointStatus(40, 0, 0, chains_done=4, chains_total=10)})
    budgets = {"research": reading(), "follows": reading(budget="follows", requests_used=20_000,
                                                         requests_limit=20_000)}
    # research: 20 requests (200 s); follows: 60 requests, the day spent: the reset, then 600 s.
    assert eta_seconds(both, budgets, T0) == 3600 + 600
    assert eta_seconds(status(0, {}, state="queued"), budgets, T0) is None
    assert eta_seconds(status(100, {}, state="paused"), budgets, T0) is None
    assert eta_seconds(status(100, {}, state="done"), budgets, T0) == 0


# --- Redis, caching, failures ------------------------------------------------------------------


class InfoOnly:
    """A Redis that answers INFO (fakeredis does not)."""

    def pipeline(self, transaction=False):
        return self

    def __enter__(self):
        self._sections = []
        return self

    def __exit__(self, *exc):
        return False

    def info(self, section):
        self._sections.append(section)

    def execute(self):
        answers = {"memory": {"used_memory": 1_048_576, "maxmemory": 4_194_304}, "stats": {"evicted_keys": 3}}
        return [answers[section] for section in self._sections]


def test_redis_memory_from_info_and_none_where_info_is_refused(fake):
    memory = read_memory(InfoOnly())
    assert memory is not None
    assert (memory.used_bytes, memory.max_bytes, memory.evicted_keys) == (1_048_576, 4_194_304, 3)
    assert read_memory(fake) is None  # fakeredis refuses INFO, as a Redis with INFO renamed would


def test_scrapes_within_the_interval_get_the_last_reading(fake, broker, settings):
    collector = FleetCollector(fake, settings, interval_s=3600, clock=lambda: T0)
    assert value(samples(collector), "tiktok_queue_ready_messages", queue="pages") == 0
    broker.enqueue(message("pages", "fetch_page", int(T0 * 1000)))
    assert value(samples(collector), "tiktok_queue_ready_messages", queue="pages") == 0
    fresh = FleetCollector(fake, settings, interval_s=0, clock=lambda: T0)
    assert value(samples(fresh), "tiktok_queue_ready_messages", queue="pages") == 1


def test_redis_away_answers_with_redis_up_0(settings):
    client = redis.Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.5)
    found = samples(FleetCollector(client, settings, interval_s=0))
    assert value(found, "tiktok_exporter_redis_up") == 0
    assert {name for name, _ in found} == {"tiktok_exporter_redis_up", "tiktok_exporter_read_seconds"}


def test_exposition_has_no_secret_and_only_bounded_labels(fake, settings, make_plan, broker):
    make_plan()
    broker.enqueue(message("pages", "fetch_page", int(T0 * 1000)))
    registry = CollectorRegistry()
    registry.register(FleetCollector(fake, settings, interval_s=0, clock=lambda: T0))
    text = generate_latest(registry).decode()
    assert "S3CRET" not in text and "KEY-climate" not in text
    labels = {pair.split("=")[0] for line in text.splitlines() if "{" in line
              for pair in line.split("{", 1)[1].split("}")[0].split(",")}
    assert labels <= {"queue", "actor", "credential", "budget", "harvest", "project", "endpoint", "state"}


# --- the workers' counters start at zero -------------------------------------------------------


def test_worker_counters_with_known_labels_start_at_zero(tmp_path, credentials_file):
    """In a process of its own: prometheus_client's registry is global."""
    script = ("from prometheus_client import generate_latest\n"
              "from workers import metrics\n"
              "metrics.init()\n"
              "print(generate_latest().decode())\n")
    env = dict(os.environ, HARVEST_CREDENTIALS_FILE=str(credentials_file))
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    out = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=60,
                         check=True).stdout
    from core.messages import ROUTES
    from workers.metrics import ENDPOINTS

    for _, actor in ROUTES.values():
        assert f'tiktok_dead_letters_total{{actor="{actor}"}} 0.0' in out
    assert len(ENDPOINTS) == 10  # the research endpoints and the compliance refresh
    for endpoint in ENDPOINTS:
        assert f'tiktok_api_requests_total{{credential="{CREDENTIAL}",endpoint="{endpoint}",outcome="ok"}} 0.0' in out
        assert f'tiktok_harvest_records_total{{endpoint="{endpoint}",project="climate"}} 0.0' in out
    for why in ("day_spent", "throttled", "fair_share", "api_down"):
        assert f'tiktok_quota_waits_total{{credential="{CREDENTIAL}",why="{why}"}} 0.0' in out
    assert "tiktok_quota_requests_remaining" not in out and "tiktok_queue_depth" not in out
    assert "S3CRET" not in out
