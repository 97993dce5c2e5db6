"""Time and index cursors of the per-account lists (simulator/paging.py), without HTTP."""

import random

import pytest

from simulator.paging import TimeList, index_page

# Newest first; 50 is shared by three entries, 40 by two.
TIMES = [90, 80, 50, 50, 50, 40, 40, 30, 20, 10]
LIST = TimeList(TIMES, range(len(TIMES)))
NO_CAP = 10**9


def test_a_request_lists_entries_at_or_before_its_cursor_newest_first():
    assert LIST.page(0, 3, NO_CAP, "skip")[:2] == (0, 3)  # no cursor: from the newest
    assert LIST.page(50, 3, NO_CAP, "skip")[:2] == (2, 5)
    assert LIST.page(49, 3, NO_CAP, "skip")[:2] == (5, 8)
    assert LIST.page(10**12, 2, NO_CAP, "skip")[:2] == (0, 2)
    assert LIST.page(9, 3, NO_CAP, "skip") == (10, 10, 9, False)  # nothing that old


def test_skip_mode_answers_one_unit_before_the_last_entry_and_loses_ties_that_did_not_fit():
    first = LIST.page(0, 3, NO_CAP, "skip")
    assert first == (0, 3, 49, True)  # the last entry is at 50: the next page starts before it
    second = LIST.page(first.cursor, 3, NO_CAP, "skip")
    assert second == (5, 8, 29, True)  # entries 3 and 4 (also at 50) are never served
    assert LIST.reachable(3, NO_CAP, "skip") == [0, 1, 2, 5, 6, 7, 8, 9]
    assert LIST.reachable(5, NO_CAP, "skip") == list(range(10))  # a page boundary between other times


def test_skip_mode_says_no_more_when_only_ties_of_the_last_entry_remain():
    tied = TimeList([70, 60, 60, 60], range(4))
    assert tied.page(0, 2, NO_CAP, "skip") == (0, 2, 59, False)


def test_repeat_mode_answers_the_last_time_and_serves_its_ties_again():
    first = LIST.page(0, 3, NO_CAP, "repeat")
    assert first == (0, 3, 50, True)
    assert LIST.page(first.cursor, 3, NO_CAP, "repeat") == (2, 5, 50, True)  # entry 2 again
    assert LIST.reachable(3, NO_CAP, "repeat") == list(range(10))


def test_repeat_mode_stalls_on_more_ties_than_a_page_and_the_client_steps_past_them():
    tied = TimeList([70, 60, 60, 60, 60, 50], range(6))
    stuck = tied.page(60, 2, NO_CAP, "repeat")
    assert stuck == (1, 3, 60, True)  # the cursor sent comes back: the client must move on
    assert tied.page(59, 2, NO_CAP, "repeat")[:2] == (5, 6)
    assert tied.reachable(2, NO_CAP, "repeat") == [0, 1, 2, 5]  # 3 and 4 are lost


def test_the_cap_keeps_only_the_newest_entries():
    assert LIST.page(0, 100, 4, "skip") == (0, 4, 49, False)
    assert LIST.page(45, 100, 4, "skip") == (4, 4, 45, False)
    assert LIST.reachable(3, 6, "repeat") == list(range(6))
    assert LIST.reachable(2, 6, "skip") == [0, 1, 2, 3, 5]  # entry 4 shares 50 with entry 3


@pytest.mark.parametrize("ties", ["skip", "repeat"])
def test_reachable_is_what_a_client_passing_the_cursor_on_collects(ties):
    rng = random.Random(5)
    for _ in range(200):
        times = sorted((rng.randrange(100, 130) for _ in range(rng.randrange(0, 60))), reverse=True)
        timeline = TimeList(times, range(len(times)))
        max_count, cap = rng.randint(1, 8), rng.randint(1, 70)
        collected, cursor = [], 0
        for _ in range(1000):
            page = timeline.page(cursor, max_count, cap, ties)
            collected += [p for p in range(page.start, page.end) if p not in collected]
            if not page.has_more:
                break
            cursor = page.cursor - 1 if page.cursor == cursor else page.cursor
        assert timeline.reachable(max_count, cap, ties) == collected
        assert all(p < cap for p in collected)
        if ties == "repeat" and max_count > max(map(times.count, times), default=0):
            assert collected == list(range(min(cap, len(times))))  # no tie outgrew a page


def test_index_pages_advance_over_slots_and_end_past_the_last():
    assert index_page(0, 4, 10) == (0, 4, 4, True)
    assert index_page(8, 4, 10) == (8, 10, 10, False)
    assert index_page(10, 4, 10) == (10, 10, 10, False)
    assert index_page(25, 4, 10) == (25, 25, 25, False)
    assert index_page(0, 4, 0) == (0, 0, 0, False)
