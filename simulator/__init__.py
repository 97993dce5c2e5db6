"""A local simulator of TikTok's Research API (v2), for tests and benchmarks.

Behaves as /work/shared/tiktok-research-api.md describes: OAuth client tokens, the video
query with its cursor/search_id paging, user info, video comments, followers and
following, liked, pinned and reposted videos, playlists, both daily budgets, faults.
Ground truth comes from :meth:`Corpus.matching_ids` and the ``*_ground_truth`` methods of
:class:`simulator.app.SimulatorApp`; ``/_sim/`` endpoints (``simulator/control.py``)
control a running server and answer the same ground truth.
"""

from simulator.corpus import Corpus, get_corpus
from simulator.faults import SimConfig
from simulator.server import SimulatorServer, run

__all__ = ["Corpus", "SimConfig", "SimulatorServer", "get_corpus", "run"]
