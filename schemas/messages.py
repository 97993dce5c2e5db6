"""Queue messages. Each carries names and positions only: never a secret, never a query body
(workers read the harvest plan from Redis)."""

import msgspec

from schemas.usernames import normalise


class PageTask(msgspec.Struct, frozen=True):
    """Fetch one page of one window's video search."""

    harvest_id: str
    window: str  # window id, e.g. "20241202-20241231" (".r1" suffix after a restart)
    page: int  # 0 for the window's first page
    cursor: int = 0
    search_id: str | None = None

    @property
    def unit(self) -> str:
        """The logical page: what leases, done-marks and file names are keyed on."""
        return f"page:{self.window}:{self.page:05d}"


class UserTask(msgspec.Struct, frozen=True):
    """Fetch one author's profile."""

    harvest_id: str
    username: str  # normalised when sent (workers/pages.py); normalised again for the key

    @property
    def unit(self) -> str:
        # The normalised name: two spellings of one account are one unit, one lease, one call.
        return f"user:{normalise(self.username)}"


class SubmitHarvest(msgspec.Struct, frozen=True):
    """Intake for other iCANDID services: a spec document sent as a message."""

    spec: dict
