"""Authors whose usernames TikTok sends in odd shapes, through a whole harvest: the page asks
for them, each is answered and recorded once under a file of its own, and finishing expands
every video's author from that author's own profile."""

import json

import httpx
import msgspec
import pytest

from schemas.messages import UserTask
from schemas.usernames import could_exist, normalise
from tests.unit.conftest import (
    BIG,
    USER_INFO,
    error_body,
    files,
    page_body,
    take,
    user_body,
    video,
)
from tests.unit.page_helpers import END, START, first
from workers.pages import handle_page
from workers.storage import Storage
from workers.users import handle_user

BLANK = "@"
WITH_NUL = "a\x00b"
TOO_LONG = "é" * 60  # escaped, far longer than a file name may be
EMOJI = "😀"
LOOK_ALIKE = "\u1f600"  # ὠ then 0: escaped as the emoji was once, "%1f600"
HOSTILE = [BLANK, WITH_NUL, TOO_LONG, EMOJI, LOOK_ALIKE]
PAGE = "tiktok_videos_20240101-20240131_p00000.json"


def unknown() -> httpx.Response:
    return httpx.Response(400, content=error_body("invalid_params", "cannot find the user"))


def harvest(ctx, plan, tiktok, fake, authors: list[str]) -> None:
    """One page with a video by each author (video n by authors[n - 1]), then every user task
    it sent, the way the users actor would take them."""
    videos = [video(n, author) for n, author in enumerate(authors, start=1)]
    tiktok.add_video(START, END, None, page_body(videos, cursor=100, has_more=False))
    handle_page(ctx, first(plan), "m0", 0)
    for message in take(fake, "users"):
        handle_user(ctx, msgspec.convert(message.args[0], UserTask), message.message_id)


def persons(ctx, plan) -> dict[str, dict]:
    """Every Person record of the harvest, by file name."""
    return {name: json.loads(body)[0] for name, body in files(ctx.storage.records_dir(plan)).items()
            if name != PAGE}


def status_of(person: dict) -> str:
    return {p["name"]: p["value"] for p in person["additionalProperty"]}["tiktok_account_status"]


def asked(tiktok) -> list[str]:
    return [body["username"] for body in tiktok.bodies(USER_INFO)]


def script_answers(tiktok) -> None:
    tiktok.add_user(TOO_LONG, unknown())
    tiktok.add_user(EMOJI, user_body(display_name="Smiley"))
    tiktok.add_user(LOOK_ALIKE, httpx.Response(400, content=error_body("invalid_params", "User is private")))


def test_each_hostile_author_is_recorded_once_under_a_file_of_its_own(ctx, plan, tiktok, fake):
    script_answers(tiktok)
    harvest(ctx, plan, tiktok, fake, HOSTILE + HOSTILE)  # each author twice on the page

    expected = {BLANK: "unknown", WITH_NUL: "unknown", TOO_LONG: "unknown", EMOJI: "ok", LOOK_ALIKE: "private"}
    recorded = persons(ctx, plan)
    assert sorted(recorded) == sorted(Storage.user_name(name) for name in HOSTILE)
    assert {status_of(recorded[Storage.user_name(name)]) for name in HOSTILE} == set(expected.values())
    for name, outcome in expected.items():
        assert status_of(recorded[Storage.user_name(name)]) == outcome
    assert len({person["@id"] for person in recorded.values()}) == len(HOSTILE)
    # Only names an account can have were asked about, each once; only they have raw answers.
    assert sorted(asked(tiktok)) == sorted([TOO_LONG, EMOJI, LOOK_ALIKE])
    assert sorted(files(ctx.storage.source_dir(plan))) == sorted(
        [PAGE] + [Storage.user_name(name) for name in (TOO_LONG, EMOJI, LOOK_ALIKE)])
    done = ctx.redis.hgetall(ctx.keys.users_done(plan.id))
    assert {name.decode(): outcome.decode() for name, outcome in done.items()} == expected
    status = ctx.store.status(plan.id)
    assert (status.state, status.users_requested, status.users_done) == ("done", 5, 5)
    assert (status.requests, status.errors, status.dead_letters) == (1 + 3, 0, 0)


def test_a_name_too_long_for_a_file_is_stored_under_a_shortened_name(ctx, plan, tiktok, fake):
    tiktok.add_user(TOO_LONG, unknown())
    harvest(ctx, plan, tiktok, fake, [TOO_LONG])
    (name,) = persons(ctx, plan)
    assert name == Storage.user_name(TOO_LONG) and len(name) <= 255 and "~" in name
    assert name in files(ctx.storage.source_dir(plan))


@pytest.mark.parametrize("username", HOSTILE, ids=["blank", "nul", "too_long", "emoji", "look_alike"])
def test_a_second_delivery_of_a_hostile_author_does_not_pay_again(ctx, plan, tiktok, monkeypatch, username):
    tiktok.add_user(username, unknown())  # one answer: a second call would fail the test
    ctx.store.mark_users_requested(plan.id, [normalise(username)])
    task = UserTask(harvest_id=plan.id, username=normalise(username))
    user_done = ctx.store.user_done
    monkeypatch.setattr(ctx.store, "user_done", lambda *a, **k: (_ for _ in ()).throw(RuntimeError("killed")))
    with pytest.raises(RuntimeError):
        handle_user(ctx, task, "u1")  # killed just short of done
    monkeypatch.setattr(ctx.store, "user_done", user_done)

    handle_user(ctx, task, "u1")  # the same message again
    handle_user(ctx, task, "u2")  # and a duplicate after it is done
    calls = 1 if could_exist(normalise(username)) else 0
    assert len(tiktok.research_calls(USER_INFO)) == calls
    assert ctx.quota.peek(plan.credential, ctx.credentials.get(plan.credential)).requests_used == calls
    assert list(persons(ctx, plan)) == [Storage.user_name(username)]
    status = ctx.store.status(plan.id)
    assert (status.users_done, status.requests, status.errors) == (1, calls, 0)


def test_an_emoji_and_its_look_alike_escape_text_get_two_files_and_two_records(ctx, plan, tiktok, fake):
    tiktok.add_user(EMOJI, user_body(display_name="Smiley"))
    tiktok.add_user(LOOK_ALIKE, user_body(display_name="Omega"))
    harvest(ctx, plan, tiktok, fake, [EMOJI, LOOK_ALIKE])

    assert Storage.user_name(EMOJI) != Storage.user_name(LOOK_ALIKE)
    recorded = persons(ctx, plan)
    assert recorded[Storage.user_name(EMOJI)]["name"] == "Smiley"
    assert recorded[Storage.user_name(LOOK_ALIKE)]["name"] == "Omega"
    assert recorded[Storage.user_name(EMOJI)]["@id"] != recorded[Storage.user_name(LOOK_ALIKE)]["@id"]
    raw = files(ctx.storage.source_dir(plan))
    assert json.loads(raw[Storage.user_name(EMOJI)])["data"]["display_name"] == "Smiley"
    assert json.loads(raw[Storage.user_name(LOOK_ALIKE)])["data"]["display_name"] == "Omega"


def test_finishing_expands_every_hostile_author_from_its_own_profile(ctx, plan, tiktok, fake):
    script_answers(tiktok)
    harvest(ctx, plan, tiktok, fake, HOSTILE)
    assert ctx.store.status(plan.id).state == "done"

    recorded = {person["@id"]: person for person in persons(ctx, plan).values()}
    page = json.loads(files(ctx.storage.records_dir(plan))[PAGE])
    videos = {int(record["@id"].rsplit("_", 1)[1]) - BIG: record for record in page}
    for n, _ in enumerate(HOSTILE, start=1):
        author = videos[n]["author"]
        person = recorded[author["@id"]]
        assert person["alternateName"] == author["alternateName"]
        assert status_of(author) == status_of(person)  # expanded: the profile's status is in
        assert videos[n]["creator"] == videos[n]["sender"] == author
        assert "\x00" not in json.dumps(author, ensure_ascii=False)
    assert videos[4]["author"]["name"] == "Smiley"


def test_spellings_of_one_account_are_requested_and_recorded_once(ctx, plan, tiktok, fake):
    tiktok.add_user("alice", user_body(display_name="Alice A."))
    harvest(ctx, plan, tiktok, fake, ["Alice", "@alice", " alice ", "ALICE"])

    assert asked(tiktok) == ["alice"]
    assert list(persons(ctx, plan)) == ["tiktok_user_alice.json"]
    videos = json.loads(files(ctx.storage.records_dir(plan))[PAGE])
    assert {v["author"]["@id"] for v in videos} == {"iCANDID_tiktok_user_alice"}
    assert {v["author"]["name"] for v in videos} == {"Alice A."}
    assert {v["sameAs"].rsplit("/video/", 1)[0] for v in videos} == {"https://www.tiktok.com/@alice"}
    status = ctx.store.status(plan.id)
    assert (status.users_requested, status.users_done) == (1, 1)
