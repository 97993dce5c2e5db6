"""Pause, resume and cancel (producers/control.py, the workers' side in workers/actors.py):
a paused harvest's messages are held without a call and sent again by `resume` still owning
their units; a unit begun before the pause is refused at the quota step; a cancelled
harvest's messages are dropped without a call and it leaves its credential's fair share."""

import dramatiq
import pytest
from dramatiq.broker import MessageProxy
from dramatiq.middleware import CurrentMessage
from typer.testing import CliRunner

from core import messages
from harvest_cli.main import app
from producers import control
from schemas.messages import PageTask
from tests.unit.conftest import WINDOW, page_body, queued, take, video
from tests.unit.page_helpers import END, START
from workers import actors


@pytest.fixture
def run(global_context):
    """Run a page message through its actor as Dramatiq would (the current message set)."""
    middleware = CurrentMessage()

    def run_message(message: dramatiq.Message) -> None:
        middleware.before_process_message(None, MessageProxy(message))
        try:
            actors.fetch_page(message.args[0])
        finally:
            middleware.after_process_message(None, None)

    return run_message


def first_page(plan) -> dramatiq.Message:
    return messages.build(PageTask(harvest_id=plan.id, window=WINDOW, page=0))


def one_page_of_videos(tiktok) -> None:
    tiktok.add_video(START, END, None, page_body([video(1), video(2)], cursor=2, has_more=False))


def test_a_paused_harvests_message_is_held_without_a_call_and_resumed_as_the_units_owner(
        global_context, plan, tiktok, fake, run):
    ctx = global_context
    paused = control.pause(fake, ctx.keys, plan.id)
    assert paused.changed and paused.status.state == "paused"
    message = first_page(plan)
    run(message)
    assert tiktok.research_calls() == []
    assert list(fake.hkeys(ctx.keys.held(plan.id))) == [PageTask(plan.id, WINDOW, 0).unit.encode()]
    assert ctx.store.status(plan.id).messages_held == 1

    resumed = control.resume(fake, ctx.keys, ctx.broker, plan.id)
    assert (resumed.changed, resumed.messages_resent, resumed.status.state) == (True, 1, "queued")
    assert fake.hlen(ctx.keys.held(plan.id)) == 0
    (again,) = take(fake, "pages")
    assert again.message_id != message.message_id
    assert actors.lease_token(again) == message.message_id  # still the unit's owner
    one_page_of_videos(tiktok)
    run(again)
    assert len(tiktok.research_calls()) == 1
    assert ctx.store.status(plan.id).windows_done == 1


def test_a_unit_begun_before_the_pause_is_refused_at_the_quota_step_and_held(
        global_context, plan, tiktok, fake, run, monkeypatch):
    ctx = global_context
    real_take = ctx.quota.take

    def pause_first(*args, **kwargs):
        control.pause(fake, ctx.keys, plan.id)  # the operator, between the unit's begin and its call
        return real_take(*args, **kwargs)

    monkeypatch.setattr(ctx.quota, "take", pause_first)
    run(first_page(plan))
    assert tiktok.research_calls() == []
    assert fake.hlen(ctx.keys.held(plan.id)) == 1
    assert ctx.quota.peek(plan.credential, ctx.credentials.get(plan.credential), plan.id).requests_used == 0
    # The hold on the unit was let go: the resumed message starts at once.
    assert fake.hget(ctx.keys.lease(plan.id, PageTask(plan.id, WINDOW, 0).unit), "delivery") is None


def test_a_resume_between_the_check_and_the_hold_runs_the_message_again(global_context, plan, tiktok, fake, run,
                                                                        monkeypatch):
    ctx = global_context
    control.pause(fake, ctx.keys, plan.id)
    real_hold = ctx.store.hold

    def resume_first(*args):
        control.resume(fake, ctx.keys, ctx.broker, plan.id)
        return real_hold(*args)

    monkeypatch.setattr(ctx.store, "hold", resume_first)
    run(first_page(plan))
    assert fake.hlen(ctx.keys.held(plan.id)) == 0
    assert len(queued(fake, "pages.DQ")) == 1  # sent again a moment later: not lost


def test_a_cancelled_harvest_drops_its_messages_without_a_call_and_leaves_the_fair_share(
        global_context, plan, tiktok, fake, run):
    ctx = global_context
    limits = ctx.credentials.get(plan.credential)
    assert ctx.quota.take(plan.credential, limits, plan.id, "r1", 1).granted
    assert fake.zscore(ctx.keys.quota_active(plan.credential), plan.id) is not None
    cancelled = control.cancel(fake, ctx.keys, plan.id)
    assert cancelled.status.state == "cancelled"
    assert fake.zscore(ctx.keys.quota_active(plan.credential), plan.id) is None
    run(first_page(plan))
    assert tiktok.research_calls() == []
    assert queued(fake, "pages") == [] and queued(fake, "pages.DQ") == []
    assert not ctx.quota.take(plan.credential, limits, plan.id, "r2", 1).granted


def test_cancel_forgets_the_messages_a_pause_held(global_context, plan, fake, run):
    ctx = global_context
    control.pause(fake, ctx.keys, plan.id)
    run(first_page(plan))
    control.cancel(fake, ctx.keys, plan.id)
    assert fake.hlen(ctx.keys.held(plan.id)) == 0
    with pytest.raises(control.ControlRefused, match="cancelled for good"):
        control.resume(fake, ctx.keys, ctx.broker, plan.id)


def test_what_cannot_change_is_refused_and_repeats_change_nothing(global_context, plan, fake):
    ctx = global_context
    with pytest.raises(control.ControlRefused, match="no such harvest"):
        control.pause(fake, ctx.keys, "nope")
    assert not control.resume(fake, ctx.keys, ctx.broker, plan.id).changed  # not paused
    assert control.pause(fake, ctx.keys, plan.id).changed
    assert not control.pause(fake, ctx.keys, plan.id).changed
    ctx.store.mark_finished(plan.id)
    with pytest.raises(control.ControlRefused, match="done"):
        control.cancel(fake, ctx.keys, plan.id)


def test_the_commands_say_what_happened_with_exit_codes(global_context, plan, settings, monkeypatch):
    import harvest_cli.control

    # In-process: the process's logging and settings stay as the other tests left them.
    monkeypatch.setattr(harvest_cli.control, "settings_from", lambda **overrides: settings)
    monkeypatch.setattr(harvest_cli.control, "connect", lambda settings: global_context.redis)
    runner = CliRunner()
    result = runner.invoke(app, ["pause", plan.id])
    assert (result.exit_code, result.output.strip()) == (0, f"{plan.id} paused")
    result = runner.invoke(app, ["resume", plan.id, "--json"])
    assert result.exit_code == 0 and '"state":"queued"' in result.output
    assert runner.invoke(app, ["cancel", plan.id]).exit_code == 0
    result = runner.invoke(app, ["pause", plan.id])
    assert result.exit_code == 1 and "cancelled for good" in result.output
    assert runner.invoke(app, ["cancel", "nope"]).exit_code == 1


def test_a_harvest_whose_last_units_finish_after_the_pause_shows_done(global_context, plan, fake):
    ctx = global_context
    control.pause(fake, ctx.keys, plan.id)
    ctx.store.mark_finished(plan.id)  # the calls in flight at the pause were its last units
    assert ctx.store.status(plan.id).state == "done"
    with pytest.raises(control.ControlRefused, match="done"):
        control.resume(fake, ctx.keys, ctx.broker, plan.id)
