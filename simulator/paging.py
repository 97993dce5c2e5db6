"""Paging over one account's (or one playlist's) list: time cursors with their ties, and
index cursors that count slots.

**Time cursors** (followers and following in seconds, liked videos in milliseconds).  A
list is kept newest first.  A request's cursor asks for the entries made at or before it;
no cursor, or 0, asks from the newest.  What the answer's cursor is, and so what happens to
entries that share a time with the last one returned, TikTok does not document; the
switch ``time_cursor_ties`` chooses between the two behaviours a time-keyed store can have:

- ``"skip"`` (default): the answer's cursor is one unit (second or millisecond) before the
  last entry returned, so the next page starts strictly before that entry's time.  Entries
  sharing that time which did not fit on the page are never served: what is reachable
  depends on ``max_count``.  The cursor always moves back, so a client that passes it on
  cannot loop.
- ``"repeat"``: the answer's cursor is the last entry's time, so the next page serves that
  time's entries again (duplicates to drop).  When more than ``max_count`` entries share one
  time the answer's cursor does not move: the client has to step one unit back itself, and
  what it then skips is lost.

Only the first ``cap`` entries (the newest) are served at all.  ``has_more`` is true when
the next request, made as the client is expected to make it, can still serve something
new: in "skip" mode an older entry within the cap, in "repeat" mode any entry past this
page.  :meth:`TimeList.reachable` replays exactly that client (pass the cursor on; drop
repeats; when it did not move, one unit back), so ground truth and paging cannot drift.

**Index cursors** (reposted videos, playlist videos) count slots: a cursor is the position
to start at and advances over every slot the page covered, also over videos that are no
longer shown, so a page may be shorter than ``max_count`` while ``has_more`` is true.
"""

from __future__ import annotations

from array import array
from bisect import bisect_left
from collections.abc import Sequence
from typing import NamedTuple


class Page(NamedTuple):
    start: int  # first position served
    end: int  # one past the last position served
    cursor: int  # the answer's cursor
    has_more: bool


def _newest_first(t: int) -> int:
    return -t


class TimeList:
    """Entries newest first: ``times[i]`` is when entry ``items[i]`` was made (ties allowed)."""

    __slots__ = ("times", "items")

    def __init__(self, times: Sequence[int], items: Sequence[int]) -> None:
        self.times = array("q", times)
        self.items = array("i", items)

    def __len__(self) -> int:
        return len(self.times)

    def page(self, cursor: int, max_count: int, cap: int, ties: str) -> Page:
        """Positions served for a request with ``cursor`` (0: from the newest)."""
        times = self.times
        n = min(len(times), cap)
        start = 0 if cursor <= 0 else bisect_left(times, -cursor, key=_newest_first)
        if start >= n:
            return Page(n, n, cursor, False)
        end = min(start + max_count, n)
        last = times[end - 1]
        if ties == "skip":
            return Page(start, end, last - 1, end < n and times[n - 1] < last)
        return Page(start, end, last, end < n)

    def reachable(self, max_count: int, cap: int, ties: str) -> list[int]:
        """Positions a complete harvest at ``max_count`` collects, in the order it meets them."""
        found: list[int] = []
        done, cursor = 0, 0  # done: positions before it are collected already
        while True:
            page = self.page(cursor, max_count, cap, ties)
            if page.end > done:
                found.extend(range(max(page.start, done), page.end))
                done = page.end
            cursor = page.cursor - 1 if page.cursor == cursor else page.cursor
            if not page.has_more or cursor <= 0:  # a cursor of 0 would start over from the newest
                return found


def index_page(cursor: int, max_count: int, length: int) -> Page:
    """Slots [cursor, cursor + max_count) of a list of ``length``; past the end: nothing."""
    end = min(cursor + max_count, length)
    if cursor >= end:
        return Page(cursor, cursor, cursor, False)
    return Page(cursor, end, end, end < length)
