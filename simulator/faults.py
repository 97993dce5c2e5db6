"""Switches (SimConfig) and the seeded dice that decide when a fault fires.

All fault rates default to 0, so a default simulator is a well-behaved TikTok.  Faults
are drawn from one ``random.Random`` seeded from the server's seed and re-seeded the same
way whenever the config changes, so setting the same switches again replays the same
faults for a single client's sequence of requests.

Every fault the simulator injects is counted per kind (:data:`FAULT_KINDS`), for
``GET /_sim/stats``.  A dice fault is counted when its dice hit, under the lock the draw
takes anyway, so counting costs nothing extra on the hot path.
"""

from __future__ import annotations

import random
import threading
from typing import Annotated, Literal

import msgspec

Rate = Annotated[float, msgspec.Meta(ge=0.0, le=1.0)]
NonNeg = Annotated[float, msgspec.Meta(ge=0.0)]
Count = Annotated[int, msgspec.Meta(ge=0)]

# What GET /_sim/stats counts under "faults".  Only what the simulator chose to inject:
# a search id the cache evicted or never issued, or a cursor past the end, is the
# client's doing and is not counted.
FAULT_KINDS = ("error_500", "user_500", "comment_500", "playlist_500", "error_504", "malformed", "throttle_429",
               "daily_429", "search_id_invalid", "invalid_cursor", "empty_page", "search_id_change", "slow",
               "outage")


class SimConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Every switch; settable by CLI flag (``--latency-ms``) and ``POST /_sim/config``."""

    latency_ms: NonNeg = 0.0            # added to every API response (token and research)
    latency_jitter_ms: NonNeg = 0.0     # plus uniform(0, jitter)
    token_ttl_s: Annotated[int, msgspec.Meta(ge=1)] = 7200
    oauth_error_status: Literal[200, 400, 401] = 200  # HTTP status of OAuth failures
    daily_requests: Count = 1000        # research requests per client key per UTC day
    daily_records: Count = 100000       # records returned per client key per UTC day
    daily_follow_requests: Count = 20000    # follower/following list requests per client key per UTC day
    daily_follow_records: Count = 2000000   # their records per client key per UTC day
    quota_reset_lag_s: NonNeg = 0.0     # the quota day starts this long after 00:00 UTC
    error_500_rate: Rate = 0.0          # video query; scaled by window days / 30
    # User info, followers, following, liked, pinned and reposted videos: 500 with an empty
    # message (one rate for the endpoints that take a username).
    user_500_rate: Rate = 0.0
    comment_500_rate: Rate = 0.0        # comment list: 500 internal_error
    playlist_500_rate: Rate = 0.0       # playlist info: 500 internal_error
    throttle_429_rate: Rate = 0.0       # short-term 429 rate_limit_exceeded
    malformed_rate: Rate = 0.0          # 200 whose JSON body is cut short
    error_504_rate: Rate = 0.0          # 504 with an HTML body
    slow_rate: Rate = 0.0               # this share of responses waits slow_ms more
    slow_ms: NonNeg = 2000.0
    search_id_invalid_rate: Rate = 0.0  # later pages: 400 "Search Id <n> is invalid or expired"
    invalid_cursor_rate: Rate = 0.0     # later pages: 400 "Invalid count or cursor"
    empty_page_rate: Rate = 0.0         # an empty page, has_more true, cursor advancing
    search_id_change_rate: Rate = 0.0   # a page answers with a new search_id (alias)
    search_cache_size: Annotated[int, msgspec.Meta(ge=1)] = 10000
    comment_cap: Count = 1000           # comments served per video (TikTok: about the first 1,000)
    # How a video id the corpus lacks, a hidden video or an unknown comment id is answered:
    # "empty" (200, no comments, has_more false) or "invalid_params" (400).
    comment_unknown_video: Literal["empty", "invalid_params"] = "empty"
    follow_cap: Count = 5000            # newest entries served of a follower/following list
    # What a time cursor does with entries sharing the last one's time (simulator/paging.py):
    # "skip" answers one unit before it (unserved ties are lost), "repeat" answers that time
    # (the next page serves its entries again).
    time_cursor_ties: Literal["skip", "repeat"] = "skip"
    # The list key of reposted videos: TikTok's documentation uses both names.
    reposted_list_name: Literal["user_reposted_videos", "reposted_videos"] = "user_reposted_videos"
    # TikTok down (see simulator/outage.py): non-zero answers every research and token
    # request with this 5xx status; "reset" mode drops the connection instead of answering.
    outage_status: Annotated[int, msgspec.Meta(ge=0, le=599)] = 0
    outage_mode: Literal["status", "reset"] = "status"
    # Seconds until the outage ends by itself (None: until switched off).  Taken when set;
    # the app keeps the deadline and GET /_sim/config shows the seconds left under this name.
    outage_for_s: NonNeg | None = None

    def __post_init__(self) -> None:
        if 0 < self.outage_status < 500:  # msgspec turns this into a ValidationError
            raise ValueError("outage_status must be 0 (no outage) or a 5xx status")


def update_config(config: SimConfig, changes: dict) -> SimConfig:
    """Partial update, validated by msgspec (raises msgspec.ValidationError)."""
    merged = msgspec.structs.asdict(config) | dict(changes)
    return msgspec.convert(merged, SimConfig)


def config_dict(config: SimConfig) -> dict:
    return msgspec.structs.asdict(config)


class Faults:
    """Thread-safe seeded dice, and how many faults of each kind were injected."""

    def __init__(self, seed: int) -> None:
        self._seed = seed
        self._lock = threading.Lock()
        self._rng = random.Random(seed)
        self._injected = dict.fromkeys(FAULT_KINDS, 0)

    def reseed(self) -> None:
        with self._lock:
            self._rng = random.Random(self._seed)

    def hit(self, rate: float, kind: str) -> bool:
        """Roll for a fault of ``kind``; a hit is counted as injected."""
        if rate <= 0.0:  # no draw: enabling one fault leaves the others' sequence alone
            return False
        with self._lock:
            if self._rng.random() < rate:
                self._injected[kind] += 1
                return True
            return False

    def count(self, kind: str) -> None:
        """Count a fault that no dice decided (a spent budget, an outage)."""
        with self._lock:
            self._injected[kind] += 1

    def injected(self) -> dict[str, int]:
        with self._lock:
            return dict(self._injected)

    def reset_counts(self) -> None:
        with self._lock:
            self._injected = dict.fromkeys(FAULT_KINDS, 0)

    def uniform(self, high: float) -> float:
        if high <= 0.0:
            return 0.0
        with self._lock:
            return self._rng.uniform(0.0, high)

    def shuffle(self, items: list) -> None:
        with self._lock:
            self._rng.shuffle(items)

    def delay_s(self, config: SimConfig) -> float:
        """How long to hold this response: base latency, jitter, sometimes slow."""
        ms = config.latency_ms + self.uniform(config.latency_jitter_ms)
        if self.hit(config.slow_rate, "slow"):
            ms += config.slow_ms
        return ms / 1000.0
