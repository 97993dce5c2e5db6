"""Reading and validating a researcher's harvest spec, before anything touches Redis.

Every refusal names the field it is about. The order matters only for which of several
problems is reported: the input's shape first (producers/spec_input.py), then its types
(msgspec), then each field's meaning (here and in producers/query_rules.py), and the
credentials last.
"""

import datetime as dt
import hashlib
import re
import time

import msgspec

from core import windows
from producers.query_rules import build_query
from producers.refusal import SpecRefused
from producers.spec_input import check_plain_data, read_spec_file
from schemas.credentials import Credential
from schemas.spec import REFRESH_EVERY_DAYS, HarvestPlan, HarvestSpec
from schemas.usernames import normalise

__all__ = ["EARLIEST_DAY", "SpecRefused", "choose_credential", "parse_period", "read_spec_file", "validate"]

ID_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,99}")
PERIOD_PATTERN = re.compile(r"([0-9]{8})-([0-9]{8}|ongoing)")
# The platform TikTok grew from, Douyin, launched in September 2016; TikTok followed abroad
# in 2017 and took in musical.ly's accounts in 2018. A period starting earlier is a slip:
# taken literally, 1900 plans some 1,500 windows that each cost quota, and year 1
# overflows Python's dates. (Should videos carried over from musical.ly turn up with
# earlier dates, this is the one day to move back.)
EARLIEST_DAY = dt.date(2016, 9, 1)


def parse_spec(data) -> HarvestSpec:
    check_plain_data(data)
    try:
        return msgspec.convert(data, HarvestSpec)
    except msgspec.ValidationError as error:
        raise SpecRefused(_field_of(str(error)), str(error)) from None


def _field_of(message: str) -> str:
    path = re.search(r"at `\$\.([A-Za-z_]+)", message)
    unknown = re.search(r"unknown field `([^`]+)`", message)
    missing = re.search(r"missing required field `([^`]+)`", message)
    found = path or unknown or missing
    return found.group(1) if found else "spec"


def parse_period(period: str, today: dt.date) -> tuple[dt.date, dt.date | None]:
    """The period's first and last day (None: ongoing): real days, in order, from EARLIEST_DAY,
    starting no later than today (a period may reach past today; TikTok has nothing for it yet)."""
    match = PERIOD_PATTERN.fullmatch(period.strip())
    if not match:
        raise SpecRefused("period", f"{period!r} is not yyyymmdd-yyyymmdd (or yyyymmdd-ongoing)")
    ongoing = match.group(2) == windows.ONGOING
    days = []
    for text in match.groups()[:1] if ongoing else match.groups():
        try:
            days.append(windows.parse_day(text))
        except ValueError:
            raise SpecRefused("period", f"{text} is not a real day") from None
    start, end = days[0], None if ongoing else days[1]
    first, last = match.groups()
    if end is not None and end < start:
        raise SpecRefused("period", f"ends ({last}) before it starts ({first})")
    if start < EARLIEST_DAY:
        raise SpecRefused("period", f"starts {first}, before TikTok holds any video ({EARLIEST_DAY:%Y%m%d})")
    if start > today:
        raise SpecRefused("period", f"starts in the future ({first}, today is {today:%Y%m%d} UTC)")
    return start, end


def check_id(harvest_id: str) -> None:
    if not ID_PATTERN.fullmatch(harvest_id) or ".." in harvest_id:
        raise SpecRefused("id", f"{harvest_id!r} must be letters, digits, '_', '.', '-' (at most 100)")


def choose_credential(
    project: str, period_end: dt.date, credentials: dict[str, Credential], today: dt.date
) -> str:
    own = {name: c for name, c in credentials.items() if c.project == project}
    if not own:
        raise SpecRefused("project", f"unknown project {project!r}: no credential belongs to it")
    valid = {name: c for name, c in own.items() if c.valid_on(today)}
    if not valid:
        raise SpecRefused("project", f"no credential of project {project!r} is valid today ({today:%Y%m%d})")
    covering = sorted(name for name, c in valid.items() if period_end <= c.access_end)
    if not covering:
        last = max(c.access_end for c in valid.values())
        raise SpecRefused(
            "period", f"reaches past the access end of project {project!r}'s credentials ({last:%Y%m%d})"
        )
    return covering[0]


def validate(
    data: dict, credentials: dict[str, Credential], *, now: float | None = None
) -> HarvestPlan:
    """A spec as plain data → the plan to register. Raises SpecRefused, and nothing else."""
    spec = parse_spec(data)
    check_id(spec.id)
    now = time.time() if now is None else now
    today = dt.datetime.fromtimestamp(now, dt.UTC).date()
    start, end = parse_period(spec.period, today)
    query = build_query(spec)
    if not spec.collect or "videos" not in spec.collect:
        raise SpecRefused("collect", "must include `videos`")
    if len(set(spec.collect)) != len(spec.collect):
        raise SpecRefused("collect", "names the same kind twice")
    if "comments" not in spec.collect:
        for option in ("max_comments_per_video", "comments_of_every_video"):
            if getattr(spec, option) not in (None, False):
                raise SpecRefused(option, "applies only when `collect` includes `comments`")
    follows = {"followers", "following"} & set(spec.collect)
    if not follows:
        for option in ("max_follows_per_account", "follows_of_every_author"):
            if getattr(spec, option) not in (None, False):
                raise SpecRefused(option, "applies only when `collect` includes `followers` or `following`")
    elif not spec.accounts and not spec.follows_of_every_author:
        raise SpecRefused("collect", f"`{sorted(follows)[0]}` needs `accounts` (or `follows_of_every_author: true`)")
    video_lists = {"liked_videos", "pinned_videos", "reposted_videos"} & set(spec.collect)
    if video_lists and not spec.accounts:
        raise SpecRefused("collect", f"`{sorted(video_lists)[0]}` needs `accounts`: the lists are those accounts'")
    # An ongoing harvest needs a key valid today; it goes on for as long as its project has one.
    credential = choose_credential(spec.project, today if end is None else end, credentials, today)
    new_days_from = None
    if end is not None and spec.refresh_every_days is not None:
        raise SpecRefused("refresh_every_days", "applies only to an ongoing period (yyyymmdd-ongoing)")
    if end is None:
        end = windows.last_archived_day(now)  # the past, harvested first
        new_days_from = windows.format_day(max(start, end + dt.timedelta(days=1)))
    return HarvestPlan(
        id=spec.id,
        name=spec.name or spec.id,
        project=spec.project,
        credential=credential,
        query=query,
        period_start=windows.format_day(start),
        period_end=windows.ONGOING if new_days_from else windows.format_day(end),
        storage_date=windows.format_day(today),
        submitted_at=now,
        spec_digest=hashlib.sha256(msgspec.json.encode(spec)).hexdigest(),
        collect=sorted(set(spec.collect)),
        windows=windows.plan_windows(start, end),  # none when an ongoing period starts in the last days
        max_comments_per_video=spec.max_comments_per_video,
        accounts=sorted({normalise(account) for account in spec.accounts}),
        max_follows_per_account=spec.max_follows_per_account,
        follows_of_every_author=spec.follows_of_every_author,
        comments_of_every_video=spec.comments_of_every_video,
        new_days_from=new_days_from,
        refresh_every_days=(spec.refresh_every_days or REFRESH_EVERY_DAYS) if new_days_from else None,
    )
