"""iCANDID storage: raw API bodies under source_records/, JSON-LD records under records/.

Files are named after the logical unit (harvest, window, page number / username), so a unit
processed twice writes the same path; each file is written to a temporary name that does not
end in `.json` and renamed, so iCANDID's loader only ever sees complete files.
"""

import os
import uuid
from pathlib import Path

from schemas.spec import HarvestPlan

PROVIDER = "TikTok"
TEMPORARY_SUFFIX = ".tmp"


class Storage:
    def __init__(self, root: Path, *, fsync: bool = True):
        self.root = Path(root)
        self._fsync = fsync

    # --- paths ---------------------------------------------------------------------------
    def source_dir(self, plan: HarvestPlan) -> Path:
        return self.root / "source_records" / PROVIDER / plan.id / plan.storage_date

    def records_dir(self, plan: HarvestPlan) -> Path:
        return self.root / "records" / PROVIDER / plan.id / "new" / plan.storage_date

    # Globs for the names below.
    PAGE_FILES = "tiktok_videos_*.json"
    USER_FILES = "tiktok_user_*.json"

    @staticmethod
    def page_name(window: str, page: int) -> str:
        return f"tiktok_videos_{window}_p{page:05d}.json"

    @staticmethod
    def user_name(username: str) -> str:
        # TikTok usernames are letters, digits, '_' and '.'; anything else is escaped so a
        # name can never leave its folder.
        safe = "".join(c if c.isascii() and (c.isalnum() or c in "_.-") else f"%{ord(c):04x}" for c in username)
        return f"tiktok_user_{safe}.json"

    # --- raw bodies ----------------------------------------------------------------------
    def write_raw(self, plan: HarvestPlan, name: str, body: bytes) -> Path:
        return self._write_atomic(self.source_dir(plan) / name, body)

    def read_raw(self, plan: HarvestPlan, name: str) -> bytes | None:
        try:
            return (self.source_dir(plan) / name).read_bytes()
        except FileNotFoundError:
            return None

    # --- records -------------------------------------------------------------------------
    def write_records(self, plan: HarvestPlan, name: str, body: bytes) -> Path:
        return self._write_atomic(self.records_dir(plan) / name, body)

    def remove_temporary(self, plan: HarvestPlan) -> int:
        """Delete what writes cut short by a kill left behind; returns how many files."""
        removed = 0
        for folder in (self.source_dir(plan), self.records_dir(plan)):
            for leftover in folder.glob(f".*{TEMPORARY_SUFFIX}"):
                leftover.unlink(missing_ok=True)
                removed += 1
        return removed

    def _write_atomic(self, path: Path, body: bytes) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_name(f".{path.name}.{uuid.uuid4().hex}{TEMPORARY_SUFFIX}")
        try:
            with open(temporary, "wb") as handle:
                handle.write(body)
                if self._fsync:
                    handle.flush()
                    os.fsync(handle.fileno())
            os.replace(temporary, path)
        except BaseException:
            temporary.unlink(missing_ok=True)
            raise
        return path
