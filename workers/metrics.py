"""Prometheus metrics of the harvest, for Grafana and alerts: what the workers *do* (calls,
pages, records, waits, dead letters), counted per container. What the fleet *holds* (queues,
quota used today, harvests in progress) is read from Redis by `tiktok-harvest exporter`
(workers/exporter/), so it stays true while the workers are idle or gone.

Created only when a worker process boots with metrics on (after Dramatiq's Prometheus
middleware has switched prometheus_client to multi-process mode); until then every function
here does nothing, so handlers and tests never need a registry. Labels hold project,
credential, endpoint and queue names: never a secret, a video id, a cursor or a username.
"""

from types import SimpleNamespace

import structlog

from core.harvests import CHAIN_ENDPOINTS
from core.messages import ROUTES

log = structlog.get_logger(__name__)

# The research endpoints, the values of the `endpoint` label; `refresh` is the video queries
# of a compliance refresh (workers/refresh.py), counted apart from the harvest's searches.
ENDPOINTS = ("video_query", "user_info", *CHAIN_ENDPOINTS.values(), "refresh")
# Label values known in advance (see `_start_at_zero`).
QUOTA_WAITS = ("day_spent", "throttled", "fair_share", "api_down")
PUT_OFF = ("busy", "hold_lost", "redis_unavailable", "paused", "resumed", "next_day")

_m: SimpleNamespace | None = None


def init() -> None:
    global _m
    from prometheus_client import Counter, Histogram

    _m = SimpleNamespace(
        requests=Counter("tiktok_api_requests_total", "Research API requests by endpoint and outcome.",
                         ["credential", "endpoint", "outcome"]),
        latency=Histogram("tiktok_api_request_seconds", "Research API request duration.", ["endpoint"],
                          buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120)),
        pages=Counter("tiktok_harvest_pages_total", "Answers stored (pages, profiles), by research endpoint.",
                      ["project", "endpoint"]),
        records=Counter("tiktok_harvest_records_total", "Records stored, each once per harvest, by the research "
                        "endpoint that found them: videos (video_query), comments, follow relations, likes, "
                        "pins, reposts, playlists, profiles (user_info).", ["project", "endpoint"]),
        users=Counter("tiktok_harvest_users_total", "Author profiles answered, by outcome.", ["project", "outcome"]),
        quota_waits=Counter("tiktok_quota_waits_total", "Messages parked for quota, by why: day_spent (until "
                            "midnight), throttled (TikTok answered 429), fair_share (other harvests catch up), "
                            "api_down (TikTok looks down: waiting for a probe).",
                            ["credential", "why"]),
        put_off=Counter("tiktok_messages_put_off_total", "Messages put off, by why: busy (another delivery "
                        "holds the unit), hold_lost, redis_unavailable, resumed (sent again a little later); "
                        "paused (held until the harvest is resumed); next_day (an ongoing harvest waits for "
                        "TikTok to archive its next day).", ["queue", "why"]),
        dead=Counter("tiktok_dead_letters_total", "Messages that failed for good.", ["actor"]),
    )
    _start_at_zero(_m)


def _start_at_zero(m: SimpleNamespace) -> None:
    """Create the series whose label values are known in advance, at 0: a query about
    something that has not happened yet answers 0 instead of nothing, and the first
    increase() of a counter is seen (Prometheus cannot see a series' first value rise)."""
    from core.config import get_settings
    from core.credentials import CredentialsError, load_credentials

    for _, actor in sorted(set(ROUTES.values())):
        m.dead.labels(actor)
    for queue in sorted({queue for queue, _ in ROUTES.values()}):
        for why in PUT_OFF:
            m.put_off.labels(queue, why)
    try:
        credentials = load_credentials(get_settings().credentials_file)
    except CredentialsError as error:  # the worker says so again on its first page
        log.warning("metrics_without_credentials", error=str(error))
        return
    for name in sorted(credentials):
        for endpoint in ENDPOINTS:
            m.requests.labels(name, endpoint, "ok")
        for why in QUOTA_WAITS:
            m.quota_waits.labels(name, why)
    for project in sorted({credential.project for credential in credentials.values()}):
        for endpoint in ENDPOINTS:
            m.pages.labels(project, endpoint)
            m.records.labels(project, endpoint)


def api_request(credential: str, endpoint: str, outcome: str, seconds: float) -> None:
    if _m:
        _m.requests.labels(credential, endpoint, outcome).inc()
        _m.latency.labels(endpoint).observe(seconds)


def unit_stored(project: str, endpoint: str, records: int) -> None:
    if _m:
        _m.pages.labels(project, endpoint).inc()
        _m.records.labels(project, endpoint).inc(records)


def user_answered(project: str, outcome: str) -> None:
    if _m:
        _m.users.labels(project, outcome).inc()


def quota_wait(credential: str, why: str) -> None:
    if _m:
        _m.quota_waits.labels(credential, why).inc()


def put_off(queue: str, why: str) -> None:
    if _m:
        _m.put_off.labels(queue, why).inc()


def dead_letter(actor: str) -> None:
    if _m:
        _m.dead.labels(actor).inc()
