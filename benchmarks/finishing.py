"""What finishing a big harvest costs: rewriting every page's video records with the
authors' profiles expanded (workers/authors.py), on files written the way workers write
them. No Redis and no simulator: the finishing step touches only the files."""

import concurrent.futures
import datetime as dt
import multiprocessing
import resource
import time
from pathlib import Path

from schemas.api import UserInfo, Video
from schemas.query import Condition, Query
from schemas.spec import HarvestPlan
from workers.authors import expand_authors
from workers.records import encode_records, user_record, video_record
from workers.storage import Storage


def build_harvest(root: Path, pages: int, authors: int) -> tuple[Storage, HarvestPlan]:
    """`pages` pages of 100 videos by `authors` accounts, and a profile for each account."""
    plan = HarvestPlan(
        id="bench_finishing", name="finishing", project="bench", credential="bench",
        query=Query(or_=[Condition(field_name="region_code", operation="IN", field_values=["BE"])]),
        period_start="20240101", period_end="20241231", storage_date="20241231", submitted_at=0.0,
        spec_digest="-", collect=["videos", "users"], windows=["20240101-20241231"],
    )
    storage = Storage(root, fsync=False)
    now = dt.datetime.now(dt.UTC)
    for page in range(pages):
        videos = [Video(id=7_000_000_000_000_000_000 + page * 100 + n, username=f"user{(page * 100 + n) % authors}",
                        video_description=f"video {n} #klimaat", create_time=1_704_200_000 + n, region_code="BE",
                        view_count=n, like_count=n, hashtag_names=["klimaat"])
                  for n in range(100)]
        records = [video_record(video, plan, now) for video in videos]
        storage.write_records(plan, Storage.page_name("20240101-20241231", page), encode_records(records))
    for n in range(authors):
        info = UserInfo(display_name=f"User {n}", bio_description="bio", avatar_url="https://x.test/a.jpg",
                        is_verified=False, follower_count=n, following_count=n, likes_count=n, video_count=n)
        record = user_record(f"user{n}", info, "ok", plan, now)
        storage.write_records(plan, Storage.user_name(f"user{n}"), encode_records([record]))
    return storage, plan


def measure_finishing(root: Path, pages: int = 1000, authors: int = 20_000) -> tuple[float, float, float]:
    """(seconds for the whole rewrite, ms per page, peak RSS in MiB), measured in a fresh
    process so the peak is the finishing's own (building the files included)."""
    context = multiprocessing.get_context("spawn")
    with concurrent.futures.ProcessPoolExecutor(max_workers=1, mp_context=context) as pool:
        return pool.submit(_measure, root, pages, authors).result()


def _measure(root: Path, pages: int, authors: int) -> tuple[float, float, float]:
    storage, plan = build_harvest(root, pages, authors)
    began = time.perf_counter()
    changed = expand_authors(storage, plan)
    seconds = time.perf_counter() - began
    assert changed == pages
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return seconds, 1000 * seconds / pages, peak_mib
