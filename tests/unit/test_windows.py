"""Query windows (core/windows.py): planning, splitting, restarting."""

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.windows import (
    MAX_SPAN_DAYS,
    bounds,
    format_day,
    parse_day,
    plan_windows,
    restarted,
    split,
    window_id,
)

days = st.dates(min_value=dt.date(2016, 1, 1), max_value=dt.date(2030, 12, 31))


def spans(windows: list[str]) -> list[tuple[dt.date, dt.date]]:
    return [(parse_day(start), parse_day(end)) for start, end in map(bounds, windows)]


@given(days, st.integers(min_value=0, max_value=800))
def test_plan_windows_covers_every_day_once_newest_first(start, length):
    end = start + dt.timedelta(days=length)
    windows = plan_windows(start, end)
    parts = spans(windows)
    covered = []
    for lower, upper in parts:
        assert lower <= upper
        assert (upper - lower).days <= MAX_SPAN_DAYS  # at most 31 inclusive days
        assert start <= lower and upper <= end  # never past the period
        covered += [lower + dt.timedelta(days=i) for i in range((upper - lower).days + 1)]
    assert sorted(covered) == [start + dt.timedelta(days=i) for i in range(length + 1)]  # each day once
    assert [upper for _, upper in parts] == sorted((upper for _, upper in parts), reverse=True)
    assert parts[0][1] == end  # the newest window ends on the period's end
    # full windows except possibly the oldest one
    assert all((upper - lower).days == MAX_SPAN_DAYS for lower, upper in parts[:-1])
    assert len(windows) == -(-(length + 1) // (MAX_SPAN_DAYS + 1))


def test_plan_windows_examples():
    assert plan_windows(dt.date(2024, 1, 1), dt.date(2024, 1, 31)) == ["20240101-20240131"]
    assert plan_windows(dt.date(2024, 1, 1), dt.date(2024, 2, 1)) == ["20240102-20240201", "20240101-20240101"]
    assert plan_windows(dt.date(2024, 3, 5), dt.date(2024, 3, 5)) == ["20240305-20240305"]
    assert plan_windows(dt.date(2024, 1, 1), dt.date(2024, 12, 31))[:2] == ["20241201-20241231", "20241031-20241130"]


@given(days, st.integers(min_value=1, max_value=MAX_SPAN_DAYS), st.sampled_from(["", ".r1", ".r4"]))
def test_split_halves_cover_the_window_exactly(start, length, suffix):
    end = start + dt.timedelta(days=length)
    halves = split(window_id(start, end) + suffix)
    assert halves is not None and len(halves) == 2
    (newer_lo, newer_hi), (older_lo, older_hi) = spans(halves)
    assert newer_hi == end and older_lo == start
    assert older_hi + dt.timedelta(days=1) == newer_lo  # adjacent, no overlap, no gap
    assert older_lo <= older_hi and newer_lo <= newer_hi
    assert abs((newer_hi - newer_lo) - (older_hi - older_lo)) <= dt.timedelta(days=1)
    assert all("." not in half for half in halves)


@given(days, st.sampled_from(["", ".r2"]))
def test_single_day_cannot_be_split(day, suffix):
    assert split(window_id(day, day) + suffix) is None


def test_split_examples():
    assert split("20240101-20240131") == ["20240117-20240131", "20240101-20240116"]
    assert split("20240101-20240102") == ["20240102-20240102", "20240101-20240101"]


@pytest.mark.parametrize("window, expected", [
    ("20240101-20240131", "20240101-20240131.r1"),
    ("20240101-20240131.r1", "20240101-20240131.r2"),
    ("20240101-20240131.r9", "20240101-20240131.r10"),
    ("20240101-20240131.r10", "20240101-20240131.r11"),
])
def test_restarted_ids(window, expected):
    assert restarted(window) == expected
    assert bounds(expected) == bounds(window) == ("20240101", "20240131")


def test_day_format_round_trip():
    assert format_day(parse_day("20240229")) == "20240229"
    with pytest.raises(ValueError):
        parse_day("20230229")
