"""Query windows: spans of at most 31 inclusive days (TikTok allows end_date at most 30 days
after start_date), newest first, split in two when TikTok keeps failing on one.

A window id is `yyyymmdd-yyyymmdd`, with `.rN` appended when its search was restarted.
"""

import datetime as dt

MAX_SPAN_DAYS = 30  # end_date - start_date
DATE_FORMAT = "%Y%m%d"
ONGOING = "ongoing"  # the end of an ongoing harvest's period
# TikTok's search archive holds a video up to 48 hours after it was posted. An ongoing harvest
# asks for a day once the last of its videos is that old, and an hour more: the archive has
# settled, and the request misses the burst of every key's budget reset at midnight.
ARCHIVE_LAG = dt.timedelta(hours=49)


def parse_day(text: str) -> dt.date:
    return dt.datetime.strptime(text, DATE_FORMAT).date()


def format_day(day: dt.date) -> str:
    return day.strftime(DATE_FORMAT)


def archived_at(day: dt.date) -> float:
    """When TikTok's archive holds all of `day`'s videos (Unix time)."""
    day_end = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), dt.UTC)
    return (day_end + ARCHIVE_LAG).timestamp()


def last_archived_day(now: float) -> dt.date:
    """The latest day whose videos are all in TikTok's archive at `now`."""
    return (dt.datetime.fromtimestamp(now, dt.UTC) - ARCHIVE_LAG).date() - dt.timedelta(days=1)


def new_days_delay_ms(day: str, now: float, check_s: float) -> int:
    """How long an ongoing harvest's task for `day` waits in the queue: until the day is
    archived, but no longer than `check_s` (a task woken early looks again)."""
    return int(max(0.0, min(archived_at(parse_day(day)) - now, check_s)) * 1000)


def window_id(start: dt.date, end: dt.date) -> str:
    return f"{format_day(start)}-{format_day(end)}"


def plan_windows(start: dt.date, end: dt.date, span_days: int = MAX_SPAN_DAYS) -> list[str]:
    """Non-overlapping windows covering start..end inclusive, newest first."""
    windows = []
    upper = end
    while upper >= start:
        lower = max(start, upper - dt.timedelta(days=span_days))
        windows.append(window_id(lower, upper))
        upper = lower - dt.timedelta(days=1)
    return windows


def bounds(window: str) -> tuple[str, str]:
    """The window's start_date and end_date as TikTok wants them (yyyymmdd)."""
    span = window.split(".", 1)[0]
    start, end = span.split("-")
    return start, end


def split(window: str) -> list[str] | None:
    """Two halves, newer first; None for a single day, which cannot be split."""
    start, end = (parse_day(day) for day in bounds(window))
    if start == end:
        return None
    middle = start + (end - start) // 2
    return [window_id(middle + dt.timedelta(days=1), end), window_id(start, middle)]


def restarted(window: str) -> str:
    """The id of the same span searched afresh."""
    span, _, suffix = window.partition(".r")
    return f"{span}.r{int(suffix or 0) + 1}"
