"""Several keys per project (workers/quota/keys_of_project.py, workers/calls.py): a harvest's
units spread over its project's keys valid today and fail over when one is spent, each key
spent exactly to its limit; another project's key is never touched; a project with no valid
key waits, and uses a key added to the credentials file without a restart."""

import datetime as dt
import os
import time

import pytest
from dramatiq.broker import MessageProxy
from dramatiq.middleware import CurrentMessage

from core import messages
from core.keys import budget_bucket
from schemas.messages import UserTask
from tests.unit.conftest import CLIENT_KEY, CLIENT_SECRET, CREDENTIAL, USER_INFO, queued, user_body
from workers import actors
from workers.quota.keys_of_project import keys_to_try, paid_with, payer
from workers.tiktok.errors import QuotaWait
from workers.users import handle_user

TODAY = dt.datetime.now(dt.UTC).date()


def key_table(name: str, project: str, *, daily_requests: int, start: dt.date | None = None,
              end: dt.date | None = None) -> str:
    return (f"[credentials.{name}]\nproject = \"{project}\"\nclient_key = \"KEY-{name}-0001\"\n"
            f"client_secret = \"SECRET-{name}-do-not-leak\"\n"
            f"access_start = {start or TODAY - dt.timedelta(days=30)}\n"
            f"access_end = {end or TODAY + dt.timedelta(days=300)}\n"
            f"daily_requests = {daily_requests}\n")


def rewrite(settings, *tables: str) -> None:
    """The operator edits the credentials file; workers read it again (its time changed)."""
    path = settings.credentials_file
    path.write_text("\n".join(tables))
    later = time.time() + 5
    os.utime(path, (later, later))


def the_plans_key(daily_requests: int) -> str:
    """The unit credential of conftest (project climate), with its limit changed."""
    return (f"[credentials.{CREDENTIAL}]\nproject = \"climate\"\nclient_key = \"{CLIENT_KEY}\"\n"
            f"client_secret = \"{CLIENT_SECRET}\"\naccess_start = {TODAY - dt.timedelta(days=30)}\n"
            f"access_end = {TODAY + dt.timedelta(days=600)}\ndaily_requests = {daily_requests}\n")


def ask_profiles(ctx, plan, tiktok, names: list[str]) -> int:
    """Handle one profile unit per name until the quota says wait; returns how many got a call."""
    for n, name in enumerate(names):
        tiktok.add_user(name, user_body())
        try:
            handle_user(ctx, UserTask(plan.id, name), f"u{n}")
        except QuotaWait:
            return n
    return len(names)


def requests_on(ctx, name: str) -> int:
    return ctx.quota.peek(name, ctx.credentials.get(name), "").requests_used


def test_two_keys_of_a_project_give_twice_the_day_each_spent_to_its_limit(ctx, plan, tiktok, settings):
    rewrite(settings, the_plans_key(5), key_table("climate-second", "climate", daily_requests=5),
            key_table("other-project", "elections", daily_requests=50))
    served = ask_profiles(ctx, plan, tiktok, [f"user{n}" for n in range(14)])
    assert served == 10
    assert (requests_on(ctx, CREDENTIAL), requests_on(ctx, "climate-second")) == (5, 5)
    assert requests_on(ctx, "other-project") == 0  # another project's key is never tried
    assert ctx.store.status(plan.id).requests_by_key == {CREDENTIAL: 5, "climate-second": 5}
    calls = tiktok.research_calls(USER_INFO)
    tokens = {call.headers["Authorization"] for call in calls}
    assert len(calls) == 10 and len(tokens) == 2  # each key called with its own token


def test_units_spread_over_the_keys_and_fail_over_when_one_is_spent(ctx, plan, tiktok, settings):
    rewrite(settings, the_plans_key(1000), key_table("climate-second", "climate", daily_requests=1000))
    keys = [keys_to_try(ctx.credentials.all(), "climate", plan.id, f"user:u{n}")[0][0] for n in range(200)]
    assert 70 < keys.count(CREDENTIAL) < 130  # about half each
    # The plan's own key spent by someone else: every unit goes on to the second.
    limits = ctx.credentials.get(CREDENTIAL)
    while ctx.quota.take(CREDENTIAL, limits, "someone-else", "r", 1).granted:
        pass
    assert ask_profiles(ctx, plan, tiktok, [f"user{n}" for n in range(6)]) == 6
    assert requests_on(ctx, "climate-second") == 6


def test_a_key_outside_its_access_period_is_never_used(ctx, plan, tiktok, settings):
    rewrite(settings, the_plans_key(1000),
            key_table("climate-expired", "climate", daily_requests=1000, start=TODAY - dt.timedelta(days=400),
                      end=TODAY - dt.timedelta(days=1)),
            key_table("climate-future", "climate", daily_requests=1000, start=TODAY + dt.timedelta(days=1)))
    assert [name for name, _ in keys_to_try(ctx.credentials.all(), "climate", plan.id, "u")] == [CREDENTIAL]
    assert ask_profiles(ctx, plan, tiktok, ["alice", "bob"]) == 2
    assert requests_on(ctx, "climate-expired") == requests_on(ctx, "climate-future") == 0


def test_no_valid_key_waits_and_a_key_added_to_the_file_is_used_without_a_restart(ctx, plan, tiktok, settings):
    rewrite(settings, key_table(CREDENTIAL, "climate", daily_requests=10, start=TODAY - dt.timedelta(days=400),
                                end=TODAY - dt.timedelta(days=1)))
    tiktok.add_user("alice", user_body())
    with pytest.raises(QuotaWait) as waiting:
        handle_user(ctx, UserTask(plan.id, "alice"), "u0")
    assert waiting.value.why == "no_valid_key" and waiting.value.wait_s > 0
    assert tiktok.research_calls(USER_INFO) == []
    rewrite(settings, key_table(CREDENTIAL, "climate", daily_requests=10, start=TODAY - dt.timedelta(days=400),
                                end=TODAY - dt.timedelta(days=1)),
            key_table("climate-renewed", "climate", daily_requests=10))
    handle_user(ctx, UserTask(plan.id, "alice"), "u0")
    assert requests_on(ctx, "climate-renewed") == 1


def test_a_payment_note_names_its_key_and_an_older_note_means_the_plans():
    assert payer(paid_with("climate-second", "h|u|d:1"), "research", "climate-key") == ("climate-second", "h|u|d:1")
    assert payer(paid_with("k", "r"), "follows", "climate-key") == (budget_bucket("k", "follows"), "r")
    assert payer("h|u|d:1", "research", "climate-key") == ("climate-key", "h|u|d:1")


def test_a_harvest_whose_last_key_expired_shows_access_expired_and_goes_on_when_a_key_is_added(
        global_context, plan, tiktok, settings):
    ctx = global_context
    expired = key_table(CREDENTIAL, "climate", daily_requests=10, start=TODAY - dt.timedelta(days=400),
                        end=TODAY - dt.timedelta(days=1))
    rewrite(settings, expired)
    message = messages.build(UserTask(plan.id, "alice"))
    run_actor(message, actors.fetch_user)
    assert ctx.store.status(plan.id).state == "access_expired"
    (parked,) = queued(ctx.redis, "users.DQ")  # looked at again later, not dropped
    rewrite(settings, expired, key_table("climate-renewed", "climate", daily_requests=10))
    tiktok.add_user("alice", user_body())
    run_actor(parked, actors.fetch_user)
    assert ctx.store.status(plan.id).state != "access_expired"
    assert requests_on(ctx, "climate-renewed") == 1


def run_actor(message, actor) -> None:
    middleware = CurrentMessage()
    middleware.before_process_message(None, MessageProxy(message))
    try:
        actor(message.args[0])
    finally:
        middleware.after_process_message(None, None)
