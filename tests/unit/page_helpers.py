"""Helpers shared by the page tests (test_pages*.py)."""

import json

import httpx

from schemas.messages import PageTask
from tests.unit.conftest import BIG, WINDOW

START, END = "20240101", "20240131"
P0 = f"tiktok_videos_{WINDOW}_p00000.json"
P1 = f"tiktok_videos_{WINDOW}_p00001.json"
P2 = f"tiktok_videos_{WINDOW}_p00002.json"
P3 = f"tiktok_videos_{WINDOW}_p00003.json"


def first(plan, window=WINDOW) -> PageTask:
    return PageTask(harvest_id=plan.id, window=window, page=0)


def source(ctx, plan):
    return ctx.storage.source_dir(plan)


def records(ctx, plan):
    return ctx.storage.records_dir(plan)


def record_ids(ctx, plan, name) -> list[str]:
    return [record["@id"] for record in json.loads((records(ctx, plan) / name).read_bytes())]


def vid(n: int) -> str:
    return f"iCANDID_tiktok_{BIG + n}"


def bucket(ctx, plan):
    return ctx.quota.peek(plan.credential, ctx.credentials.get(plan.credential))


def exhaust_bucket(ctx, plan):
    limits = ctx.credentials.get(plan.credential)
    while ctx.quota.take(plan.credential, limits, plan.id, "someone-else", 1).granted:
        pass


def response(status: int, content: bytes, **headers) -> httpx.Response:
    return httpx.Response(status, content=content, headers=headers)
