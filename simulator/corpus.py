"""Deterministic synthetic corpus: videos and accounts, 2024-01-01 .. 2025-12-31 UTC.

Everything derives from one ``random.Random(seed)`` (never ``hash()``, which is salted
per process), so two processes with the same seed and size serve identical data.

Shape: ~2,000 accounts with Zipf-like activity inside their home region, ~500 Zipf
hashtags, 20 weighted regions (BE and NL dominate: this is a Belgian archive's corpus),
a daily rate with weekly and seasonal waves plus a few bursts of several times the base
rate, ~3 % hidden videos (deleted/private: they hold a slot in a search's order but are
never returned), optional fields left out at random, NULs and non-Latin text.

Featured terms: accounts ``vrtnws`` and ``hln_be`` (BE, 2-4 videos a day each),
hashtag ``klimaatzaak`` and keyword ``klimaat`` (mostly BE/NL videos).  About 10 % of the
videos belong to a playlist of their author (``playlists``: id -> videos in order).  With seed 7 and
60,000 videos (59,992 generated; 41-515 a day, median 66) the featured query
``FEATURED_QUERY`` (``or``: username IN [vrtnws, hln_be], keyword IN [klimaat],
hashtag_name IN [klimaatzaak]; ``and``: region_code IN [BE, NL]) matches:

- 20240101-20240630: 6,101 returnable videos (6,307 slots with hidden) by 957 authors;
- 20240101-20241231: 13,782 returnable videos (14,248 slots) by 1,073 authors;
- 20240101-20251231: 28,008 returnable videos (28,937 slots) by 1,095 authors.
"""

from __future__ import annotations

import datetime as dt
import functools
import math
import random
import zlib
from bisect import bisect_left
from itertools import accumulate
from typing import Any

FIRST_DAY = dt.date(2024, 1, 1)
LAST_DAY = dt.date(2025, 12, 31)
N_DAYS = (LAST_DAY - FIRST_DAY).days + 1
EPOCH0 = int(dt.datetime(2024, 1, 1, tzinfo=dt.UTC).timestamp())
DAY_INTS = tuple(int((FIRST_DAY + dt.timedelta(d)).strftime("%Y%m%d")) for d in range(N_DAYS))

FEATURED_ACCOUNTS = (("vrtnws", "VRT NWS"), ("hln_be", "HLN"))
FEATURED_QUERY = {  # the query the docstring's numbers are for
    "or": [{"field_name": "username", "operation": "IN", "field_values": ["vrtnws", "hln_be"]},
           {"field_name": "keyword", "operation": "IN", "field_values": ["klimaat"]},
           {"field_name": "hashtag_name", "operation": "IN", "field_values": ["klimaatzaak"]}],
    "and": [{"field_name": "region_code", "operation": "IN", "field_values": ["BE", "NL"]}],
}
REGIONS = ("BE", "NL", "FR", "DE", "US", "GB", "ES", "IT", "LU", "PL",
           "SE", "DK", "AT", "CH", "IE", "PT", "TR", "MA", "CA", "AU")
REGION_WEIGHTS = (32, 24, 7, 6, 6, 4, 2, 2, 2, 2, 1.5, 1, 1.5, 1.5, 1, 1, 2, 2, 1, 1)
TOPIC_SHARE = {"BE": 0.80, "NL": 0.80}  # share of "klimaat" videos; 4 % elsewhere
VOCAB = """de het een en van in op met voor niet maar ook zo nu dag nieuws stad school
trein fiets regen zon zee markt koffie frieten bier voetbal muziek festival feest
vandaag morgen gisteren mooi leuk grappig belangrijk debat politiek stem verkiezing
brussel antwerpen gent leuven brugge amsterdam rotterdam utrecht la le les des et pour
avec dans sur pas très bonjour ville école manif grève santé ecole travail the and for
with this that today news city love life vibes tutorial recipe dance trend challenge
water energie natuur bos boer stikstof overstroming hitte droogte storm wind""".split()
TOPIC_WORDS = ("klimaat", "klimaatverandering", "Klimaat", "klimaatbeleid", "klimaatcrisis",
               "KLIMAAT", "klimaatmars")
TOPIC_TAGS = ("klimaatzaak", "klimaatmars", "climatechange", "klimaat", "rechtszaak", "co2")
COMMON_TAGS = ("fyp", "foryou", "viral", "belgie", "belgium", "nederland", "nieuws",
               "news", "vrt", "brussel", "humor", "food", "voetbal", "muziek", "politiek")
NON_LATIN = ("Привет всем", "مرحبا بالعالم", "你好世界", "こんにちは", "γειά σου κόσμε",
             "שלום עולם", "🌍🔥", "नमस्ते")
SYLLABLES = "ba be bo da de do ka ko la le lo ma me mo na ne no pa pe ra re ro sa se ta to va vi za".split()
LABELS = ({"content": "Participants in this video are paid."},
          {"content": "Creator labeled as AI-generated"})
TAGS = ({"type": "photo_mode"}, {"type": "ai_generated", "sub_type": "creator_labeled"})
LENGTHS = ((0, 14, "SHORT", 35), (15, 60, "MID", 45), (61, 300, "LONG", 17),
           (301, 1800, "EXTRA_LONG", 3))


class Video:
    """One video: attributes named like the API's fields (None = field absent) + query keys."""

    __slots__ = ("id", "create_time", "username", "region_code", "video_description",
                 "hashtag_names", "view_count", "like_count", "comment_count", "share_count",
                 "favorites_count", "music_id", "effect_ids", "playlist_id", "voice_to_text",
                 "is_stem_verified", "video_duration", "hashtag_info_list",
                 "sticker_info_list", "effect_info_list", "video_mention_list",
                 "video_label", "video_tag",
                 # query-only keys, never rendered
                 "create_date", "desc_lower", "tags_lower", "length", "hidden")

    id: int
    create_time: int
    username: str
    region_code: str
    video_description: str
    hashtag_names: tuple[str, ...]
    view_count: int
    like_count: int
    comment_count: int
    share_count: int
    favorites_count: int
    music_id: int | None
    effect_ids: tuple[str, ...] | None
    playlist_id: int | None
    voice_to_text: str | None
    is_stem_verified: bool
    video_duration: int
    hashtag_info_list: tuple[dict[str, Any], ...]
    sticker_info_list: tuple[dict[str, str], ...] | None
    effect_info_list: tuple[dict[str, str], ...] | None
    video_mention_list: tuple[str, ...] | None
    video_label: dict[str, str] | None
    video_tag: dict[str, str] | None
    create_date: int
    desc_lower: str
    tags_lower: frozenset[str]
    length: str
    hidden: bool


class Account:
    __slots__ = ("username", "region", "display_name", "bio_description", "avatar_url",
                 "is_verified", "follower_count", "following_count", "likes_count",
                 "video_count", "bio_url")

    username: str
    region: str
    display_name: str
    bio_description: str
    avatar_url: str
    is_verified: bool
    follower_count: int
    following_count: int
    likes_count: int
    video_count: int
    bio_url: str | None


def _pick(rng: random.Random, items, cum):
    return items[bisect_left(cum, rng.random() * cum[-1])]


def _zipf_cum(n: int, s: float, q: float) -> list[float]:
    return list(accumulate(1.0 / (r + q) ** s for r in range(n)))


def _stochastic_round(rng: random.Random, x: float) -> int:
    base = math.floor(x)
    return base + (rng.random() < x - base)


def _day_weights(rng: random.Random) -> list[float]:
    """Weekly wave (weekends busier), seasonal wave, and a few multi-day bursts."""
    weekday = (0.9, 0.95, 1.0, 1.0, 1.05, 1.2, 1.25)
    w = [weekday[(FIRST_DAY + dt.timedelta(d)).weekday()]
         * (1 + 0.3 * math.cos(2 * math.pi * d / 365.25)) for d in range(N_DAYS)]
    for _ in range(8):
        start, length, factor = rng.randrange(N_DAYS), rng.randint(2, 6), rng.uniform(3, 6)
        for d in range(start, min(N_DAYS, start + length)):
            w[d] *= factor
    return w


class Corpus:
    """The simulator's data and its ground truth (see the module docstring)."""

    def __init__(self, seed: int = 7, videos: int = 60000, accounts: int = 2000) -> None:
        self.seed = seed
        rng = random.Random(seed)
        self._make_tables(rng)
        self._make_accounts(rng, accounts)
        self._make_videos(rng, videos)
        self._finish_accounts(rng)
        self.by_username = {a.username: a for a in self.accounts}
        self._group_playlists()

    # -- tables shared by many videos (shared objects keep memory small) ------------
    def _make_tables(self, rng: random.Random) -> None:
        names = set(TOPIC_TAGS) | set(COMMON_TAGS)
        generic = list(COMMON_TAGS)
        while len(generic) < 500:
            name = "".join(rng.choices(SYLLABLES, k=rng.randint(2, 4))) + rng.choice(("", "", "tok", "be"))
            if name not in names and "klimaat" not in name:
                names.add(name)
                generic.append(name)
        self.hashtags = generic
        self.hashtag_cum = _zipf_cum(len(generic), 1.05, 2.0)
        self.hashtag_info = {
            name: {"hashtag_id": 1_600_000_000_000_000_000 + rng.getrandbits(52),
                   "hashtag_name": name, "hashtag_description": ""}
            for name in list(generic) + list(TOPIC_TAGS)}
        self.music_ids = [7_000_000_000_000_000_000 + rng.getrandbits(60) % 10**18
                          for _ in range(3000)]
        self.music_cum = _zipf_cum(3000, 1.0, 3.0)
        self.effects = [(str(rng.getrandbits(40)), "effect " + rng.choice(VOCAB)) for _ in range(200)]
        self.effect_info = {eid: {"effect_id": eid, "effect_name": nm} for eid, nm in self.effects}
        self.stickers = [({"sticker_id": str(rng.getrandbits(40)), "sticker_name": rng.choice(VOCAB)},)
                         for _ in range(100)]
        self.region_cum = list(accumulate(REGION_WEIGHTS))
        self.length_cum = list(accumulate(w for *_, w in LENGTHS))

    def _make_accounts(self, rng: random.Random, n: int) -> None:
        accounts, seen = [], set()
        ascii_words = [w for w in VOCAB if w.isascii()]  # TikTok usernames are ASCII
        for name, display in FEATURED_ACCOUNTS:
            accounts.append(self._account(rng, name, "BE", display))
            seen.add(name)
        for i in range(n - len(accounts)):
            # Every region gets a few accounts first, then regions by weight.
            region = REGIONS[i % len(REGIONS)] if i < 3 * len(REGIONS) else _pick(rng, REGIONS, self.region_cum)
            while True:
                name = (rng.choice(ascii_words) + rng.choice(("", "_", ".")) + rng.choice(ascii_words)
                        + str(rng.randrange(1000)))
                if name not in seen:
                    break
            seen.add(name)
            accounts.append(self._account(rng, name, region, name.replace("_", " ").title()))
        self.accounts = accounts
        # Zipf activity inside each region; featured accounts have their own schedule.
        self.region_accounts: dict[str, list[str]] = {r: [] for r in REGIONS}
        for a in accounts[len(FEATURED_ACCOUNTS):]:
            self.region_accounts[a.region].append(a.username)
        self.region_account_cum = {r: _zipf_cum(len(v), 0.9, 4.0) for r, v in self.region_accounts.items()}

    @staticmethod
    def _account(rng: random.Random, name: str, region: str, display: str) -> Account:
        a = Account()
        a.username, a.region, a.display_name = name, region, display
        a.bio_description = " ".join(rng.choices(VOCAB, k=rng.randint(0, 12)))
        a.avatar_url = f"https://p16-sign.tiktokcdn-eu.com/tos-avt/{rng.getrandbits(64):016x}~c5_168x168.jpeg"
        a.is_verified = rng.random() < 0.03
        a.follower_count = int(rng.lognormvariate(6, 2))
        a.following_count = int(rng.lognormvariate(5, 1.2))
        a.likes_count = int(a.follower_count * rng.uniform(1, 30))
        a.bio_url = f"https://example.org/{name}" if rng.random() < 0.3 else None
        a.video_count = 0
        return a

    def _finish_accounts(self, rng: random.Random) -> None:
        for a in self.accounts:
            a.video_count += rng.randrange(50)  # older uploads outside the corpus period
        for acc in self.accounts[:len(FEATURED_ACCOUNTS)]:
            acc.is_verified, acc.follower_count = True, 250_000 + rng.randrange(100_000)

    # -- videos ----------------------------------------------------------------------
    def _make_videos(self, rng: random.Random, n_videos: int) -> None:
        scale = n_videos / 60000
        featured_days = [[_stochastic_round(rng, rng.choice((2, 3, 3, 4)) * scale)
                          for _ in FEATURED_ACCOUNTS] for _ in range(N_DAYS)]
        generic = max(0, n_videos - sum(map(sum, featured_days)))
        weights = _day_weights(rng)
        total_w = sum(weights)
        account_by_name = {a.username: a for a in self.accounts}
        videos: list[Video] = []
        self.day_start: list[int] = []
        for d in range(N_DAYS):
            self.day_start.append(len(videos))
            authors: list[str | None] = [name for (name, _), k in zip(FEATURED_ACCOUNTS, featured_days[d], strict=True)
                                         for _ in range(k)]
            authors += [None] * _stochastic_round(rng, generic * weights[d] / total_w)
            stamps = sorted((rng.randrange(86400), rng.getrandbits(32)) for _ in authors)
            rng.shuffle(authors)
            t0 = EPOCH0 + d * 86400
            for (sec, low), author in zip(stamps, authors, strict=True):
                v = self._video(rng, t0 + sec, low, d, author)
                account_by_name[v.username].video_count += 1
                videos.append(v)
        self.day_start.append(len(videos))
        self.videos = videos
        self.id_index = {v.id: i for i, v in enumerate(videos)}

    def _video(self, rng: random.Random, ct: int, low: int, day: int, author: str | None) -> Video:
        r = rng.random
        v = Video()
        if author is None:
            region = _pick(rng, REGIONS, self.region_cum)
            author = _pick(rng, self.region_accounts[region], self.region_account_cum[region])
        else:
            region = "BE"
        v.id, v.create_time, v.username, v.region_code = (ct << 32) | low, ct, author, region
        v.create_date = DAY_INTS[day]
        topic = r() < TOPIC_SHARE.get(region, 0.04)
        tags = set(rng.choices(self.hashtags, cum_weights=self.hashtag_cum, k=rng.choice((0, 1, 1, 2, 2, 3, 4))))
        words = rng.choices(VOCAB, k=rng.randint(3, 14))
        if topic:
            if r() < 0.5:
                tags.add("klimaatzaak")
            if r() < 0.3:
                tags.add(rng.choice(TOPIC_TAGS))
            if r() < 0.85 or "klimaatzaak" not in tags:
                words.insert(rng.randrange(len(words) + 1), rng.choice(TOPIC_WORDS))
        if r() < 0.03:
            words.append(rng.choice(NON_LATIN))
        if r() < 0.005:
            words.insert(rng.randrange(len(words) + 1), "\u0000")
        tag_list = tuple(sorted(tags))
        desc = " ".join(words) + "".join(" #" + t for t in tag_list)
        v.video_description, v.desc_lower = desc, desc.lower()
        v.hashtag_names, v.tags_lower = tag_list, frozenset(t.lower() for t in tag_list)
        v.hashtag_info_list = tuple(self.hashtag_info[t] for t in tag_list)
        views = int(rng.lognormvariate(7, 2.2))
        v.view_count, v.like_count = views, int(views * r() * 0.15)
        v.comment_count, v.share_count = int(views * r() * 0.01), int(views * r() * 0.005)
        v.favorites_count = int(views * r() * 0.02)
        v.music_id = None if r() < 0.08 else _pick(rng, self.music_ids, self.music_cum)
        if r() < 0.4:
            eff = rng.sample(self.effects, rng.randint(0, 2))
            v.effect_ids = tuple(e for e, _ in eff)
            v.effect_info_list = tuple(self.effect_info[e] for e in v.effect_ids)
        else:
            v.effect_ids = v.effect_info_list = None
        v.playlist_id = 7_100_000_000_000_000_000 + rng.getrandbits(40) if r() < 0.1 else None
        v.voice_to_text = " ".join(w for w in words if w != "\u0000") if r() < 0.5 else None
        v.is_stem_verified = r() < 0.02
        lo, hi, v.length, _ = _pick(rng, LENGTHS, self.length_cum)
        v.video_duration = rng.randint(max(lo, 1), hi)
        v.sticker_info_list = rng.choice(self.stickers) if r() < 0.15 else None
        v.video_mention_list = (author,) if r() < 0.05 else None
        v.video_label = rng.choice(LABELS) if r() < 0.05 else None
        v.video_tag = rng.choice(TAGS) if r() < 0.05 else None
        v.hidden = r() < 0.03
        return v

    def _group_playlists(self) -> None:
        """Gather the videos that carry a playlist id into their authors' playlists.

        ``_video`` still makes its draw for the id, so every later draw stays where it was;
        the ids are replaced here, from a generator of their own: a playlist is a run of one
        author's videos in posting order, one playlist per 80 of them (at most 6).  Only
        ``playlist_id`` changes, so the documented counts stay true."""
        rng = random.Random(f"playlists:{self.seed}")
        by_author: dict[str, list[int]] = {}
        for i, v in enumerate(self.videos):
            if v.playlist_id is not None:
                by_author.setdefault(v.username, []).append(i)
        self.playlists: dict[int, list[int]] = {}  # playlist id -> video indices, playlist order
        for members in by_author.values():
            parts = min(6, 1 + len(members) // 80)
            cuts = [0, *sorted(rng.sample(range(1, len(members)), parts - 1)), len(members)]
            for lo, hi in zip(cuts, cuts[1:], strict=False):
                playlist_id = 7_100_000_000_000_000_000 + rng.getrandbits(40)
                while playlist_id in self.playlists:
                    playlist_id += 1
                self.playlists[playlist_id] = members[lo:hi]
                for i in members[lo:hi]:
                    self.videos[i].playlist_id = playlist_id

    # -- ground truth ------------------------------------------------------------------
    def window(self, start: dt.date, end: dt.date) -> range:
        """Indices (ascending id) of the videos created on start..end inclusive."""
        s = min(max((start - FIRST_DAY).days, 0), N_DAYS)
        e = min(max((end - FIRST_DAY).days + 1, 0), N_DAYS)
        return range(self.day_start[s], self.day_start[max(s, e)])

    def match_indices(self, predicate, start: dt.date, end: dt.date) -> list[int]:
        """Indices of matching videos, newest first, hidden ones included (they take slots)."""
        videos = self.videos
        return [i for i in reversed(self.window(start, end)) if predicate(videos[i])]

    def matching_ids(self, query: Any, start_date: Any, end_date: Any) -> list[int]:
        """Exactly the ids a complete search returns over all pages (no 30-day limit here).
        The arguments are checked as TikTok would (QueryError)."""
        from simulator.query import compile_query, parse_date

        predicate = compile_query(query)
        idx = self.match_indices(predicate, parse_date(start_date, "start_date"),
                                 parse_date(end_date, "end_date"))
        return [self.videos[i].id for i in idx if not self.videos[i].hidden]

    def user_status(self, username: str) -> str:
        """"ok" | "unknown" | "private" | "restricted", stable for a seed."""
        if username not in self.by_username:
            return "unknown"
        if username in dict(FEATURED_ACCOUNTS):
            return "ok"
        bucket = zlib.crc32(f"{self.seed}:{username}".encode()) % 1000
        return "private" if bucket < 30 else "restricted" if bucket < 40 else "ok"


@functools.lru_cache(maxsize=4)
def get_corpus(seed: int = 7, videos: int = 60000) -> Corpus:
    """Build once per process: servers in one test session share the same corpus."""
    return Corpus(seed=seed, videos=videos)
