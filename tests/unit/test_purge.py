"""Purge (workers/retention.py `purge`, `tiktok-harvest purge`): a harvest's whole state leaves
Redis at once and nothing else is touched; its queued messages are then dropped without an
API call, and the id can be registered and harvested again under a new plan."""

import json

import httpx
import msgspec
import pytest
from typer.testing import CliRunner

from core import messages
from harvest_cli import dead as dead_cli
from harvest_cli import main as cli_main
from harvest_cli import purge as purge_cli
from schemas.messages import PageTask
from tests.unit.conftest import NAMESPACE, WINDOW, page_body, page_tasks, take, video
from tests.unit.page_helpers import END, START, first
from workers import retention
from workers.lease import LeaseLost
from workers.middleware.dead_letters import DeadLetter, list_dead, record
from workers.pages import handle_page
from workers.tiktok.errors import PermanentError

OTHER = "tiktok_query_other"
DAY = 86400


def dead_in_dramatiq(broker, fake, harvest: str, page: int) -> str:
    """A page message nacked into Dramatiq's dead-letter queue; returns its Redis id."""
    sent = messages.send(broker, PageTask(harvest_id=harvest, window=WINDOW, page=page))
    broker.do_fetch("pages", 1)
    broker.do_nack("pages", sent.options["redis_message_id"])
    return sent.options["redis_message_id"]


def dead_letter(fake, ctx, broker, harvest: str, page: int) -> None:
    """A page of the harvest failed for good: in Dramatiq's dead-letter queue and in ours."""
    redis_id = dead_in_dramatiq(broker, fake, harvest, page)
    record(fake, ctx.keys, DeadLetter(message_id=f"{harvest}-{page}", harvest_id=harvest, queue_name="pages",
                                      actor_name="fetch_page", payload={"harvest_id": harvest, "window": WINDOW,
                                                                        "page": page},
                                      reason="refused", failed_at=1.0, broker_message_id=redis_id), keep_s=30 * DAY)


def snapshot(fake) -> dict[bytes, bytes]:
    return {key: fake.dump(key) for key in fake.scan_iter(count=1000)}


def under(ctx, harvest: str) -> str:
    return ctx.keys.harvest_keys_pattern(harvest)[:-1]


@pytest.fixture
def two_running(ctx, make_plan, tiktok, fake, broker):
    """Two harvests on one credential, each with its first page stored, its next page queued,
    a dead letter (ours and Dramatiq's) and a unit in the credential's failing set; the first
    also has a message in Dramatiq's dead-letter queue that we have no letter of."""
    plan, other = make_plan(collect=["videos"]), make_plan(id=OTHER, collect=["videos"])
    for harvest in (plan, other):
        dead_letter(fake, ctx, broker, harvest.id, 7)
        fake.zadd(ctx.keys.quota_failing(harvest.credential), {f"{harvest.id}|page:{WINDOW}:00007": 1})
    dead_in_dramatiq(broker, fake, plan.id, 8)
    for harvest in (plan, other):
        tiktok.add_video(START, END, None, page_body([video(1), video(2)], cursor=100, has_more=True, search_id="S"))
        handle_page(ctx, first(harvest), f"{harvest.id}-m0", 0)
    return plan, other


def test_purge_removes_every_key_and_dead_letter_of_the_harvest_and_touches_nothing_else(ctx, fake, two_running):
    plan, other = two_running
    before = snapshot(fake)
    mine = {key for key in before if key.decode().startswith(under(ctx, plan.id))}
    assert len(mine) >= 6

    purged = retention.purge(fake, ctx.keys, plan.id, marker_s=30 * DAY)

    assert (purged.state, purged.keys, purged.dead_letters, purged.dramatiq_dead_letters) == (
        "failed", len(mine), 1, 2)
    after = snapshot(fake)
    assert not [key for key in after if key.decode().startswith(under(ctx, plan.id))]
    # what is shared with the other harvest lost only this one's part
    changed = {ctx.keys.harvests, ctx.keys.dead_letters, f"{NAMESPACE}:pages.XQ", f"{NAMESPACE}:pages.XQ.msgs",
               ctx.keys.quota_active(plan.credential), ctx.keys.quota_failing(plan.credential)}
    changed = {key.encode() for key in changed}
    for key, dump in before.items():
        if key not in mine and key not in changed:
            assert after.get(key) == dump, key
    assert set(after) - set(before) == {ctx.keys.purged(plan.id).encode()}
    assert ctx.store.harvest_ids() == [other.id]
    assert [letter.harvest_id for letter in list_dead(fake, ctx.keys)] == [other.id]
    assert fake.zcard(f"{NAMESPACE}:pages.XQ") == fake.hlen(f"{NAMESPACE}:pages.XQ.msgs") == 1
    assert fake.zrange(ctx.keys.quota_active(plan.credential), 0, -1) == [other.id.encode()]
    assert fake.zrange(ctx.keys.quota_failing(plan.credential), 0, -1) == [f"{other.id}|page:{WINDOW}:00007".encode()]
    assert 30 * DAY - 60 < fake.ttl(ctx.keys.purged(plan.id)) <= 30 * DAY
    assert ctx.store.status(other.id).pages == 1


def test_messages_still_queued_for_a_purged_harvest_are_dropped_without_an_api_call(ctx, fake, tiktok, two_running):
    plan, _ = two_running
    queued_for_it = [task for task in page_tasks(take(fake, "pages")) if task.harvest_id == plan.id]
    assert queued_for_it
    retention.purge(fake, ctx.keys, plan.id, marker_s=30 * DAY)
    calls = len(tiktok.calls)
    for task in queued_for_it:
        handle_page(ctx, task, "m-next", 0)
    assert len(tiktok.calls) == calls
    assert not list(fake.scan_iter(match=ctx.keys.harvest_keys_pattern(plan.id)))
    assert list_dead(fake, ctx.keys, plan.id) == []


def test_a_delivery_in_flight_when_its_harvest_is_purged_stops_and_its_leftovers_are_cleared(ctx, make_plan,
                                                                                          tiktok, fake):
    plan = make_plan(collect=["videos"])

    def purge_during_the_call(request):
        retention.purge(fake, ctx.keys, plan.id, marker_s=30 * DAY)
        return page_body([video(1)], cursor=100, has_more=True, search_id="S")

    tiktok.add_video(START, END, None, purge_during_the_call)
    with pytest.raises(LeaseLost):
        handle_page(ctx, first(plan), "m0", 0)
    assert not fake.exists(ctx.keys.owners(plan.id)) and not fake.exists(ctx.keys.done(plan.id))
    # the counters it wrote before the call are cleared by the sweep
    retention.sweep(fake, ctx.keys, ctx.settings)
    assert not list(fake.scan_iter(match=ctx.keys.harvest_keys_pattern(plan.id)))


def test_the_same_id_is_registered_and_harvested_again_with_its_new_plan(ctx, make_plan, tiktok, fake):
    old = make_plan(collect=["videos"])
    tiktok.add_video(START, END, None, page_body([video(1)], cursor=100, has_more=True, search_id="S"))
    handle_page(ctx, first(old), "m0", 0)  # this worker now has the old plan cached
    retention.purge(fake, ctx.keys, old.id, marker_s=30 * DAY)
    fake.hset(ctx.keys.stats(old.id), "requests", 5)  # what a straggler may still have written

    new = make_plan(collect=["videos"], accounts=[], keywords=["nieuw"])
    assert new.id == old.id and new.query != old.query
    assert not fake.exists(ctx.keys.purged(new.id))
    tiktok.add_video(START, END, None, page_body([video(3)], cursor=100, has_more=False))
    handle_page(ctx, first(new), "n0", 0)

    assert json.loads(tiktok.research_calls()[-1].content)["query"] == msgspec.to_builtins(new.query)
    status = ctx.store.status(new.id)
    assert (status.state, status.pages, status.records, status.requests) == ("done", 1, 1, 1)
    assert ctx.store.harvest_ids() == [new.id]


def test_purging_an_id_that_was_never_there_finds_nothing(ctx, fake):
    assert not retention.exists(fake, ctx.keys, "tiktok_query_never")


# --- the command --------------------------------------------------------------------------------------


@pytest.fixture
def run(monkeypatch, settings, fake):
    """`tiktok-harvest ARGS` in-process, on this test's fake Redis."""
    for module in (purge_cli, cli_main, dead_cli):
        monkeypatch.setattr(module, "settings_from", lambda **overrides: settings)
        monkeypatch.setattr(module, "connect", lambda _settings: fake)

    def invoke(*args: str, terminal: bool = False, answer: str | None = None):
        monkeypatch.setattr(purge_cli, "interactive", lambda: terminal)
        return CliRunner().invoke(cli_main.app, list(args), input=answer)

    return invoke


def last_json(result) -> dict:
    """The command's JSON document (log lines, unconfigured here, may come before it)."""
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_purge_command_refuses_without_yes_when_not_on_a_terminal(run, ctx, plan, fake):
    result = run("purge", plan.id)
    assert result.exit_code == 2
    assert "--yes" in result.output
    assert fake.exists(ctx.keys.plan(plan.id))


def test_purge_command_asks_on_a_terminal_and_a_no_keeps_the_harvest(run, ctx, plan, fake):
    declined = run("purge", plan.id, terminal=True, answer="n\n")
    assert declined.exit_code == 1 and fake.exists(ctx.keys.plan(plan.id))
    confirmed = run("purge", plan.id, terminal=True, answer="y\n")
    assert confirmed.exit_code == 0, confirmed.output
    assert not fake.exists(ctx.keys.plan(plan.id))


def test_purge_command_prints_what_went_and_an_unknown_id_exits_1(run, ctx, plan, fake):
    result = run("purge", plan.id, "--yes", "--json")
    assert result.exit_code == 0, result.output
    document = last_json(result)
    assert (document["id"], document["state"], document["dead_letters"]) == (plan.id, "queued", 0)
    assert document["keys"] >= 3 and document["storage"]["records"].endswith(f"/{plan.id}/new/{plan.storage_date}")
    assert run("purge", plan.id, "--yes").exit_code == 1
    assert run("purge").exit_code == 2


def test_status_json_says_when_a_done_harvest_is_forgotten(run, ctx, make_plan, tiktok):
    plan = make_plan(collect=["videos"])
    tiktok.add_video(START, END, None, page_body([video(1)], cursor=100, has_more=False))
    handle_page(ctx, first(plan), "m0", 0)
    result = run("status", plan.id, "--json")
    assert result.exit_code == 0, result.output
    document = last_json(result)
    assert document["forget_at"] == pytest.approx(document["finished_at"] + 30 * DAY, abs=60)


def test_status_says_a_failed_harvest_waits_for_a_replay(run, ctx, make_plan, tiktok, fake):
    plan = make_plan(collect=["videos"])
    tiktok.add_video(START, END, None, httpx.Response(400, content=b'{"error": {"code": "invalid_params"}}'))
    with pytest.raises(PermanentError):
        handle_page(ctx, first(plan), "m0", 0)
    record(fake, ctx.keys, DeadLetter(message_id="m0", harvest_id=plan.id, queue_name="pages",
                                      actor_name="fetch_page", payload={}, reason="refused", failed_at=1.0),
           keep_s=30 * DAY)
    shown = run("status", plan.id)
    assert shown.exit_code == 0 and "dead replay" in shown.output and "purge" in shown.output
    listed = run("dead", "list")
    assert listed.exit_code == 0 and "kept until `dead replay` or `purge`" in " ".join(listed.output.split())
