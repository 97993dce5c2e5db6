"""Taking the records of videos TikTok no longer serves out of records/ into a dated removal
log beside them, so that iCANDID's next load drops them (README, "Compliance refresh").

What goes: the video's record, the acts on it (likes, pins and reposts in the accounts'
lists) and its comments (a comment file holds one video's comments: it goes whole). Each
records file that held any of them gets a removal log file of its own,
`records/TikTok/<harvest>/removed/<day>/tiktok_removed_<refresh>_<file name>` (a
schemas.refresh.RemovalLog holding the records byte for byte); the file is then rewritten
without them, or deleted when nothing is left in it.

Safe to repeat after a crash at any line, and to run twice at once (two deliveries finishing
one refresh): per file, read it, write its log unless one is there, then rewrite the file. A
log is written whole before its file changes, so a log that exists is complete; a file
already rewritten holds none of the gone records, so it is left alone; two runs that read the
same file write the same bytes. The set of gone videos is fixed before (workers/refresh.py).
"""

import datetime as dt
import hashlib
import re
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import msgspec

from schemas.refresh import RemovalLog, RemovedKind, RemovedRecord
from schemas.spec import HarvestPlan
from workers.exports import record_files
from workers.records import ID_PREFIX, iso_utc
from workers.storage import NAME_MAX, TEMPORARY_EXTRA, Storage

REASON = ("TikTok's Research API no longer returns this video (deleted, or no longer public), and researchers "
          "may not keep what TikTok no longer shows: drop these records (the video, its comments, and the "
          "likes, pins and reposts of it).")
ACT_TYPES = ("LikeAction", "ChooseAction", "ShareAction")
VIDEO_TYPE = "Message"
COMMENT_FILE = re.compile(r"tiktok_comments_(\d+)_p\d+\.json")
LOG_PREFIX = "tiktok_removed_"


class _Ref(msgspec.Struct):
    id: str = msgspec.field(name="@id", default="")


class _Head(msgspec.Struct):
    id: str = msgspec.field(name="@id", default="")
    type: str = msgspec.field(name="@type", default="")
    object: _Ref | None = None


class _Kind(msgspec.Struct):
    kind: str


class _Counted(msgspec.Struct):
    removed: list[_Kind]


_decode_file = msgspec.json.Decoder(list[msgspec.Raw]).decode
_decode_head = msgspec.json.Decoder(_Head).decode
_decode_counted = msgspec.json.Decoder(_Counted).decode
_encode = msgspec.json.encode

# What a record is to the gone videos: (kind, video id), or None when it stays.
Verdict = Callable[[_Head], tuple[RemovedKind, str] | None]


def removal_day(decided_at: float) -> str:
    """The day (UTC, yyyymmdd) that names the folder of the removal log."""
    return dt.datetime.fromtimestamp(decided_at, dt.UTC).strftime("%Y%m%d")


def log_name(refresh_id: str, source_name: str) -> str:
    """The log file of what was taken out of `source_name`; a digest of that name instead when
    it would be too long for a file name (the log says where its records were anyway)."""
    name = f"{LOG_PREFIX}{refresh_id}_{source_name}"
    if len(name) + TEMPORARY_EXTRA > NAME_MAX:
        name = f"{LOG_PREFIX}{refresh_id}_{hashlib.sha256(source_name.encode()).hexdigest()[:40]}.json"
    return name


def move_gone(storage: Storage, plan: HarvestPlan, gone: set[str], *, refresh_id: str, decided_at: float) -> None:
    """Move the records of the `gone` videos (ids) and everything that belongs to them."""
    if not gone:
        return
    by_record_id = {f"{ID_PREFIX}{video_id}": video_id for video_id in gone}

    def of_video(head: _Head) -> tuple[RemovedKind, str] | None:
        if head.type == VIDEO_TYPE and head.id in by_record_id:
            return "video", by_record_id[head.id]
        if head.type in ACT_TYPES and head.object is not None and head.object.id in by_record_id:
            return "act", by_record_id[head.object.id]
        return None

    folder = storage.records_dir(plan)
    log_dir = storage.removed_dir(plan, removal_day(decided_at))
    decided = iso_utc(dt.datetime.fromtimestamp(decided_at, dt.UTC))
    for path in record_files(folder, "videos"):
        _move_from(storage, plan, path, of_video, log_dir / log_name(refresh_id, path.name), refresh_id, decided)
    for path in sorted(folder.glob(Storage.COMMENT_FILES)):
        matched = COMMENT_FILE.fullmatch(path.name)
        if matched is None or matched.group(1) not in gone:
            continue
        _move_from(storage, plan, path, _whole(matched.group(1)), log_dir / log_name(refresh_id, path.name),
                   refresh_id, decided)


def _whole(video_id: str) -> Verdict:
    """Every record of a file of the video's comments goes."""
    def verdict(head: _Head) -> tuple[RemovedKind, str] | None:
        return "comment", video_id
    return verdict


def _move_from(storage: Storage, plan: HarvestPlan, path: Path, verdict: Verdict, log_path: Path,
               refresh_id: str, decided: str) -> None:
    try:
        body = path.read_bytes()
    except FileNotFoundError:
        return  # a file that went whole, on an earlier attempt
    kept: list[msgspec.Raw] = []
    removed: list[RemovedRecord] = []
    for raw in _decode_file(body):
        head = _decode_head(raw)
        found = verdict(head)
        if found is None:
            kept.append(raw)
        else:
            removed.append(RemovedRecord(id=head.id, kind=found[0], video_id=found[1], record=raw))
    if not removed:
        return
    if not log_path.exists():
        source = path.relative_to(storage.harvest_records(plan)).as_posix()
        log = RemovalLog(harvest=plan.id, refresh=refresh_id, decided_at=decided, reason=REASON,
                         source_file=source, removed=removed)
        storage.write_file(log_path, _encode(log))
    if kept:
        storage.write_file(path, _encode(kept))  # the kept records byte for byte, as encode_records wrote them
    else:
        path.unlink(missing_ok=True)


def count_removed(storage: Storage, plan: HarvestPlan, refresh_id: str, decided_at: float) -> Counter[str]:
    """Records in the refresh's removal log, by kind: counted from the log itself, so the
    numbers are right however many attempts the move took."""
    counted: Counter[str] = Counter()
    folder = storage.removed_dir(plan, removal_day(decided_at))
    for path in sorted(folder.glob(f"{LOG_PREFIX}{refresh_id}_*.json")):
        counted.update(item.kind for item in _decode_counted(path.read_bytes()).removed)
    return counted
