"""Request handling: TikTok's endpoints and the ``/_sim/`` control endpoints.

Transport-free: :meth:`SimulatorApp.handle` takes the parsed request and returns a
:class:`Response` (status, body, content type, how long to hold it), so the HTTP layer in
``server.py`` stays thin.  Order of checks on a research request: token (401) → daily
budget (429, not charged) → charge → outage (its status, or a reset) → short-term
throttle (429) → 504 → parameters (400) → 500 → endpoint work → truncation of a 200
(malformed).  A service that is down answers nothing else: during an outage a request
stopped by the first two checks gets the outage's answer too, uncharged.  The token
endpoint answers the outage as well, never charged.

The follower and following lists draw on their own budget (``quota.py``); every other
research endpoint on the research budget.  Injected 500s: the video query's
``error_500_rate``, ``comment_500_rate``, ``playlist_500_rate``, and ``user_500_rate`` for
all the endpoints that take a username.  Each family's data and work is in a module of its
own (``comments.py``, ``follows.py``, ``user_videos.py``, ``playlists.py``); the ``/_sim/``
endpoints are in ``control.py``.
"""

from __future__ import annotations

import json
import os
import threading
import time
from array import array
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs

import msgspec

from simulator.comments import COMMENT_FIELDS, CommentBook
from simulator.control import control_routes
from simulator.corpus import Corpus
from simulator.deletions import Deletions
from simulator.faults import Faults, SimConfig, config_dict, update_config
from simulator.follows import FollowBook, refuse_unless_public, username_of
from simulator.outage import (
    GATEWAY_STATUSES,
    RESET,
    Outage,
    gateway_page,
    outage_message,
)
from simulator.playlists import PLAYLIST_FIELDS, PlaylistBook
from simulator.query import QueryError, compile_query, parse_paging, parse_window
from simulator.quota import QuotaBook, SimClock, TokenStore
from simulator.responses import Headers, Request, Response
from simulator.searches import MatchCache, SearchCache
from simulator.user_videos import UserVideos, render

VIDEO_FIELDS = frozenset(
    "id video_description create_time region_code share_count view_count like_count "
    "comment_count music_id hashtag_names username effect_ids playlist_id voice_to_text "
    "is_stem_verified favorites_count video_duration hashtag_info_list sticker_info_list "
    "effect_info_list video_mention_list video_label video_tag".split())
USER_FIELDS = frozenset(
    "display_name bio_description avatar_url is_verified follower_count following_count "
    "likes_count video_count bio_url".split())
SERVER_ERROR = "Something went wrong. Please try again later."
HTML_504 = gateway_page(504)
Work = Callable[[dict, tuple[str, ...], SimConfig], dict[str, Any] | None]  # None: an injected 500

_encode = msgspec.json.encode


class SimulatorApp:
    def __init__(self, corpus: Corpus, config: SimConfig | None = None,
                 credentials: dict[str, str] | None = None, seed: int = 7) -> None:
        self.corpus = corpus
        self.config = SimConfig()
        self._config_lock = threading.Lock()  # switch changes, and a timed outage ending
        self.outage = Outage()
        self.credentials = credentials  # client_key -> secret; None accepts any sane pair
        self.clock = SimClock()
        self.faults = Faults(seed)
        self.tokens = TokenStore(self.clock)
        self.quota = QuotaBook(self.clock)
        self.searches = SearchCache(seed, self.config.search_cache_size)
        self.comments = CommentBook(corpus, self.faults)
        self.follows = FollowBook(corpus, self.faults)
        self.user_videos = UserVideos(corpus, self.faults, self.follows)
        self.playlists = PlaylistBook(corpus, self.faults)
        self.deletions = Deletions(corpus)  # videos a test deleted (the compliance refresh's)
        if config is not None:
            self.set_config(**config_dict(config))  # also starts a timed outage's countdown
        self._matches = MatchCache(corpus)
        self._fields_cache: dict[tuple[str, frozenset], tuple[str, ...]] = {}
        research, videos = "/v2/research/", self.user_videos
        self._routes: dict[tuple[str, str], Callable[[Request], Response]] = {
            ("POST", "/v2/oauth/token/"): self._oauth,
            ("POST", research + "video/query/"): lambda r: self._research("video_query", r, self._video_query),
            ("POST", research + "user/info/"): lambda r: self._research("user_info", r, self._user_info),
            ("POST", research + "video/comment/list/"):
                self._endpoint("comment_list", self.comments.page, COMMENT_FIELDS, SERVER_ERROR),
            ("POST", research + "user/followers/"):
                self._endpoint("user_followers", lambda b, f, c: self.follows.page(b, "followers", c)),
            ("POST", research + "user/following/"):
                self._endpoint("user_following", lambda b, f, c: self.follows.page(b, "following", c)),
            ("POST", research + "user/liked_videos/"):
                self._endpoint("user_liked_videos", videos.liked_page, VIDEO_FIELDS),
            ("POST", research + "user/pinned_videos/"):
                self._endpoint("user_pinned_videos", videos.pinned_page, VIDEO_FIELDS),
            ("POST", research + "user/reposted_videos/"):
                self._endpoint("user_reposted_videos", videos.reposted_page, VIDEO_FIELDS),
            ("POST", research + "playlist/info/"):
                self._endpoint("playlist_info", self.playlists.page, PLAYLIST_FIELDS, SERVER_ERROR),
        } | control_routes(self)

    # -- public helpers for Python callers (tests, benchmarks) -------------------------
    def set_config(self, **changes) -> SimConfig:
        """Change switches.  ``outage_for_s`` (re)starts the outage's countdown when given;
        any other change keeps a running countdown, and ending the outage drops it."""
        with self._config_lock:
            self._end_outage_if_due()  # else the change would carry a finished outage on
            config = update_config(self.config, changes)
            if "outage_for_s" in changes or not config.outage_status:
                self.outage.end_after(config.outage_for_s if config.outage_status else None)
            # The countdown lives in self.outage; the stored switch would only go stale.
            self.config = msgspec.structs.replace(config, outage_for_s=None)
        self.searches.size = self.config.search_cache_size
        self.faults.reseed()
        return self.config

    # Ground truth at the current switches (the /_sim/ground_truth/… answers: control.py).
    def comment_ground_truth(self, video_ids: object) -> dict:
        return self.comments.ground_truth(video_ids, self.config.comment_cap)

    def follow_ground_truth(self, usernames: object, direction: object = "followers",
                            max_count: object = 100) -> dict:
        return self.follows.ground_truth(usernames, direction, max_count, self.config)

    def liked_videos_ground_truth(self, usernames: object, max_count: object = 100) -> dict:
        return self.user_videos.ground_truth("liked", usernames, max_count, self.config)

    def pinned_videos_ground_truth(self, usernames: object) -> dict:
        return self.user_videos.ground_truth("pinned", usernames, 100, self.config)

    def reposted_videos_ground_truth(self, usernames: object) -> dict:
        return self.user_videos.ground_truth("reposted", usernames, 100, self.config)

    def playlist_ground_truth(self, playlist_ids: object) -> dict:
        return self.playlists.ground_truth(playlist_ids)

    def config_view(self) -> dict:
        """The switches as GET /_sim/config shows them: ``outage_for_s`` is the time left."""
        self._outage_status()  # an outage whose time is up shows as over
        return config_dict(self.config) | {"outage_for_s": self.outage.remaining_s()}

    def _outage_status(self) -> int:
        """The outage status in force (0: none); a timed outage whose time is up ends here."""
        status = self.config.outage_status
        if status and self.outage.expired():
            with self._config_lock:
                self._end_outage_if_due()
            status = self.config.outage_status
        return status

    def _end_outage_if_due(self) -> None:
        """Switch off an outage whose time is up (the dice are not re-seeded for it).
        The caller holds ``_config_lock``, so a countdown restarted meanwhile is left alone."""
        if self.config.outage_status and self.outage.expired():
            self.outage.end_after(None)
            self.config = msgspec.structs.replace(self.config, outage_status=0)

    def _outage_answer(self, status: int) -> Response:
        self.faults.count("outage")
        if self.config.outage_mode == "reset":
            return Response(RESET, b"")
        if status in GATEWAY_STATUSES:
            return Response(status, gateway_page(status), "text/html")
        return self._error(status, "internal_error", outage_message(status))

    # -- dispatch ------------------------------------------------------------------------
    def handle(self, method: str, path: str, query_string: str, headers: Headers,
               body: bytes) -> Response:
        route = self._routes.get((method, path))
        if route is None:
            known = any(p == path for _, p in self._routes)
            status = 405 if known else 404
            code = "method_not_allowed" if known else "not_found"
            return Response(status, self._envelope({}, code, f"No route for {method} {path}"))
        return route(Request(query_string, headers, body))

    def _envelope(self, data: dict, code: str = "ok", message: str = "") -> bytes:
        return _encode({"data": data, "error": {"code": code, "message": message, "log_id": self._log_id()}})

    def _log_id(self) -> str:
        return time.strftime("%Y%m%d%H%M%S", time.gmtime(self.clock.now())) + os.urandom(10).hex()

    def _error(self, status: int, code: str, message: str) -> Response:
        return Response(status, self._envelope({}, code, message))

    # -- OAuth ---------------------------------------------------------------------------
    def _oauth(self, req: Request) -> Response:
        config = self.config
        delay = self.faults.delay_s(config)
        form = {k: v[0] for k, v in parse_qs(req.body.decode("utf-8", "replace")).items()}
        key, secret = form.get("client_key", ""), form.get("client_secret", "")
        if outage := self._outage_status():
            self.quota.token_request(key, False)
            resp = self._outage_answer(outage)
            resp.delay_s = delay
            return resp
        failure = None
        if form.get("grant_type") != "client_credentials":
            failure = ("unsupported_grant_type", "grant_type must be client_credentials")
        elif not key or not secret:
            failure = ("invalid_request", "client_key and client_secret are required")
        elif not self._valid_client(key, secret):
            failure = ("invalid_client", "Client key or secret is incorrect.")
        self.quota.token_request(key, failure is None)
        if failure:
            body: dict[str, str | int] = {"error": failure[0], "error_description": failure[1],
                                          "log_id": self._log_id()}
            return Response(config.oauth_error_status, _encode(body), delay_s=delay)
        token = self.tokens.issue(key, config.token_ttl_s)
        body = {"access_token": token, "expires_in": config.token_ttl_s, "token_type": "Bearer"}
        return Response(200, _encode(body), delay_s=delay)

    def _valid_client(self, key: str, secret: str) -> bool:
        if self.credentials is not None:
            return self.credentials.get(key) == secret
        return secret != "wrong" and not secret.startswith("revoked")

    # -- research endpoints ----------------------------------------------------------------
    def _research(self, endpoint: str, req: Request, work: Callable) -> Response:
        config = self.config
        delay = self.faults.delay_s(config)
        auth = req.headers.get("Authorization") or req.headers.get("authorization") or ""
        scheme, _, token = auth.partition(" ")
        client = self.tokens.client_for(token.strip()) if scheme.lower() == "bearer" else None
        outage = self._outage_status()
        down = self._outage_answer(outage) if outage else None  # replaces every other answer
        if client is None:
            self.quota.not_authenticated()
            resp = down if down is not None else self._error(
                401, "access_token_invalid", "The access token is invalid or not found in the request.")
        elif not self.quota.admit(client, endpoint, config, 429 if down is None else down.status):
            if down is None:
                self.faults.count("daily_429")
            resp = down if down is not None else self._error(
                429, "rate_limit_exceeded", "You have exceeded the daily request quota for this client.")
        elif down is not None:
            resp = down
            self.quota.answered(client, endpoint, resp.status, 0, config)
        else:
            if endpoint == "video_query":
                self.quota.note_query(client, _query_text(req.body))
            throttled = self.faults.hit(config.throttle_429_rate, "throttle_429")
            records = 0
            if throttled:
                resp = self._error(429, "rate_limit_exceeded", "Too many requests. Please retry later.")
            elif self.faults.hit(config.error_504_rate, "error_504"):
                resp = Response(504, HTML_504, "text/html")
            else:
                try:
                    resp, records = work(req, config)
                except QueryError as exc:
                    resp = self._error(400, "invalid_params", str(exc))
                if resp.status == 200 and self.faults.hit(config.malformed_rate, "malformed"):
                    resp.body = resp.body[: max(1, len(resp.body) // 2)]
            self.quota.answered(client, endpoint, resp.status, records, config, throttled)
        resp.delay_s = delay
        return resp

    def _endpoint(self, endpoint: str, work: Work, allowed: frozenset[str] | None = None,
                  failure: str = "") -> Callable[[Request], Response]:
        """A research endpoint whose ``work`` makes the answer's data; its records are the
        entries of the answer's lists.  ``allowed``: its fields (None: it takes none);
        ``failure``: the message of an injected 500."""
        def answer(req: Request, config: SimConfig) -> tuple[Response, int]:
            fields = self._fields(req, allowed) if allowed is not None else ()
            data = work(req.json(), fields, config)
            if data is None:
                return self._error(500, "internal_error", failure), 0
            records = sum(len(v) for v in data.values() if isinstance(v, list))
            return Response(200, self._envelope(data)), records
        return lambda req: self._research(endpoint, req, answer)

    def _fields(self, req: Request, allowed: frozenset) -> tuple[str, ...]:
        """The ``fields`` query-string parameter, validated (cached per distinct value)."""
        raw = req.query_string
        hit = self._fields_cache.get((raw, allowed))
        if hit is not None:
            return hit
        values = parse_qs(raw).get("fields")
        names = [f.strip() for v in values or () for f in v.split(",") if f.strip()]
        if not names:
            raise QueryError("fields is required: a comma-separated list of field names")
        unknown = [f for f in names if f not in allowed]
        if unknown:
            raise QueryError(f"Invalid fields: {','.join(unknown)}")
        fields = tuple(dict.fromkeys(names))
        if len(self._fields_cache) < 1000:
            self._fields_cache[(raw, allowed)] = fields
        return fields

    def _video_query(self, req: Request, config: SimConfig) -> tuple[Response, int]:
        fields = self._fields(req, VIDEO_FIELDS)
        body = req.json()
        predicate = compile_query(body.get("query"))
        start, end = parse_window(body)
        max_count, cursor = parse_paging(body, default_max_count=20)
        days = (end - start).days + 1
        if self.faults.hit(min(1.0, config.error_500_rate * days / 30), "error_500"):
            return self._error(500, "internal_error", SERVER_ERROR), 0

        sid = body.get("search_id")
        sid = str(sid) if sid not in (None, "", 0) else None
        if sid is not None:
            order = self.searches.get(sid)
            if order is None or self.faults.hit(config.search_id_invalid_rate, "search_id_invalid"):
                raise QueryError(f"Search Id {sid} is invalid or expired")
            if self.faults.hit(config.invalid_cursor_rate, "invalid_cursor"):
                raise QueryError("Invalid count or cursor")
        else:
            order = array("i", self._matches.get(body["query"], predicate, start, end))
            if body.get("is_random") is True:
                indices = order.tolist()
                self.faults.shuffle(indices)
                order = array("i", indices)
            sid = self.searches.alias(order)
        if cursor > len(order):
            raise QueryError("Invalid count or cursor")
        if cursor < len(order) and self.faults.hit(config.empty_page_rate, "empty_page"):
            # Phantom hidden slots at the cursor: this page is empty, later pages shift,
            # so no returnable video is lost and the ground truth stays exact.
            order[cursor:cursor] = array("i", [-1] * max_count)
        if self.faults.hit(config.search_id_change_rate, "search_id_change"):
            sid = self.searches.alias(order)

        videos = self.corpus.videos
        page = []
        for i in order[cursor:cursor + max_count]:
            if i >= 0:
                v = videos[i]
                if not v.hidden:
                    page.append(render(v, fields))
        next_cursor = cursor + max_count
        data = {"videos": page, "cursor": next_cursor, "has_more": next_cursor < len(order),
                "search_id": sid}
        return Response(200, self._envelope(data)), len(page)

    def _user_info(self, req: Request, config: SimConfig) -> tuple[Response, int]:
        fields = self._fields(req, USER_FIELDS)
        username = username_of(req.json())
        if self.faults.hit(config.user_500_rate, "user_500"):
            return self._error(500, "internal_error", ""), 0
        refuse_unless_public(self.follows.status(username), username)
        account = self.follows.account(username)  # the audience of follows.py too
        data = {f: x for f in fields if (x := getattr(account, f)) is not None}
        return Response(200, self._envelope(data)), 1


def _query_text(body: bytes) -> str:
    """A video query's `query`, as compact JSON with sorted keys (for the per-key log)."""
    try:
        query = json.loads(body).get("query")
    except (ValueError, AttributeError):
        return "<unreadable>"
    return json.dumps(query, sort_keys=True, separators=(",", ":"))
