"""Playlist info on the journey (workers/journey.py): one page of a playlist's video ids per
unit; a playlist's pages form a chain, asked for once per harvest, for every playlist a
harvested video belongs to (workers/pages.py).

The playlist's record is written once, when its last page is in: one ItemList of all its
videos in order, built from the raw pages the chain stored (read again from storage, so it
is the same whichever delivery writes it). A playlist TikTok no longer knows (400) is an
answer recorded as `unknown`, not an error.
"""

import datetime as dt

from core import messages
from schemas.api import Playlist, PlaylistBody
from schemas.messages import PlaylistTask
from workers import journey
from workers.calls import paid_call
from workers.context import WorkerContext
from workers.journey import Endpoint, Work
from workers.playlist_records import playlist_record
from workers.records import encode_records, id_string
from workers.storage import Storage
from workers.tiktok.client import decode_playlist
from workers.tiktok.errors import PermanentError, TransientError

PAGE_SIZE = 100

Answer = tuple[str, Playlist | None]  # (outcome, playlist page): outcome ok or unknown


class Playlists(Endpoint[PlaylistTask, Answer]):
    name = "playlist_info"

    def raw_name(self, task: PlaylistTask) -> str:
        return Storage.playlist_page_name(task.playlist_id, task.page)

    def fetch(self, ctx: WorkerContext, work: Work, task: PlaylistTask) -> tuple[tuple[Answer, bytes], str]:
        def call(token: str, max_count: int) -> tuple[Answer, bytes]:
            body = PlaylistBody(playlist_id=int(task.playlist_id), max_count=max_count, cursor=task.cursor or None)
            try:
                page, raw = ctx.client.playlist(token, body)
            except PermanentError as error:
                if error.status != 400:
                    raise
                return ("unknown", None), error.body  # deleted since the video named it
            return ("ok", page), raw

        return paid_call(ctx, work, PAGE_SIZE, call, endpoint=self.name)

    def decode(self, raw: bytes) -> Answer:
        try:
            return "ok", decode_playlist(raw)
        except TransientError:  # the stored 400 of a playlist TikTok did not know
            return "unknown", None

    def records_used(self, answer: Answer) -> int:
        return len(answer[1].playlist_video_ids) if answer[1] is not None else 0

    def store(self, ctx: WorkerContext, work: Work, task: PlaylistTask, answer: Answer,
              downloaded_at: dt.datetime) -> int:
        if answer[1] is None or next_page(task, answer) is not None:
            return 0  # written once, with the last page
        ids: list[str] = []
        for page in range(task.page + 1):
            raw = ctx.storage.read_raw(work.plan, Storage.playlist_page_name(task.playlist_id, page))
            if raw is None:
                raise RuntimeError(f"playlist {task.playlist_id}: page {page} is not stored")
            for video_id in decode_playlist(raw).playlist_video_ids:
                value = id_string(video_id)
                if value is not None and value not in ids:
                    ids.append(value)
        record = playlist_record(task.playlist_id, answer[1], ids, work.plan)
        ctx.storage.write_records(work.plan, Storage.playlist_name(task.playlist_id), encode_records([record]),
                                  fence=work.fence)
        return 1

    def follow_up(self, ctx: WorkerContext, work: Work, task: PlaylistTask, answer: Answer) -> None:
        following = next_page(task, answer)
        if following is not None:
            messages.send(ctx.broker, following)

    def complete(self, ctx: WorkerContext, work: Work, task: PlaylistTask, answer: Answer, records: int) -> bool:
        if answer[0] != "ok":
            ctx.store.list_outcome(work.plan.id, self.name, task.playlist_id, answer[0])
        return ctx.store.chain_page_done(work.delivery, self.name, task.playlist_id, records,
                                         chain_ended=next_page(task, answer) is None)


PLAYLISTS = Playlists()


def handle_playlist(ctx: WorkerContext, task: PlaylistTask, token: str, retries: int, *, predecessor: str = "") -> None:
    journey.run(ctx, PLAYLISTS, task, task.unit, task.harvest_id, token, retries, predecessor)


def next_page(task: PlaylistTask, answer: Answer) -> PlaylistTask | None:
    page = answer[1]
    if page is None or not page.has_more or page.cursor is None or page.cursor <= task.cursor:
        return None
    return PlaylistTask(harvest_id=task.harvest_id, playlist_id=task.playlist_id, page=task.page + 1,
                        cursor=page.cursor)
