"""Playlists: the playlist info endpoint's work and its ground truth.

A playlist is a run of one author's videos in posting order (``Corpus.playlists``, made
with the corpus); every video of it carries its ``playlist_id``.  With seed 7 and 60,000
videos there are 1,579 playlists of 1 to 130 videos; ``vrtnws`` and ``hln_be`` have three
each, among them the largest.

The answer holds the fields asked for (``playlist_id``, ``playlist_name``,
``playlist_item_total``, ``playlist_last_updated``; ``fields`` validated like the video
query's) and always ``playlist_video_ids``, ``cursor`` and ``has_more``.  The ids are paged
by an index cursor over the playlist's slots (``simulator/paging.py``), oldest video first,
default ``max_count`` 20.  ``playlist_item_total`` counts every video of the playlist,
also those no longer shown, whose ids are left out: a complete harvest may hold fewer ids
than the total says.  ``playlist_last_updated`` is a Unix time in seconds, at or after the
newest video's.  A playlist id the corpus lacks answers 400 ``invalid_params``.
"""

from __future__ import annotations

import random
from typing import Any

from simulator.corpus import VOCAB, Corpus
from simulator.faults import Faults, SimConfig
from simulator.paging import index_page
from simulator.query import QueryError, parse_id, parse_paging

# playlist_video_ids is always served; naming it in fields is allowed too.
PLAYLIST_FIELDS = frozenset(
    "playlist_id playlist_name playlist_item_total playlist_last_updated playlist_video_ids".split())
EMOJI = ("🎬", "📺", "🌍", "⚽", "🎵", "🍟", "📰")


class PlaylistBook:
    def __init__(self, corpus: Corpus, faults: Faults) -> None:
        self.corpus, self._faults = corpus, faults

    def fields(self, playlist_id: int) -> dict[str, Any] | None:
        """Every field of a playlist (None: no such playlist)."""
        members = self.corpus.playlists.get(playlist_id)
        if members is None:
            return None
        rng = random.Random(f"playlist:{self.corpus.seed}:{playlist_id}")
        name = " ".join(rng.choices(VOCAB, k=rng.randint(1, 3))).capitalize()
        if rng.random() < 0.2:
            name += " " + rng.choice(EMOJI)
        newest = max(self.corpus.videos[i].create_time for i in members)
        return {"playlist_id": playlist_id, "playlist_name": name, "playlist_item_total": len(members),
                "playlist_last_updated": newest + rng.randrange(86400)}

    def shown(self, playlist_id: int) -> list[int]:
        """Ids of the playlist's videos that are shown, in playlist order."""
        videos = self.corpus.videos
        return [videos[i].id for i in self.corpus.playlists.get(playlist_id, ()) if not videos[i].hidden]

    # -- POST /v2/research/playlist/info/ ----------------------------------------------------
    def page(self, body: dict, fields: tuple[str, ...], config: SimConfig) -> dict[str, Any] | None:
        """The answer's ``data``; None when a 500 is injected.  QueryError: 400."""
        if "playlist_id" not in body:
            raise QueryError("playlist_id is required")
        playlist_id = parse_id(body["playlist_id"], "playlist_id")
        max_count, cursor = parse_paging(body, default_max_count=20)
        if self._faults.hit(config.playlist_500_rate, "playlist_500"):
            return None
        every = self.fields(playlist_id)
        if every is None:
            raise QueryError(f"The playlist {playlist_id} cannot be found")
        members = self.corpus.playlists[playlist_id]
        page = index_page(cursor, max_count, len(members))
        videos = self.corpus.videos
        ids = [videos[i].id for i in members[page.start:page.end] if not videos[i].hidden]
        data = {f: every[f] for f in fields if f in every}
        return data | {"playlist_video_ids": ids, "cursor": page.cursor, "has_more": page.has_more}

    # -- ground truth -------------------------------------------------------------------
    def ground_truth(self, playlist_ids: object) -> dict[str, Any]:
        """Per playlist id: ``found``, its fields and the ids (strings) of its shown videos,
        in playlist order: what a complete harvest of it collects."""
        if not isinstance(playlist_ids, list):
            raise QueryError("playlist_ids must be a list of playlist ids")
        playlists = {}
        for raw in playlist_ids:
            playlist_id = parse_id(raw, "playlist_ids")
            every = self.fields(playlist_id)
            ids = [str(i) for i in self.shown(playlist_id)]
            playlists[str(playlist_id)] = {"found": every is not None, **(every or {}), "ids": ids}
        return {"playlists": playlists}
