"""A local simulator of TikTok's Research API (v2), for tests and benchmarks.

Behaves as /work/shared/tiktok-research-api.md describes: OAuth client tokens, the video
query with its cursor/search_id paging, user info, video comments, quotas, faults.  Ground
truth comes from :meth:`Corpus.matching_ids` and, for comments, from
:meth:`simulator.comments.CommentBook.ground_truth`; ``/_sim/`` endpoints control a
running server.
"""

from simulator.corpus import Corpus, get_corpus
from simulator.faults import SimConfig
from simulator.server import SimulatorServer, run

__all__ = ["Corpus", "SimConfig", "SimulatorServer", "get_corpus", "run"]
