"""Queue messages. Each carries names and positions only: never a secret, never a query body
(workers read the harvest plan from Redis)."""

from typing import Annotated, Literal

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


class CommentTask(msgspec.Struct, frozen=True):
    """Fetch one page of one video's comments (replies included)."""

    harvest_id: str
    video_id: str  # as a string: ids are above 2^53
    page: int = 0
    cursor: int = 0  # TikTok's cursor: the number of comments served before this page
    comment_count: int = 0  # what the video's page said (up to ten days old): to tell a cut

    @property
    def unit(self) -> str:
        return f"comments:{self.video_id}:{self.page:05d}"


class FollowTask(msgspec.Struct, frozen=True):
    """Fetch one page of an account's followers, or of the accounts it follows."""

    harvest_id: str
    username: str  # normalised when sent; normalised again for the key
    direction: Literal["followers", "following"]
    page: int = 0
    cursor: int | None = None  # a Unix time (seconds): the list goes on from the follows before it
    listed: int = 0  # entries served by the pages before this one (for the spec's limit)

    @property
    def unit(self) -> str:
        return f"{self.direction}:{normalise(self.username)}:{self.page:05d}"


class AccountVideosTask(msgspec.Struct, frozen=True):
    """Fetch one page of the videos an account liked, pinned or reposted."""

    harvest_id: str
    username: str
    which: Literal["liked", "pinned", "reposted"]
    page: int = 0
    cursor: int | None = None  # liked: a time in ms going back; reposted: an index

    @property
    def unit(self) -> str:
        return f"{self.which}:{normalise(self.username)}:{self.page:05d}"


class PlaylistTask(msgspec.Struct, frozen=True):
    """Fetch one page of a playlist that a harvested video belongs to."""

    harvest_id: str
    playlist_id: str  # digits, as a string: ids are above 2^53
    page: int = 0
    cursor: int = 0

    @property
    def unit(self) -> str:
        return f"playlist:{self.playlist_id}:{self.page:05d}"


class RefreshTask(msgspec.Struct, frozen=True):
    """Ask TikTok which videos of one batch of a compliance refresh it still serves: one page
    of a `video_id IN [...]` video query. The batch's ids and dates are kept in Redis while the
    refresh runs (core/refreshes.py), so the message names its position only."""

    harvest_id: str
    refresh_id: str  # the refresh it belongs to, e.g. "20250314T101500Z" (when it was started, UTC)
    batch: int  # 0 for the newest videos
    page: int = 0
    cursor: int = 0
    search_id: str | None = None

    @property
    def unit(self) -> str:
        return f"refresh:{self.refresh_id}:{self.batch:05d}:{self.page:05d}"


class NewDaysTask(msgspec.Struct, frozen=True):
    """Add to an ongoing harvest the days from `day` on that TikTok has archived (a window
    of up to 31 of them; one, once the harvest has caught up), then send the task for the
    day after them. It waits, delayed in the queue, until its day is archived."""

    harvest_id: str
    day: str  # yyyymmdd

    @property
    def unit(self) -> str:
        return f"days:{self.day}"


# --- intake: what other iCANDID services publish on the `intake` queue (ops/intake/) -----------
# Each request may name a `request_id` (letters, digits, `.`, `_`, `:`, `-`; at most 128): its
# answer (IntakeReply) is written under it. Without one, the answer is written under the
# Dramatiq message id the publisher gave the message.
REQUEST_ID_PATTERN = r"^[A-Za-z0-9._:-]{0,128}$"  # it becomes part of a Redis key
RequestId = Annotated[str, msgspec.Meta(pattern=REQUEST_ID_PATTERN)]


class SubmitHarvest(msgspec.Struct, frozen=True):
    """Submit a harvest spec (the same document the CLI reads: README, "A harvest spec")."""

    spec: dict
    request_id: RequestId = ""


class HarvestRequest(msgspec.Struct, frozen=True):
    """A request about one harvest (the three below)."""

    harvest_id: str
    request_id: RequestId = ""


class PauseHarvest(HarvestRequest, frozen=True):
    """Pause a harvest; nothing is sent for it until it is resumed."""


class ResumeHarvest(HarvestRequest, frozen=True):
    """Resume a paused harvest where it stopped."""


class CancelHarvest(HarvestRequest, frozen=True):
    """Cancel a harvest for good; what was stored stays."""


IntakeRequest = Literal["submit", "pause", "resume", "cancel"]


class IntakeReply(msgspec.Struct, frozen=True, omit_defaults=True):
    """The answer to one intake request, readable by its publisher for a week
    (`<namespace>:intake:reply:<request id>`, a JSON string)."""

    request_id: str
    request: IntakeRequest
    outcome: Literal["accepted", "refused"]
    answered_at: float  # Unix time
    harvest_id: str | None = None  # the harvest it was about, when known
    state: str | None = None  # accepted: the harvest's state right after (queued, paused, ...)
    created: bool | None = None  # accepted submit: False when the same spec was submitted before
    field: str | None = None  # refused spec: the field at fault
    reason: str | None = None  # refused: why, in words
