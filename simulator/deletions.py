"""Videos deleted on purpose, for tests of the compliance refresh: a deleted video is hidden
(``Video.hidden``), as the ~3 % the corpus hides from the start, so every endpoint and every
ground truth leaves it out at once, video queries by ``video_id`` included.

Only what was deleted here can be restored: the corpus's own hidden videos stay hidden.
The corpus is shared by every server of a process (``get_corpus``), so a test restores what
it deleted.
"""

from __future__ import annotations

import threading

from simulator.corpus import Corpus
from simulator.query import QueryError, parse_id


class Deletions:
    def __init__(self, corpus: Corpus) -> None:
        self.corpus = corpus
        self._deleted: set[int] = set()  # corpus indices hidden by `delete`
        self._lock = threading.Lock()

    def delete(self, ids: object) -> dict:
        """``{"deleted", "unknown", "already_hidden"}``: ids as strings."""
        deleted, unknown, hidden = [], [], []
        with self._lock:
            for video_id in _ids(ids):
                index = self.corpus.id_index.get(video_id)
                if index is None:
                    unknown.append(str(video_id))
                elif self.corpus.videos[index].hidden:
                    hidden.append(str(video_id))
                else:
                    self.corpus.videos[index].hidden = True
                    self._deleted.add(index)
                    deleted.append(str(video_id))
        return {"deleted": deleted, "unknown": unknown, "already_hidden": hidden}

    def restore(self, ids: object = None) -> dict:
        """Show again the videos deleted here (those of ``ids``, or all): ``{"restored"}``."""
        with self._lock:
            if ids is None:
                chosen = set(self._deleted)
            else:
                chosen = {i for v in _ids(ids) if (i := self.corpus.id_index.get(v)) in self._deleted}
            for index in chosen:
                self.corpus.videos[index].hidden = False
            self._deleted -= chosen
        return {"restored": sorted(str(self.corpus.videos[i].id) for i in chosen)}


def _ids(ids: object) -> list[int]:
    if not isinstance(ids, list):
        raise QueryError("ids must be a list of video ids")
    return [parse_id(value, "video id") for value in ids]
