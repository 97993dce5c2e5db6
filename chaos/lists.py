"""The second harvest of a chaos run: a few days of the same accounts, collecting every
follow-up endpoint (comments, follower lists, liked / pinned / reposted videos, playlists),
and its stored records against the simulator's ground truth.

Fault-free it costs 54 requests (one search page of 17 videos, 28 comment pages, 3 playlist
pages, 22 pages of the accounts' lists), nothing beside the main harvest's ~1,400; on the
shared, busy fleet of the chaos run it still lasts through most of the fault timeline.
"""

import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import redis

from chaos.report import Outcome, compare
from core.keys import Keys
from schemas.spec import HarvestPlan
from workers import account_videos, follows
from workers.storage import Storage

# The follower lists of the featured accounts hold ~5,000 entries each (50 pages): the spec's
# limit keeps them to three pages, and tests that a chain stops there.
MAX_FOLLOWS = 300
LISTS_SPEC = {"id": "tiktok_query_chaos_lists", "name": "Klimaat op TikTok, follow-ups", "project": "chaos",
              "accounts": ["@vrtnws", "hln_be"], "regions": ["BE", "NL"], "period": "20240601-20240603",
              "collect": ["videos", "comments", "followers", "following", "liked_videos", "pinned_videos",
                          "reposted_videos", "playlists"],
              "max_follows_per_account": MAX_FOLLOWS}
# Record type of an act -> (its row, its list as `collect` and the ground truth name it).
ACTS = {"LikeAction": ("likes", "liked_videos"), "ChooseAction": ("pins", "pinned_videos"),
        "ShareAction": ("reposts", "reposted_videos")}
# A list TikTok will not show is an answer the harvest records; the truth calls hidden likes
# and reposts "hidden", TikTok's message (and so the harvest) "restricted".
OUTCOME_OF_STATUS = {"hidden": "restricted"}
ID_PREFIX = "iCANDID_tiktok_"


@dataclass
class Found:
    """What one run stored of the lists harvest, each item counted (above 1: stored twice)."""

    videos: Counter = field(default_factory=Counter)  # video id (search pages and lists alike)
    comments: Counter = field(default_factory=Counter)  # comment id
    follows: Counter = field(default_factory=Counter)  # (follower, followed)
    acts: dict[str, Counter] = field(default_factory=lambda: {row: Counter() for row, _ in ACTS.values()})
    outcomes: Counter = field(default_factory=Counter)  # ("user_liked_videos:hln_be", "restricted")
    playlists: Counter = field(default_factory=Counter)  # (playlist id, its video ids in order)


def _records(folder: Path, pattern: str) -> list[dict]:
    return [record for path in sorted(folder.glob(pattern)) for record in json.loads(path.read_bytes())]


def stored(data_dir: Path, plan: HarvestPlan, client: redis.Redis, namespace: str) -> Found:
    found = Found()
    folder = Storage(data_dir).records_dir(plan)
    # A listed video is written beside its act, in the list's file: count videos across both.
    for pattern in (Storage.PAGE_FILES, *Storage.ACCOUNT_VIDEO_FILES):
        for record in _records(folder, pattern):
            if record["@type"] == "Message":
                found.videos[record["@id"].removeprefix(ID_PREFIX)] += 1
            elif record["@type"] in ACTS:
                video = record["object"]["@id"].removeprefix(ID_PREFIX)
                found.acts[ACTS[record["@type"]][0]][(record["agent"]["alternateName"], video)] += 1
    for record in _records(folder, Storage.COMMENT_FILES):
        found.comments[record["@id"].removeprefix(f"{ID_PREFIX}comment_")] += 1
    for record in _records(folder, Storage.FOLLOW_FILES):
        found.follows[(record["agent"]["alternateName"], record["object"]["alternateName"])] += 1
    for record in _records(folder, Storage.PLAYLIST_FILES):
        items = tuple(item["item"]["@id"].removeprefix(ID_PREFIX) for item in record["itemListElement"])
        found.playlists[(record["@id"].removeprefix(f"{ID_PREFIX}playlist_"), items)] += 1
    for key, outcome in client.hgetall(Keys(namespace).list_outcomes(plan.id)).items():
        found.outcomes[(_text(key), _text(outcome))] += 1
    return found


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


@dataclass
class Truth:
    videos: set = field(default_factory=set)
    comments: set = field(default_factory=set)
    follows: set = field(default_factory=set)
    acts: dict[str, set] = field(default_factory=lambda: {row: set() for row, _ in ACTS.values()})
    outcomes: set = field(default_factory=set)
    playlists: set = field(default_factory=set)


def _ask(simulator_url: str, path: str, body: dict) -> dict:
    response = httpx.post(f"{simulator_url}/_sim/ground_truth/{path}", json=body, timeout=120)
    response.raise_for_status()
    return response.json()


def named_playlists(data_dir: Path, plan: HarvestPlan, videos: set[str]) -> set[str]:
    """Playlists the query's videos belong to. The truth has no video fields: they are read
    from the raw search pages (TikTok's answers as stored), of the true videos only."""
    named = set()
    for path in Storage(data_dir).source_dir(plan).glob(Storage.PAGE_FILES):
        for video in json.loads(path.read_bytes())["data"]["videos"]:
            if str(video["id"]) in videos and video.get("playlist_id"):
                named.add(str(video["playlist_id"]))
    return named


def ground_truth(simulator_url: str, plan: HarvestPlan, query_videos: set[str], data_dir: Path) -> Truth:
    truth = Truth(videos=set(query_videos))
    # Comments are asked for per video the search found (none for a list's videos).
    comments = _ask(simulator_url, "comments", {"video_ids": sorted(query_videos)})["videos"]
    truth.comments = {comment for video in comments.values() for comment in video["ids"]}
    for direction in ("followers", "following"):
        users = _ask(simulator_url, "follows", {"usernames": plan.accounts, "direction": direction,
                                                "max_count": follows.PAGE_SIZE})["users"]
        for account, found in users.items():
            # Full pages up to the limit: the first entries of what a complete harvest meets.
            for other in found["usernames"][:MAX_FOLLOWS]:
                truth.follows.add((other, account) if direction == "followers" else (account, other))
    for row, collected in ACTS.values():
        users = _ask(simulator_url, collected, {"usernames": plan.accounts,
                                                "max_count": account_videos.PAGE_SIZE})["users"]
        for account, found in users.items():
            if found["status"] == "ok":
                truth.acts[row] |= {(account, video) for video in found["ids"]}
                truth.videos |= set(found["ids"])
            else:
                outcome = OUTCOME_OF_STATUS.get(found["status"], found["status"])
                truth.outcomes.add((f"user_{collected}:{account}", outcome))
    named = sorted(named_playlists(data_dir, plan, query_videos))
    playlists = _ask(simulator_url, "playlists", {"playlist_ids": named})["playlists"]
    truth.playlists = {(playlist_id, tuple(playlists[playlist_id]["ids"])) for playlist_id in named}
    return truth


def outcomes(truth: Truth, chaos: Found, fault_free: Found) -> list[Outcome]:
    """A row per kind: the chaos run against the truth, with the fault-free run's gaps."""
    pairs = [("lists: videos", truth.videos, "videos"), ("comments", truth.comments, "comments"),
             ("follow relations", truth.follows, "follows")]
    rows = []
    for kind, expected, name in pairs:
        rows.append(_row(kind, expected, getattr(chaos, name), getattr(fault_free, name)))
    for row, _ in ACTS.values():
        rows.append(_row(row, truth.acts[row], chaos.acts[row], fault_free.acts[row]))
    rows.append(_row("hidden lists", truth.outcomes, chaos.outcomes, fault_free.outcomes))
    rows.append(_row("playlists", truth.playlists, chaos.playlists, fault_free.playlists))
    return rows


def _row(kind: str, expected: set, chaos: Counter, fault_free: Counter) -> Outcome:
    baseline = compare(kind, expected, fault_free)
    return compare(kind, expected, chaos, fault_free=(baseline.missing, baseline.duplicated))
