"""The ``/_sim/`` control endpoints: health, switches, ground truth, stats and the clock.

Ground truth (each ``POST``, answering 400 ``{"error"}`` for a body it cannot use):

- ``/_sim/ground_truth`` ``{"query", "start_date", "end_date"}`` → ``{"ids", "count"}``
- ``/_sim/ground_truth/comments`` ``{"video_ids"}`` → ``{"videos": {id: {"ids", "reachable",
  "comment_count"}}}``
- ``/_sim/ground_truth/follows`` ``{"usernames", "direction", "max_count"?}`` →
  ``{"direction", "max_count", "users": {name: {"status", "usernames", "reachable", "listed"}}}``
- ``/_sim/ground_truth/liked_videos`` ``{"usernames", "max_count"?}``,
  ``/pinned_videos`` and ``/reposted_videos`` ``{"usernames"}`` →
  ``{"users": {name: {"status", "ids", "reachable"}}}`` (liked: also ``max_count``)
- ``/_sim/ground_truth/playlists`` ``{"playlist_ids"}`` →
  ``{"playlists": {id: {"found", <the fields>, "ids"}}}``

Deleting videos (for the compliance refresh), each ``POST``:

- ``/_sim/delete_videos`` ``{"ids"}`` → ``{"deleted", "unknown", "already_hidden"}``: the
  videos stop being served everywhere (video queries, ``video_id`` ones included, lists,
  playlists, comments) and leave every ground truth, as if deleted on TikTok;
- ``/_sim/restore_videos`` ``{"ids"?}`` → ``{"restored"}``: those deleted above (all of them
  without ``ids``) are served again.

``max_count`` (default 100) is the page size the harvest uses: with a time cursor, which
tied entries are lost depends on it.  Statuses are ``ok``, ``unknown``, ``private``,
``restricted``, and ``hidden`` for liked or reposted videos an account hides.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import msgspec

from simulator.query import QueryError
from simulator.responses import Request, Response, json_response

if TYPE_CHECKING:
    from simulator.app import SimulatorApp

Route = Callable[[Request], Response]


def control_routes(app: SimulatorApp) -> dict[tuple[str, str], Route]:
    return {
        ("GET", "/_sim/health"): lambda r: _health(app),
        ("GET", "/_sim/config"): lambda r: json_response(app.config_view()),
        ("POST", "/_sim/config"): lambda r: _set_config(app, r),
        ("POST", "/_sim/ground_truth"): _truth(lambda b: _video_truth(app, b)),
        ("POST", "/_sim/ground_truth/comments"): _truth(lambda b: app.comment_ground_truth(b.get("video_ids"))),
        ("POST", "/_sim/ground_truth/follows"): _truth(lambda b: app.follow_ground_truth(
            b.get("usernames"), b.get("direction"), b.get("max_count", 100))),
        ("POST", "/_sim/ground_truth/liked_videos"): _truth(lambda b: app.liked_videos_ground_truth(
            b.get("usernames"), b.get("max_count", 100))),
        ("POST", "/_sim/ground_truth/pinned_videos"): _truth(lambda b: app.pinned_videos_ground_truth(
            b.get("usernames"))),
        ("POST", "/_sim/ground_truth/reposted_videos"): _truth(lambda b: app.reposted_videos_ground_truth(
            b.get("usernames"))),
        ("POST", "/_sim/ground_truth/playlists"): _truth(lambda b: app.playlist_ground_truth(b.get("playlist_ids"))),
        ("POST", "/_sim/delete_videos"): _truth(lambda b: app.deletions.delete(b.get("ids"))),
        ("POST", "/_sim/restore_videos"): _truth(lambda b: app.deletions.restore(b.get("ids"))),
        ("GET", "/_sim/stats"): lambda r: _stats(app),
        ("POST", "/_sim/stats/reset"): lambda r: _reset_stats(app),
        ("GET", "/_sim/clock"): lambda r: _clock(app, r),
        ("POST", "/_sim/clock"): lambda r: _clock(app, r),
    }


def _truth(answer: Callable[[dict], dict]) -> Route:
    def route(req: Request) -> Response:
        try:
            return json_response(answer(req.json()))
        except QueryError as exc:
            return json_response({"error": str(exc)}, 400)
    return route


def _video_truth(app: SimulatorApp, body: dict) -> dict:
    ids = app.corpus.matching_ids(body.get("query"), body.get("start_date"), body.get("end_date"))
    return {"ids": [str(i) for i in ids], "count": len(ids)}


def _health(app: SimulatorApp) -> Response:
    c = app.corpus
    return json_response({"status": "ok", "seed": c.seed, "videos": len(c.videos), "accounts": len(c.accounts),
                          "first_date": "20240101", "last_date": "20251231"})


def _set_config(app: SimulatorApp, req: Request) -> Response:
    try:
        app.set_config(**req.json())
    except (QueryError, msgspec.ValidationError, TypeError) as exc:
        return json_response({"error": str(exc)}, 400)
    return json_response(app.config_view())


def _stats(app: SimulatorApp) -> Response:
    snap = app.quota.snapshot()
    snap["quota_day"] = app.quota.day(app.config.quota_reset_lag_s)
    snap["now"] = app.clock.now()
    snap["faults"] = app.faults.injected()
    return json_response(snap)


def _reset_stats(app: SimulatorApp) -> Response:
    app.quota.reset()  # budgets live in the same counters: they are refilled too
    app.faults.reset_counts()
    return json_response({"ok": True})


def _clock(app: SimulatorApp, req: Request) -> Response:
    if req.body:
        try:
            body = req.json()
            if "offset_s" in body:
                app.clock.offset_s = float(body["offset_s"])
            app.clock.offset_s += float(body.get("advance_s", 0.0))
        except (QueryError, TypeError, ValueError) as exc:
            return json_response({"error": str(exc)}, 400)
    return json_response({"offset_s": app.clock.offset_s, "now": app.clock.now()})
