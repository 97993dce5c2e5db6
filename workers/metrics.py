"""Prometheus metrics of the harvest, for Grafana and alerts.

Created only when a worker process boots with metrics on (after Dramatiq's Prometheus
middleware has switched prometheus_client to multi-process mode); until then every function
here does nothing, so handlers and tests never need a registry. Labels hold project,
credential and queue names: never a secret.
"""

from types import SimpleNamespace

_m: SimpleNamespace | None = None


def init() -> None:
    global _m
    from prometheus_client import Counter, Gauge, Histogram

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
        put_off=Counter("tiktok_messages_put_off_total", "Messages sent again a little later, by why: busy "
                        "(another delivery holds the unit), hold_lost, redis_unavailable.", ["queue", "why"]),
        dead=Counter("tiktok_dead_letters_total", "Messages that failed for good.", ["actor"]),
        requests_left=Gauge("tiktok_quota_requests_remaining", "Requests left today in the credential's bucket.",
                            ["credential"], multiprocess_mode="mostrecent"),
        records_left=Gauge("tiktok_quota_records_remaining", "Records left today in the credential's bucket.",
                           ["credential"], multiprocess_mode="mostrecent"),
        queue_depth=Gauge("tiktok_queue_depth", "Messages waiting in a queue (delayed ones included).",
                          ["queue"], multiprocess_mode="mostrecent"),
    )


def api_request(credential: str, endpoint: str, outcome: str, seconds: float) -> None:
    if _m:
        _m.requests.labels(credential, endpoint, outcome).inc()
        _m.latency.labels(endpoint).observe(seconds)


def quota_left(credential: str, requests_left: int, records_left: int) -> None:
    if _m:
        _m.requests_left.labels(credential).set(requests_left)
        _m.records_left.labels(credential).set(records_left)


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


def queue_depth(queue: str, depth: int) -> None:
    if _m:
        _m.queue_depth.labels(queue).set(depth)
