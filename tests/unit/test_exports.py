"""Flat exports (workers/exports.py, `tiktok-harvest export`): one row per video, comment
or profile, with the documented columns; read back with the csv module and with pandas they
give the same values as the records, line breaks, quotes, commas and emoji included, and ids
above 2^53 exact."""

import csv
import io
import json

import pandas as pd
import pytest
from typer.testing import CliRunner

from harvest_cli.main import app
from producers.submission import start
from schemas.messages import AccountVideosTask, CommentTask, FollowTask, PlaylistTask, UserTask
from tests.unit.conftest import (
    BIG,
    account_videos_body,
    comment,
    comments_body,
    follows_body,
    page_body,
    playlist_body,
    take,
    user_body,
    video,
)
from tests.unit.page_helpers import END, START, first
from workers.account_videos import handle_account_videos
from workers.comments import handle_comments
from workers.exports import COLUMNS, record_files, rows, write_csv, write_jsonl
from workers.follows import handle_follows
from workers.pages import handle_page
from workers.playlists import handle_playlist
from workers.users import handle_user

TRICKY = 'Klimaat, "nu"!\nTweede regel; emoji 🌍🔥 and a NUL\x00 inside'


@pytest.fixture
def harvested(ctx, make_plan, tiktok):
    """A harvest of two videos (one with tricky text), their comments and an author."""
    plan = make_plan(collect=["videos", "users", "comments"])
    tiktok.add_video(START, END, None, page_body(
        [video(1, username="alice", video_description=TRICKY, comment_count=2, hashtag_names=["klimaat", "co2"],
               video_mention_list=["bob"]),
         video(2, username="alice", comment_count=0)], cursor=100, has_more=False))
    handle_page(ctx, first(plan), "m0", 0)
    tiktok.add_user("alice", user_body(display_name="Alice, \"A.\"", bio_description="line\nbreak"))
    handle_user(ctx, UserTask(plan.id, "alice"), "u0")
    tiktok.add_comments(BIG + 1, 0, comments_body([comment(1, 1, text=TRICKY), comment(2, 1, parent=1)],
                                                  cursor=2, has_more=False))
    handle_comments(ctx, CommentTask(plan.id, str(BIG + 1), comment_count=2), "c0", 0)
    return ctx.storage.records_dir(plan)


PLAYLIST = 7100000109608600760


@pytest.fixture
def lists_harvested(ctx, make_plan, settings, tiktok, fake):
    """A harvest of an account's followers, likes and pins, and a playlist its search found."""
    plan = make_plan(collect=["videos", "followers", "liked_videos", "pinned_videos", "playlists"],
                     accounts=["alice"])
    start(plan, settings, ctx.broker, redis=ctx.redis)
    take(fake, "lists")  # the chains asked for at submission: run by hand below
    tiktok.add_video(START, END, None, page_body([video(1, playlist_id=PLAYLIST), video(2, playlist_id=PLAYLIST)],
                                                 cursor=100, has_more=False))
    handle_page(ctx, first(plan), "m0", 0)
    tiktok.add_follows("followers", "alice", None, follows_body("followers", ["bob", "carol"], cursor=None,
                                                                has_more=False))
    handle_follows(ctx, FollowTask(harvest_id=plan.id, username="alice", direction="followers"), "f0", 0)
    tiktok.add_account_videos("liked", "alice", None, account_videos_body(
        "user_liked_videos", [video(1), video(7, username="dave")]))
    handle_account_videos(ctx, AccountVideosTask(harvest_id=plan.id, username="alice", which="liked"), "l0", 0)
    tiktok.add_account_videos("pinned", "alice", None, account_videos_body("pinned_videos_list", [video(8)]))
    handle_account_videos(ctx, AccountVideosTask(harvest_id=plan.id, username="alice", which="pinned"), "l1", 0)
    tiktok.add_playlist(PLAYLIST, None, playlist_body(PLAYLIST, [BIG + 2, BIG + 1], cursor=2, has_more=False))
    handle_playlist(ctx, PlaylistTask(harvest_id=plan.id, playlist_id=str(PLAYLIST)), "p0", 0)
    return ctx.storage.records_dir(plan)


def exported(folder, what: str, fmt: str) -> str:
    out = io.StringIO(newline="")
    (write_csv if fmt == "csv" else write_jsonl)(out, rows(record_files(folder, what), what), what)
    return out.getvalue()


def test_video_rows_hold_the_documented_columns_exactly(harvested):
    (row, _) = list(rows(record_files(harvested, "videos"), "videos"))
    assert set(row) == set(COLUMNS["videos"])
    assert row["id"] == str(BIG + 1) and row["username"] == "alice"
    assert row["description"] == TRICKY.replace("\x00", "")
    assert row["hashtags"] == "klimaat co2" and row["mentions"] == "bob"
    assert row["views"] == 10 and row["url"] == f"https://www.tiktok.com/@alice/video/{BIG + 1}"


def test_comment_rows_name_their_video_and_the_comment_they_answer(harvested):
    top, reply = rows(record_files(harvested, "comments"), "comments")
    assert (top["id"], top["video_id"], top["parent_comment_id"]) == (str(BIG + 500_001), str(BIG + 1), None)
    assert reply["parent_comment_id"] == str(BIG + 500_001) and reply["likes"] == 2


def test_videos_met_in_an_accounts_lists_are_exported_with_the_searched_ones_once(lists_harvested):
    ids = [row["id"] for row in rows(record_files(lists_harvested, "videos"), "videos")]
    assert sorted(ids) == sorted(str(BIG + n) for n in (1, 2, 7, 8))


def test_likes_pins_follows_and_playlists_have_their_rows(lists_harvested):
    def exported_rows(what):
        found = list(rows(record_files(lists_harvested, what), what))
        assert all(set(row) == set(COLUMNS[what]) for row in found)
        return found

    acts = sorted((r["username"], r["list"], r["video_id"]) for r in exported_rows("account_videos"))
    assert acts == [("alice", "liked", str(BIG + 1)), ("alice", "liked", str(BIG + 7)),
                    ("alice", "pinned", str(BIG + 8))]
    follows = sorted((r["follower"], r["followed"]) for r in exported_rows("follows"))
    assert follows == [("bob", "alice"), ("carol", "alice")]
    (playlist,) = exported_rows("playlists")
    assert playlist == {"id": str(PLAYLIST), "name": "Klimaat 🎬", "items": 2, "updated": "2024-01-03T16:40:00Z",
                        "video_ids": f"{BIG + 2} {BIG + 1}"}


@pytest.mark.parametrize("what", ["account_videos", "follows", "playlists"])
def test_list_exports_read_back_the_same_with_pandas(lists_harvested, what):
    expected = [{k: "" if v is None else str(v) for k, v in row.items()}
                for row in rows(record_files(lists_harvested, what), what)]
    text = exported(lists_harvested, what, "csv")
    assert expected and pd.read_csv(io.StringIO(text, newline=""), dtype=str,
                                    keep_default_na=False).to_dict("records") == expected


@pytest.mark.parametrize("what", ["videos", "comments", "users"])
def test_csv_read_back_with_the_csv_module_and_pandas_gives_the_same_values(harvested, what):
    expected = list(rows(record_files(harvested, what), what))
    text = exported(harvested, what, "csv")
    by_csv = list(csv.DictReader(io.StringIO(text, newline="")))
    by_pandas = pd.read_csv(io.StringIO(text, newline=""), dtype=str, keep_default_na=False).to_dict("records")
    assert [list(r) for r in by_csv[:1]] == [list(COLUMNS[what])]
    as_text = [{k: "" if v is None else str(v) for k, v in row.items()} for row in expected]
    assert by_csv == as_text
    assert by_pandas == as_text  # ids stay exact: strings, never floats


def test_jsonl_is_one_object_a_line_with_ids_as_strings(harvested):
    lines = exported(harvested, "comments", "jsonl").splitlines()
    assert len(lines) == 2
    first_line = json.loads(lines[0])
    assert first_line["id"] == str(BIG + 500_001) and first_line["text"] == TRICKY.replace("\x00", "")
    assert list(first_line) == list(COLUMNS["comments"])


def test_rows_are_read_one_file_at_a_time(harvested, monkeypatch):
    read = []
    real = type(harvested).read_bytes

    def counting(path):
        read.append(path.name)
        return real(path)

    monkeypatch.setattr(type(harvested), "read_bytes", counting)
    stream = rows(record_files(harvested, "videos") * 3, "videos")
    next(stream)
    assert len(read) == 1  # a harvest of any size is exported in constant memory


def test_the_export_command_writes_a_file_and_says_how_many(harvested, tmp_path, settings, monkeypatch):
    import harvest_cli.export

    # In-process: the process's logging and settings stay as the other tests left them.
    monkeypatch.setattr(harvest_cli.export, "settings_from", lambda **overrides: settings)
    out = tmp_path / "videos.csv"
    result = CliRunner().invoke(app, ["export", "whatever", "--records-dir", str(harvested), "--out", str(out),
                                      "--bom"])
    assert result.exit_code == 0, result.output
    assert "2 videos exported" in result.output
    assert out.read_bytes().startswith(b"\xef\xbb\xbfid,created,")  # Excel reads UTF-8 with the mark
    assert len(pd.read_csv(out, dtype=str)) == 2
