"""Who follows whom: a seeded follow graph, the follower and following lists, and their
ground truth.

**Accounts.**  Besides the corpus accounts there is an audience of 20,000 accounts that
post nothing (so the video query never finds them): most of a popular account's followers
are such viewers.  They are public accounts like any other: user info answers for them,
and their own following lists can be asked for.  :meth:`FollowBook.status` is the status
of any username (the corpus's for its accounts, "ok" for the audience, "unknown" else).

**Graph.**  Made once per corpus from ``random.Random("follows:<seed>")`` and the corpus
accounts (not the videos), so it is the same in every process.  Every public corpus account
has followers: the featured ``vrtnws`` and ``hln_be`` 6,000-9,000 each (past the 5,000 cap),
the others a few to a few thousand (never more than their ``follower_count``), about a
third of them corpus accounts, the rest audience.  A corpus account follows no more
accounts than its ``following_count``.  Lists hold public accounts only: private and
restricted corpus accounts neither follow nor are followed here, and asking for their
lists answers 400 as user info does.

**Times** are Unix seconds spread over 2024-2025, more of them late in the period.  Ties are
made on purpose: about one follow in ten shares its second with another follow of the same
account, each featured account had a burst of 120-160 follows in one second in the last
three months, and a share of the accounts followed two accounts in the same second.  A list
is ordered newest first, ties in a fixed order.  Paging, the cap (``follow_cap``) and what
happens to ties at a page boundary (``time_cursor_ties``) are in ``simulator/paging.py``.
"""

from __future__ import annotations

import math
import random
import threading
import weakref
from typing import Any

from simulator.corpus import EPOCH0, FEATURED_ACCOUNTS, N_DAYS, NON_LATIN, SYLLABLES, VOCAB, Account, Corpus
from simulator.faults import Faults, SimConfig
from simulator.paging import TimeList
from simulator.query import QueryError, parse_paging

AUDIENCE = 20_000
LIST_KEYS = {"followers": "user_followers", "following": "user_following"}
_START, _SPAN = EPOCH0, N_DAYS * 86400
_EMPTY = TimeList((), ())


def refuse_unless_public(status: str, username: str) -> None:
    """The 400 a user endpoint answers for an account that is not public (QueryError)."""
    if status == "unknown":
        raise QueryError(f"Error: cannot find the user {username}")
    if status == "private":
        raise QueryError(f"The user {username} is private")
    if status == "restricted":
        raise QueryError("API cannot return this user's information")


def username_of(body: dict) -> str:
    username = body.get("username")
    if not isinstance(username, str) or not username:
        raise QueryError("username is required")
    return username


class _Graph:
    """Nodes: the corpus accounts (their corpus index), then the audience."""

    def __init__(self, corpus: Corpus) -> None:
        rng = random.Random(f"follows:{corpus.seed}")
        accounts = corpus.accounts
        self.names = [a.username for a in accounts]
        self.displays = [a.display_name for a in accounts]
        self._make_audience(rng, set(self.names))
        self.node = {name: i for i, name in enumerate(self.names)}
        public = [i for i, a in enumerate(accounts) if corpus.user_status(a.username) == "ok"]
        capacity = [a.following_count for a in accounts]
        out_degree = [0] * len(self.names)
        times: list[int] = []  # per follow (edge): when, who followed, whom
        sources: list[int] = []
        followers_of: list[list[int]] = [[] for _ in accounts]
        following_of: list[list[int]] = [[] for _ in self.names]
        featured = range(len(FEATURED_ACCOUNTS))  # the corpus lists them first
        for a in public:
            if a in featured:
                size, share = 6000 + rng.randrange(3000), 0.15
            else:
                size = min(accounts[a].follower_count, int(rng.lognormvariate(2.3, 1.6)), 4000)
                share = 0.3
            if not size:
                continue
            wanted = min(int(size * share + rng.random()), len(public) - 1)
            drawn = rng.sample(public, min(len(public), wanted + 8))
            from_corpus = [f for f in drawn if f != a and out_degree[f] < capacity[f]][:wanted]
            audience = rng.sample(range(len(accounts), len(self.names)), size - len(from_corpus))
            when = self._follow_times(rng, size, a in featured)
            for follower, t in zip(from_corpus + audience, when, strict=True):
                followers_of[a].append(len(times))
                following_of[follower].append(len(times))
                out_degree[follower] += 1
                times.append(t)
                sources.append(follower)
        for edges in following_of:  # some accounts followed two accounts in the same second
            if len(edges) >= 2 and rng.random() < 0.3:
                first, second = rng.sample(edges, 2)
                times[second] = times[first]
        targets = [0] * len(times)
        for a, edges in enumerate(followers_of):
            for e in edges:
                targets[e] = a
        self.followers = [self._timeline(edges, times, sources) for edges in followers_of]
        self.following = [self._timeline(edges, times, targets) for edges in following_of]

    def _make_audience(self, rng: random.Random, taken: set[str]) -> None:
        words = [w for w in VOCAB if w.isascii()]
        size = len(self.names) + AUDIENCE
        while len(self.names) < size:
            if rng.random() < 0.6:  # the name TikTok gives an account that never chose one
                name = f"user{rng.randrange(10**9, 10**13)}"
                display = name if rng.random() < 0.7 else "".join(rng.choices(SYLLABLES, k=3)).title()
            else:
                first = "".join(rng.choices(SYLLABLES, k=rng.randint(2, 3)))
                name = first + rng.choice(("", "_", ".", "x")) + rng.choice(words) + str(rng.randrange(100))
                display = first.title() if rng.random() < 0.9 else rng.choice(NON_LATIN)
            if name not in taken:
                taken.add(name)
                self.names.append(name)
                self.displays.append(display)

    @staticmethod
    def _follow_times(rng: random.Random, size: int, burst: bool) -> list[int]:
        when: list[int] = []
        for j in range(size):
            if j and rng.random() < 0.1:
                when.append(when[rng.randrange(j)])  # two follows in one second
            else:
                when.append(_START + int(_SPAN * math.sqrt(rng.random())))  # more follows lately
        if burst:
            moment = _START + _SPAN - 1 - rng.randrange(90 * 86400)
            for j in rng.sample(range(size), rng.randint(120, 160)):
                when[j] = moment
        return when

    @staticmethod
    def _timeline(edges: list[int], times: list[int], others: list[int]) -> TimeList:
        if not edges:
            return _EMPTY
        edges = sorted(edges, key=lambda e: (-times[e], e))  # ties: in the order they were made
        return TimeList([times[e] for e in edges], [others[e] for e in edges])


_graphs: weakref.WeakKeyDictionary[Corpus, _Graph] = weakref.WeakKeyDictionary()
_graphs_lock = threading.Lock()


def follow_graph(corpus: Corpus) -> _Graph:
    """The corpus's graph, made on first use and shared by every app on that corpus."""
    with _graphs_lock:
        graph = _graphs.get(corpus)
        if graph is None:
            graph = _graphs[corpus] = _Graph(corpus)
        return graph


class FollowBook:
    """The follower and following endpoints, account statuses, and their ground truth."""

    def __init__(self, corpus: Corpus, faults: Faults) -> None:
        self.corpus, self._faults = corpus, faults

    @property
    def graph(self) -> _Graph:
        return follow_graph(self.corpus)

    def status(self, username: str) -> str:
        """"ok" | "unknown" | "private" | "restricted" for any username."""
        status = self.corpus.user_status(username)
        if status == "unknown" and self.graph.node.get(username, -1) >= len(self.corpus.accounts):
            return "ok"
        return status

    def account(self, username: str) -> Account:
        """A public account's profile (a corpus account's, or one made for the audience)."""
        found = self.corpus.by_username.get(username)
        if found is not None:
            return found
        graph = self.graph
        node = graph.node[username]
        rng = random.Random(f"audience:{self.corpus.seed}:{username}")
        a = Account()
        a.username, a.region, a.display_name = username, "", graph.displays[node]
        a.bio_description = " ".join(rng.choices(VOCAB, k=rng.randint(1, 6))) if rng.random() < 0.3 else ""
        a.avatar_url = f"https://p16-sign.tiktokcdn-eu.com/tos-avt/{rng.getrandbits(64):016x}~c5_168x168.jpeg"
        a.is_verified, a.video_count, a.bio_url = False, 0, None
        a.follower_count = int(rng.lognormvariate(2, 1.5))
        a.following_count = len(graph.following[node]) + int(rng.lognormvariate(3, 1.2))
        a.likes_count = int(rng.lognormvariate(1, 1.5))
        return a

    def timeline(self, username: str, direction: str) -> TimeList:
        """A public account's complete list, newest first (no cap)."""
        graph = self.graph
        node = graph.node[username]
        if direction == "followers":
            return graph.followers[node] if node < len(graph.followers) else _EMPTY
        return graph.following[node]

    # -- POST /v2/research/user/followers/ and /following/ ---------------------------------
    def page(self, body: dict, direction: str, config: SimConfig) -> dict[str, Any] | None:
        """The answer's ``data``; None when a 500 is injected.  QueryError: 400."""
        username = username_of(body)
        max_count, cursor = parse_paging(body, default_max_count=20)
        if self._faults.hit(config.user_500_rate, "user_500"):
            return None
        refuse_unless_public(self.status(username), username)
        timeline = self.timeline(username, direction)
        page = timeline.page(cursor, max_count, config.follow_cap, config.time_cursor_ties)
        names, displays = self.graph.names, self.graph.displays
        entries = [{"display_name": displays[i], "username": names[i]} for i in timeline.items[page.start:page.end]]
        return {LIST_KEYS[direction]: entries, "cursor": page.cursor, "has_more": page.has_more}

    # -- ground truth -------------------------------------------------------------------
    def ground_truth(self, usernames: object, direction: object, max_count: object,
                     config: SimConfig) -> dict[str, Any]:
        """Per username: its status, the usernames a complete harvest at ``max_count``
        collects in the order it meets them (``reachable`` of them), and ``listed``: the
        length of the whole list, before the cap and the lost ties."""
        names = _usernames(usernames)
        if not isinstance(direction, str) or direction not in LIST_KEYS:
            raise QueryError("direction must be 'followers' or 'following'")
        page_size, _ = parse_paging({"max_count": max_count}, default_max_count=100)
        users = {}
        for username in names:
            status = self.status(username)
            if status != "ok":
                users[username] = {"status": status, "usernames": [], "reachable": 0, "listed": 0}
                continue
            timeline = self.timeline(username, direction)
            positions = timeline.reachable(page_size, config.follow_cap, config.time_cursor_ties)
            found = [self.graph.names[timeline.items[p]] for p in positions]
            users[username] = {"status": "ok", "usernames": found, "reachable": len(found), "listed": len(timeline)}
        return {"direction": direction, "max_count": page_size, "users": users}


def _usernames(value: object) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(x, str) for x in value):
        raise QueryError("usernames must be a list of usernames")
    return value
