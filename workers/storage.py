"""iCANDID storage: raw API bodies under source_records/, JSON-LD records under records/.

Files are named after the logical unit (harvest, window, page number / username), so a unit
processed twice writes the same path; each file is written to a temporary name that does not
end in `.json` and renamed, so iCANDID's loader only ever sees complete files.
"""

import os
import time
import uuid
from collections.abc import Callable
from pathlib import Path

from schemas import usernames
from schemas.spec import HarvestPlan

PROVIDER = "TikTok"
Fence = Callable[[], None]
TEMPORARY_SUFFIX = ".tmp"
# Linux's limit on one file name, in bytes. Our names are ASCII, so bytes are characters.
NAME_MAX = 255
# What a temporary name adds to the final one: `.<name>.<32 hex>.tmp`.
TEMPORARY_EXTRA = len(f"..{uuid.UUID(int=0).hex}{TEMPORARY_SUFFIX}")
USER_PREFIX, USER_SUFFIX = "tiktok_user_", ".json"
# Room for the username in a user file name, so that its temporary name fits too.
USER_STEM_MAX = NAME_MAX - TEMPORARY_EXTRA - len(USER_PREFIX) - len(USER_SUFFIX)


class Storage:
    def __init__(self, root: Path, *, fsync: bool = True):
        self.root = Path(root)
        self._fsync = fsync

    # --- paths ---------------------------------------------------------------------------
    def source_dir(self, plan: HarvestPlan) -> Path:
        return self.root / "source_records" / PROVIDER / plan.id / plan.storage_date

    def records_dir(self, plan: HarvestPlan) -> Path:
        return self.harvest_records(plan) / "new" / plan.storage_date

    def harvest_records(self, plan: HarvestPlan) -> Path:
        """Everything of the harvest under records/: `new/<date>/` and `removed/<date>/`."""
        return self.root / "records" / PROVIDER / plan.id

    def removed_dir(self, plan: HarvestPlan, day: str) -> Path:
        """The removal log of the records a compliance refresh took out on `day` (yyyymmdd)."""
        return self.harvest_records(plan) / "removed" / day

    # Globs for the names below.
    PAGE_FILES = "tiktok_videos_*.json"
    COMMENT_FILES = "tiktok_comments_*.json"
    FOLLOW_FILES = "tiktok_follow*_*.json"  # followers and following
    ACCOUNT_VIDEO_FILES = ("tiktok_liked_*.json", "tiktok_pinned_*.json", "tiktok_reposted_*.json")
    PLAYLIST_FILES = "tiktok_playlist_*.json"  # records only: the raw pages are in source_records/
    USER_FILES = f"{USER_PREFIX}*{USER_SUFFIX}"

    @staticmethod
    def page_name(window: str, page: int) -> str:
        return f"tiktok_videos_{window}_p{page:05d}.json"

    @staticmethod
    def comments_name(video_id: str, page: int) -> str:
        # Video ids are digits (checked where the task is made: workers/pages.py).
        return f"tiktok_comments_{video_id}_p{page:05d}.json"

    @staticmethod
    def user_name(username: str) -> str:
        """One file per account: the normalised name, escaped (workers/usernames.py), so two
        accounts never share a file and no name can leave its folder, hold NUL or start with
        a dot; a name too long for a file name is shortened and given a digest of itself."""
        stem = usernames.escape_within(usernames.normalise(username), USER_STEM_MAX)
        return f"{USER_PREFIX}{stem}{USER_SUFFIX}"

    @staticmethod
    def follows_name(direction: str, username: str, page: int) -> str:
        """A page of an account's followers or followed accounts: named like its user file."""
        stem = usernames.escape_within(usernames.normalise(username), USER_STEM_MAX)
        return f"tiktok_{direction}_{stem}_p{page:05d}.json"

    @staticmethod
    def account_videos_name(which: str, username: str, page: int) -> str:
        """A page of an account's liked, pinned or reposted videos: named like its user file."""
        stem = usernames.escape_within(usernames.normalise(username), USER_STEM_MAX)
        return f"tiktok_{which}_{stem}_p{page:05d}.json"

    @staticmethod
    def playlist_page_name(playlist_id: str, page: int) -> str:
        # Playlist ids are digits (checked where the task is made: workers/pages.py).
        return f"tiktok_playlist_{playlist_id}_p{page:05d}.json"

    @staticmethod
    def playlist_name(playlist_id: str) -> str:
        """The playlist's record, written once, with its last page."""
        return f"tiktok_playlist_{playlist_id}.json"

    @staticmethod
    def refresh_page_name(refresh_id: str, batch: int, page: int) -> str:
        """A page of the answer to one batch of a compliance refresh (raw only)."""
        return f"tiktok_refresh_{refresh_id}_b{batch:05d}_p{page:05d}.json"

    @staticmethod
    def temporary_name(name: str) -> str:
        """Where `name` is written before it is renamed: hidden, and not ending in `.json`."""
        return f".{name}.{uuid.uuid4().hex}{TEMPORARY_SUFFIX}"

    # --- raw bodies ----------------------------------------------------------------------
    def write_raw(self, plan: HarvestPlan, name: str, body: bytes, *, fence: Fence | None = None,
                  downloaded_at: float | None = None) -> Path:
        """`downloaded_at`: when the body was downloaded, if not now (an answer reused from
        another harvest): the file's modification time says it, as for any raw answer."""
        return self._write_atomic(self.source_dir(plan) / name, body, fence, downloaded_at)

    def read_raw(self, plan: HarvestPlan, name: str) -> bytes | None:
        try:
            return (self.source_dir(plan) / name).read_bytes()
        except FileNotFoundError:
            return None

    # --- records -------------------------------------------------------------------------
    def write_records(self, plan: HarvestPlan, name: str, body: bytes, *, fence: Fence | None = None) -> Path:
        return self._write_atomic(self.records_dir(plan) / name, body, fence)

    def write_file(self, path: Path, body: bytes) -> Path:
        """Any file of iCANDID storage (a records file rewritten, a removal log), atomically."""
        return self._write_atomic(path, body)

    def remove_temporary(self, plan: HarvestPlan, *more: Path, older_than_s: float = 0.0) -> int:
        """Delete what writes cut short by a kill left behind (in the harvest's folders and in
        `more`), last written at least `older_than_s` ago; returns how many files."""
        removed = 0
        before = time.time() - older_than_s
        for folder in (self.source_dir(plan), self.records_dir(plan), *more):
            for leftover in folder.glob(f".*{TEMPORARY_SUFFIX}"):
                try:
                    if older_than_s and leftover.stat().st_mtime > before:
                        continue
                except FileNotFoundError:
                    continue
                leftover.unlink(missing_ok=True)
                removed += 1
        return removed

    def _write_atomic(self, path: Path, body: bytes, fence: Fence | None = None,
                      mtime: float | None = None) -> Path:
        """`fence` is called between writing the temporary file and renaming it into place:
        raising there (a delivery that lost its hold on the unit) leaves the file as it was.
        Checked last, so a stall in the slow part (writing, fsync) cannot slip past it."""
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_name(self.temporary_name(path.name))
        try:
            with open(temporary, "wb") as handle:
                handle.write(body)
                if self._fsync:
                    handle.flush()
                    os.fsync(handle.fileno())
            if mtime is not None:
                os.utime(temporary, (mtime, mtime))
            if fence is not None:
                fence()
            os.replace(temporary, path)
        except BaseException:
            temporary.unlink(missing_ok=True)
            raise
        return path
