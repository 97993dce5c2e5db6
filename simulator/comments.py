"""Video comments: generated per video on demand, the comment list endpoint's work, and
the ground truth of a complete comment harvest.

A video has exactly ``comment_count`` comments.  They are made from
``random.Random`` seeded with the corpus seed and the video id (never ``hash()``), so
two processes with the same corpus serve the same comments, and only when asked for:
a video's comments are kept in a bounded LRU, and only as far as a request reached, so a
long run does not hold the 3.6 million comments of the 60,000-video corpus.

**Order** (the position a cursor counts): threads newest first, each thread its top-level
comment (``parent_comment_id`` == the video id) followed by all of its replies, oldest
first.  Most replies answer the top-level comment, a few answer an earlier reply in the
same thread.  ``reply_count`` counts a comment's direct replies, which is exactly what
``{"comment_id": …}`` lists (oldest first).  Top-level ``create_time``s never increase
along the order and are at or after the video's; a reply is later than its parent.

**Ids** are a bijection of (video index, position) into [2^62, 2^62 + 2^60): above
2^53, unique across the corpus, below every video id (those start at 2024-01-01 << 32,
about 7.3e18), and decodable, so a comment id leads to its video without an index.
Positions use 28 bits: a video could hold up to 268 million comments.

**Reach**: only the first ``comment_cap`` positions of a video are served, through either
listing; ``reply_count`` and ``comment_count`` still count them all.  A page past the end
is empty with ``has_more`` false (TikTok's documentation asks for cursor + max_count <=
1,000; whether it refuses more is not documented, so the simulator does not).  A hidden
(deleted/private) video's comments are not served at all: its id is answered like an id
that is not in the corpus (switch ``comment_unknown_video``).

With seed 7 and 60,000 videos, 521 videos have more than 1,000 comments and 54 more than
5,000 (the video query ``comment_count GT 1000`` finds them); the most has 114,761.
"""

from __future__ import annotations

import random
import threading
from bisect import bisect_right
from collections import OrderedDict
from typing import Any

import msgspec

from simulator.corpus import NON_LATIN, TOPIC_WORDS, VOCAB, Corpus, Video
from simulator.faults import Faults, SimConfig
from simulator.query import QueryError, parse_id, parse_paging

COMMENT_FIELDS = frozenset(
    "id video_id text like_count reply_count parent_comment_id create_time".split())

_ID_BASE = 1 << 62
_KEY_BITS = 60
_KEY_MASK = (1 << _KEY_BITS) - 1
_POS_BITS = 28
_POS_MASK = (1 << _POS_BITS) - 1
_ID_MULT = 0x2545F4914F6CDD1D & _KEY_MASK  # odd: multiplying by it permutes the key space
_ID_MULT_INV = pow(_ID_MULT, -1, 1 << _KEY_BITS)

EMOJI = ("😂", "🔥", "❤️", "👏", "😍", "🙏", "😢", "🤔", "💯", "🇧🇪", "🇳🇱", "🌍", "😡", "🥲")
MAIL_DOMAINS = ("be", "nl", "com", "fr")
PHONE_PREFIXES = ("32", "31", "33")


class Comment(msgspec.Struct, frozen=True, gc=False):
    """One comment, its attributes named like the API's fields (all always present)."""

    id: int
    video_id: int
    text: str
    like_count: int
    reply_count: int
    parent_comment_id: int
    create_time: int


def comment_id(seed: int, video_index: int, position: int) -> int:
    offset = (seed * 0x9E3779B97F4A7C15) & _KEY_MASK  # the same slots, other ids per seed
    key = (video_index << _POS_BITS) | position
    return _ID_BASE + ((key * _ID_MULT + offset) & _KEY_MASK)


def decode_comment_id(seed: int, cid: int) -> tuple[int, int] | None:
    """(video index, position) of a comment id, or None when no comment can have it."""
    if not _ID_BASE <= cid < _ID_BASE + (1 << _KEY_BITS):
        return None
    offset = (seed * 0x9E3779B97F4A7C15) & _KEY_MASK
    key = ((cid - _ID_BASE - offset) * _ID_MULT_INV) & _KEY_MASK
    return key >> _POS_BITS, key & _POS_MASK


def _text(rng: random.Random) -> str:
    r = rng.random
    words = rng.choices(VOCAB, k=rng.randint(1, 14))
    if r() < 0.1:
        words.insert(rng.randrange(len(words) + 1), rng.choice(TOPIC_WORDS))
    if r() < 0.02:
        words.append(rng.choice(NON_LATIN))
    # Contact details arrive masked by TikTok: digits and the mailbox behind stars.
    if r() < 0.01:
        words.append(f"+{rng.choice(PHONE_PREFIXES)} *** ** ** {rng.randrange(100):02d}")
    if r() < 0.01:
        words.append(f"{rng.choice('abcdefghijklmnoprstvw')}***@***.{rng.choice(MAIL_DOMAINS)}")
    if r() < 0.005:
        words.insert(rng.randrange(len(words) + 1), "\u0000")
    if r() < 0.04:
        words = []  # an emoji-only comment
    if not words or r() < 0.35:
        words.append("".join(rng.choices(EMOJI, k=rng.randint(1, 3))))
    return " ".join(words)


class _VideoComments:
    """One video's comments, made thread by thread as far as a request needs them.

    Thread sizes come in order from one generator seeded by the video; each thread's
    content from a generator of its own, given its size.  Only the last thread is cut
    to make the total ``comment_count``, so a prefix never depends on how far it is made.
    """

    def __init__(self, seed: int, index: int, video: Video) -> None:
        self.seed, self.index, self.video = seed, index, video
        self.count = video.comment_count
        self.lock = threading.Lock()
        self._sizes = random.Random(f"comments:{seed}:{video.id}")
        # Top-level comment k lands at span * spread / (spread + k) after the video:
        # the newest last, most of them soon after posting.
        self._span = self._sizes.randint(600, 30 * 86400)
        self._spread = self._sizes.uniform(2.0, 40.0)
        self.starts = [0]  # position of each thread's top-level comment, then the next free one
        self.comments: list[Comment] = []

    def _thread_size(self) -> int:
        rng = self._sizes
        return 1 if rng.random() < 0.62 else 1 + min(400, int(rng.paretovariate(1.15)))

    def make(self, end: int) -> None:
        """Make whole threads until the first ``end`` positions exist (caller holds lock)."""
        end = min(end, self.count)
        while len(self.comments) < end:
            k = len(self.starts) - 1
            self.starts.append(min(self.count, self.starts[k] + self._thread_size()))
            self.comments += self._thread(k)

    def _thread(self, k: int) -> list[Comment]:
        video, start, end = self.video, self.starts[k], self.starts[k + 1]
        rng = random.Random(f"comments:{self.seed}:{video.id}:{k}")
        ids = [comment_id(self.seed, self.index, p) for p in range(start, end)]
        # Local index of each comment's parent; -1: the video.
        parents = [-1] + [0 if j == 1 or rng.random() < 0.85 else rng.randrange(1, j)
                          for j in range(1, end - start)]
        replies = [0] * len(ids)
        for parent in parents[1:]:
            replies[parent] += 1
        when = video.create_time + int(self._span * self._spread / (self._spread + k))
        thread = []
        for j, cid in enumerate(ids):
            if j:
                when += 1 + int(rng.expovariate(1 / 5400))  # chronological: after its parent
            likes = int(rng.lognormvariate(0.8, 1.9) if j == 0 else rng.lognormvariate(0.0, 1.2))
            thread.append(Comment(cid, video.id, _text(rng), likes, replies[j],
                                  video.id if j == 0 else ids[parents[j]], when))
        return thread

    def thread_of(self, position: int) -> tuple[int, int]:
        """[start, end) of the thread holding ``position`` (made already)."""
        k = bisect_right(self.starts, position) - 1
        return self.starts[k], self.starts[k + 1]

    def weight(self) -> int:
        return len(self.comments) + len(self.starts)


class CommentBook:
    """The corpus's comments, their listing endpoint and their ground truth.

    ``max_held`` bounds the comments kept made (least recently used videos go first; the
    video in use always stays).
    """

    def __init__(self, corpus: Corpus, faults: Faults, max_held: int = 100_000) -> None:
        self.corpus, self.seed, self._faults = corpus, corpus.seed, faults
        self.max_held = max_held
        self._lock = threading.Lock()
        self._videos: OrderedDict[int, _VideoComments] = OrderedDict()
        self._counted: dict[int, int] = {}  # weight accounted per cached video
        self._held = 0

    # -- the made comments ---------------------------------------------------------------
    def _made(self, index: int, end: int, position: int | None = None) -> tuple[list[Comment], int, int]:
        """Make a video's first ``end`` comments (and the thread holding ``position``).

        Returns the video's list of made comments and [start, end) of that thread.  The
        list only ever grows at its end, so the caller may read the part asked for after
        the lock is released."""
        with self._lock:
            entry = self._videos.get(index)
            if entry is None:
                entry = self._videos[index] = _VideoComments(self.seed, index, self.corpus.videos[index])
                self._counted[index] = 0
            self._videos.move_to_end(index)
        with entry.lock:
            entry.make(end if position is None else max(end, position + 1))
            thread = entry.thread_of(position) if position is not None else (0, 0)
            comments, weight = entry.comments, entry.weight()
        with self._lock:
            if self._videos.get(index) is entry:  # else evicted meanwhile: nothing to account
                self._held += weight - self._counted[index]
                self._counted[index] = weight
            while self._held > self.max_held and len(self._videos) > 1:
                old, _ = self._videos.popitem(last=False)
                self._held -= self._counted.pop(old)
        return comments, thread[0], thread[1]

    def held(self) -> int:
        """How many comments (and thread starts) are kept made now."""
        with self._lock:
            return self._held

    def video_comments(self, video_id: int, limit: int | None = None) -> list[Comment]:
        """A video's comments in serving order, hidden videos' too, ignoring the cap."""
        index = self.corpus.id_index[video_id]
        count = self.corpus.videos[index].comment_count
        end = count if limit is None else min(limit, count)
        return self._made(index, end)[0][:end]

    # -- POST /v2/research/video/comment/list/ --------------------------------------------
    def page(self, body: dict, fields: tuple[str, ...], config: SimConfig) -> dict[str, Any] | None:
        """The answer's ``data``; None when a 500 is injected.  QueryError: 400."""
        video_id, parent_id = body.get("video_id"), body.get("comment_id")
        if video_id is not None and parent_id is not None:
            raise QueryError("Only one of video_id and comment_id can be given")
        if video_id is None and parent_id is None:
            raise QueryError("video_id is required")
        asked = parse_id(video_id, "video_id") if parent_id is None else parse_id(parent_id, "comment_id")
        max_count, cursor = parse_paging(body, default_max_count=10)
        if self._faults.hit(config.comment_500_rate, "comment_500"):
            return None
        cap = config.comment_cap
        if parent_id is None:
            found = self._listed_video(asked)
            if found is None:
                return self._unknown(f"The video {asked} cannot be found", cursor, config)
            index, count = found
            reachable = min(count, cap)
            end = min(cursor + max_count, reachable)
            chosen = self._made(index, end)[0][cursor:end] if cursor < end else []
        else:
            where = self._listed_comment(asked)
            if where is None:
                return self._unknown(f"The comment {asked} cannot be found", cursor, config)
            index, position = where
            if position >= cap:  # its replies come later still: none reachable
                replies: list[Comment] = []
            else:
                comments, start, end = self._made(index, 0, position)
                replies = [c for c in comments[position + 1:min(end, cap)] if c.parent_comment_id == asked]
            reachable = len(replies)
            chosen = replies[cursor:cursor + max_count]
        next_cursor = cursor + len(chosen)
        return {"comments": [{f: getattr(c, f) for f in fields} for c in chosen],
                "cursor": next_cursor, "has_more": next_cursor < reachable}

    def _listed_video(self, video_id: int) -> tuple[int, int] | None:
        """(index, comment_count) of a video whose comments are served."""
        index = self.corpus.id_index.get(video_id)
        if index is None or self.corpus.videos[index].hidden:
            return None
        return index, self.corpus.videos[index].comment_count

    def _listed_comment(self, cid: int) -> tuple[int, int] | None:
        """(video index, position) of a comment of a served video."""
        where = decode_comment_id(self.seed, cid)
        if where is None or where[0] >= len(self.corpus.videos):
            return None
        video = self.corpus.videos[where[0]]
        return where if not video.hidden and where[1] < video.comment_count else None

    @staticmethod
    def _unknown(message: str, cursor: int, config: SimConfig) -> dict[str, Any]:
        # TikTok's documentation does not say what a video it does not know (or no longer
        # shows) answers; it is believed to be a 200 with no comments.  The switch gives a
        # 400 instead, for clients that have to cope with either.
        if config.comment_unknown_video == "invalid_params":
            raise QueryError(message)
        return {"comments": [], "cursor": cursor, "has_more": False}

    # -- ground truth -------------------------------------------------------------------
    def ground_truth(self, video_ids: object, cap: int) -> dict[str, Any]:
        """Per video: the ids a complete harvest of its comments stores, in serving order
        (``reachable`` of them), and ``comment_count``.  An id not in the corpus: none, 0."""
        if not isinstance(video_ids, list):
            raise QueryError("video_ids must be a list of video ids")
        videos = {}
        for raw in video_ids:
            video_id = parse_id(raw, "video_ids")
            index = self.corpus.id_index.get(video_id)
            total = 0 if index is None else self.corpus.videos[index].comment_count
            found = self._listed_video(video_id)
            ids = [] if found is None else [str(comment_id(self.seed, found[0], p))
                                            for p in range(min(found[1], cap))]
            videos[str(video_id)] = {"ids": ids, "reachable": len(ids), "comment_count": total}
        return {"videos": videos}
