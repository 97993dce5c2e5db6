"""Search ids and the result orders they page through.

A video query's first page fixes the order of its matches; later pages quote the
``search_id`` to page through that same order, as TikTok's search ids do.
"""

from __future__ import annotations

import datetime as dt
import threading
from array import array
from collections import OrderedDict

import msgspec

from simulator.corpus import Corpus
from simulator.query import Predicate


class SearchCache:
    """search_id -> ordered video indices (newest first; hidden and phantom slots kept).

    Bounded LRU: an evicted id answers "Search Id <n> is invalid or expired", as TikTok's do.
    """

    def __init__(self, seed: int, size: int) -> None:
        self.size = size
        self._lock = threading.Lock()
        self._orders: OrderedDict[str, array] = OrderedDict()
        self._next = 7_300_000_000_000_000_000 + (seed * 7_919_000_003) % 10**17

    def _new_id(self) -> str:
        self._next += 1 + (self._next * 2_654_435_761) % 997  # ascending, not consecutive
        return str(self._next)

    def alias(self, order: array) -> str:
        """A new search id for ``order`` (the first page's, or a later page's new one)."""
        with self._lock:
            sid = self._new_id()
            self._orders[sid] = order
            while len(self._orders) > self.size:
                self._orders.popitem(last=False)
            return sid

    def get(self, sid: str) -> array | None:
        with self._lock:
            order = self._orders.get(sid)
            if order is not None:
                self._orders.move_to_end(sid)
            return order


class MatchCache:
    """A window's match list (corpus indices, newest first, hidden ones included) per query.

    Cached because clients restart a search after errors; bounded LRU of ``size`` lists.
    """

    def __init__(self, corpus: Corpus, size: int = 256) -> None:
        self.corpus, self.size = corpus, size
        self._lock = threading.Lock()
        self._lists: OrderedDict[tuple, array] = OrderedDict()

    def get(self, query: dict, predicate: Predicate, start: dt.date, end: dt.date) -> array:
        key = (msgspec.json.encode(query), start, end)
        with self._lock:
            hit = self._lists.get(key)
        if hit is None:
            hit = array("i", self.corpus.match_indices(predicate, start, end))
            with self._lock:
                self._lists[key] = hit
                if len(self._lists) > self.size:
                    self._lists.popitem(last=False)
        return hit
