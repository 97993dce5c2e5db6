"""An account's liked, pinned and reposted videos: made per account on demand, their
endpoints' work, and their ground truth.

Every list holds corpus videos (rendered as the video query renders them, ``fields``
honoured) and is made from ``random.Random`` seeded with the corpus seed, the list's kind
and the username, so any process serves the same lists.  Any public account has them, the
follow graph's audience included (``FollowBook.status``); other accounts answer 400 as user
info does.  Videos no longer shown (``hidden``) keep their place in a list but are left out
of the answers, so a page may be short while ``has_more`` is true.

- **Liked** (``user_liked_videos``): newest like first, a time cursor in milliseconds
  (``simulator/paging.py``: "at or before", ties per ``time_cursor_ties``, no cap).  A like
  is of a video posted in the 60 days before it; about one like in twelve shares its
  millisecond with another of the account's likes.  ``vrtnws`` has 750 likes, the others a
  median of about 25.  About 40 % of the accounts hide their likes (``hln_be`` among them):
  400 "… information cannot be returned".
- **Pinned** (``pinned_videos_list``): up to 3 of the account's own shown videos, no
  paging: ``vrtnws`` 3, ``hln_be`` 1, about half of the others none.
- **Reposted** (``user_reposted_videos``, or ``reposted_videos`` by the switch
  ``reposted_list_name``): newest repost first, an index cursor over slots.  ``vrtnws`` has
  180 reposts, about 30 % of the accounts none; about 15 % hide them (``hln_be`` among
  them), answered like hidden likes.
"""

from __future__ import annotations

import random
import threading
import zlib
from array import array
from collections import OrderedDict
from typing import Any

from simulator.corpus import EPOCH0, N_DAYS, Corpus, Video
from simulator.faults import Faults, SimConfig
from simulator.follows import FollowBook, refuse_unless_public, username_of
from simulator.paging import TimeList, index_page
from simulator.query import QueryError, parse_paging

LIKED_KEY, PINNED_KEY = "user_liked_videos", "pinned_videos_list"
_SHOWN, _HIDDEN = ("vrtnws",), ("hln_be",)  # featured accounts chosen for tests, not by chance
_RECENT_DAYS = 60


def render(video: Video, fields: tuple[str, ...]) -> dict[str, Any]:
    """A video as the video query serves it: the fields asked for that it has."""
    return {f: x for f in fields if (x := getattr(video, f)) is not None}


class UserVideos:
    """The liked, pinned and reposted video endpoints and their ground truth.

    ``max_held`` bounds the accounts whose lists are kept made (least recently used go)."""

    def __init__(self, corpus: Corpus, faults: Faults, follows: FollowBook, max_held: int = 5000) -> None:
        self.corpus, self._faults, self._follows = corpus, faults, follows
        self.max_held = max_held
        self._lock = threading.Lock()
        self._made: OrderedDict[tuple[str, str], Any] = OrderedDict()
        self._own: dict[str, list[int]] | None = None

    # -- who hides what ------------------------------------------------------------------
    def _hides(self, username: str, kind: str, percent: int) -> bool:
        if username in _SHOWN or username in _HIDDEN:
            return username in _HIDDEN
        return zlib.crc32(f"{self.corpus.seed}:{kind}:{username}".encode()) % 100 < percent

    def likes_hidden(self, username: str) -> bool:
        return self._hides(username, "likes", 40)

    def reposts_hidden(self, username: str) -> bool:
        return self._hides(username, "reposts", 15)

    # -- the lists -----------------------------------------------------------------------
    def _cached(self, kind: str, username: str, make) -> Any:
        key = (kind, username)
        with self._lock:
            hit = self._made.get(key)
            if hit is not None:
                self._made.move_to_end(key)
                return hit
        made = make(random.Random(f"{kind}:{self.corpus.seed}:{username}"), username)
        with self._lock:
            self._made[key] = made
            while len(self._made) > self.max_held:
                self._made.popitem(last=False)
        return made

    def likes(self, username: str) -> TimeList:
        """Every like of the account, newest first (times in milliseconds)."""
        return self._cached("likes", username, self._make_likes)

    def reposts(self, username: str) -> array:
        """Video indices of every repost of the account, newest first."""
        return self._cached("reposts", username, self._make_reposts)

    def pinned(self, username: str) -> list[int]:
        """Video indices of the pinned videos, in profile order."""
        return self._cached("pinned", username, self._make_pinned)

    def _earlier_video(self, rng: random.Random, when_s: int, taken: set[int]) -> int | None:
        """A video posted in the days before ``when_s`` and not in ``taken`` (None: none found)."""
        day = min((when_s - EPOCH0) // 86400, N_DAYS)
        lo, hi = self.corpus.day_start[max(0, day - _RECENT_DAYS)], self.corpus.day_start[day]
        for _ in range(5):
            if lo < hi and (index := rng.randrange(lo, hi)) not in taken:
                return index
        return None

    def _make_likes(self, rng: random.Random, username: str) -> TimeList:
        count = 750 if username == "vrtnws" else min(3000, int(rng.lognormvariate(3.2, 1.3)))
        start_ms, span_ms = EPOCH0 * 1000, N_DAYS * 86400 * 1000
        likes: list[tuple[int, int]] = []
        taken: set[int] = set()
        for _ in range(count):
            if likes and rng.random() < 0.08:
                when = likes[rng.randrange(len(likes))][0]  # two likes in one millisecond
            else:
                when = start_ms + rng.randrange(span_ms)
            index = self._earlier_video(rng, when // 1000, taken)
            if index is not None:
                taken.add(index)
                likes.append((when, index))
        likes.sort(key=lambda like: (-like[0], like[1]))
        return TimeList([t for t, _ in likes], [i for _, i in likes])

    def _make_reposts(self, rng: random.Random, username: str) -> array:
        if username == "vrtnws":
            count = 180
        else:
            count = 0 if rng.random() < 0.3 else min(500, int(rng.lognormvariate(1.5, 1.4)))
        moments = sorted((EPOCH0 + rng.randrange(N_DAYS * 86400) for _ in range(count)), reverse=True)
        videos = self.corpus.videos
        reposts: list[int] = []
        taken: set[int] = set()
        for when in moments:
            index = self._earlier_video(rng, when, taken)
            if index is not None and videos[index].username != username:  # not one's own
                taken.add(index)
                reposts.append(index)
        return array("i", reposts)

    def _make_pinned(self, rng: random.Random, username: str) -> list[int]:
        own = self._own_videos().get(username, [])
        wanted = {"vrtnws": 3, "hln_be": 1}.get(username) or rng.choice((0, 0, 0, 0, 0, 1, 1, 1, 2, 3))
        return rng.sample(own, min(wanted, len(own)))

    def _own_videos(self) -> dict[str, list[int]]:
        if self._own is None:
            own: dict[str, list[int]] = {}
            for i, v in enumerate(self.corpus.videos):
                if not v.hidden:
                    own.setdefault(v.username, []).append(i)
            self._own = own
        return self._own

    # -- the endpoints ---------------------------------------------------------------------
    def _public(self, body: dict, config: SimConfig, paged: bool) -> tuple[str, int, int] | None:
        """(username, max_count, cursor) of a request about a public account; None: a 500."""
        username = username_of(body)
        max_count, cursor = parse_paging(body, default_max_count=20) if paged else (0, 0)
        if self._faults.hit(config.user_500_rate, "user_500"):
            return None
        refuse_unless_public(self._follows.status(username), username)
        return username, max_count, cursor

    def liked_page(self, body: dict, fields: tuple[str, ...], config: SimConfig) -> dict[str, Any] | None:
        asked = self._public(body, config, paged=True)
        if asked is None:
            return None
        username, max_count, cursor = asked
        if self.likes_hidden(username):
            raise QueryError(f"The user {username}'s liked videos information cannot be returned")
        likes = self.likes(username)
        page = likes.page(cursor, max_count, len(likes), config.time_cursor_ties)
        return {LIKED_KEY: self._render(likes.items[page.start:page.end], fields),
                "cursor": page.cursor, "has_more": page.has_more}

    def pinned_page(self, body: dict, fields: tuple[str, ...], config: SimConfig) -> dict[str, Any] | None:
        asked = self._public(body, config, paged=False)
        if asked is None:
            return None
        return {PINNED_KEY: self._render(self.pinned(asked[0]), fields)}

    def reposted_page(self, body: dict, fields: tuple[str, ...], config: SimConfig) -> dict[str, Any] | None:
        asked = self._public(body, config, paged=True)
        if asked is None:
            return None
        username, max_count, cursor = asked
        if self.reposts_hidden(username):
            raise QueryError(f"The user {username}'s reposted videos information cannot be returned")
        reposts = self.reposts(username)
        page = index_page(cursor, max_count, len(reposts))
        return {config.reposted_list_name: self._render(reposts[page.start:page.end], fields),
                "cursor": page.cursor, "has_more": page.has_more}

    def _render(self, indices, fields: tuple[str, ...]) -> list[dict[str, Any]]:
        videos = self.corpus.videos
        return [render(videos[i], fields) for i in indices if not videos[i].hidden]

    # -- ground truth -------------------------------------------------------------------
    def ground_truth(self, kind: str, usernames: object, max_count: object, config: SimConfig) -> dict[str, Any]:
        """Per username (``kind`` liked, pinned or reposted): its status ("hidden" when it
        hides that list) and the ids (strings) of the shown videos a complete harvest
        collects, in the order it meets them; liked videos for pages of ``max_count``."""
        if not isinstance(usernames, list) or not all(isinstance(x, str) for x in usernames):
            raise QueryError("usernames must be a list of usernames")
        page_size, _ = parse_paging({"max_count": max_count}, default_max_count=100)
        videos = self.corpus.videos
        users = {}
        for username in usernames:
            status = self._follows.status(username)
            indices: list[int] = []
            if status == "ok" and kind == "liked":
                if self.likes_hidden(username):
                    status = "hidden"
                else:
                    likes = self.likes(username)
                    positions = likes.reachable(page_size, len(likes), config.time_cursor_ties)
                    indices = [likes.items[p] for p in positions]
            elif status == "ok" and kind == "reposted":
                status = "hidden" if self.reposts_hidden(username) else status
                indices = list(self.reposts(username)) if status == "ok" else []
            elif status == "ok":
                indices = self.pinned(username)
            ids = [str(videos[i].id) for i in indices if not videos[i].hidden]
            users[username] = {"status": status, "ids": ids, "reachable": len(ids)}
        return {"users": users} | ({"max_count": page_size} if kind == "liked" else {})
