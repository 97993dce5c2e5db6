"""A comments harvest: what it spends against the least it could, and how fast it goes."""

import math
from dataclasses import dataclass

import httpx
import msgspec

from benchmarks.fleet_run import Bench
from producers.submission import prepare


@dataclass(frozen=True)
class CommentsResult:
    seconds: float
    videos_with_comments: int
    comments: int
    comment_requests: int
    lower_bound: int  # for each video with comments, ceil(min(comments, cap) / 100)
    worker_cpu_ms_per_page: float  # every page of the run (video pages too, a few)


def measure_comments(bench: Bench, spec: dict) -> CommentsResult:
    result = bench.run(spec, processes=2, threads=4)
    comments = result.endpoints["comment_list"]
    _, settings, _ = bench.namespace()
    plan = prepare(spec, settings)
    videos = httpx.post(f"{bench.api_url}/_sim/ground_truth", timeout=60, json={
        "query": msgspec.to_builtins(plan.query), "start_date": plan.period_start,
        "end_date": plan.period_end}).json()["ids"]
    truth = httpx.post(f"{bench.api_url}/_sim/ground_truth/comments", json={"video_ids": videos},
                       timeout=120).json()["videos"]
    reachable = [video["reachable"] for video in truth.values() if video["reachable"]]
    return CommentsResult(
        seconds=result.seconds,
        videos_with_comments=len(reachable),
        comments=comments.records,
        comment_requests=comments.requests,
        lower_bound=sum(math.ceil(n / 100) for n in reachable),
        worker_cpu_ms_per_page=1000 * result.worker_cpu_s / (result.pages + comments.pages),
    )
