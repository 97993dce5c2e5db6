"""Intake requests from other iCANDID services (workers/intake.py, core/intake.py): every
request is answered under its request id (or its message id), accepted with the harvest's id
and state or refused with the reason, and a refusal is an answer, not a dead letter."""

from collections.abc import Callable

import dramatiq
import pytest
from dramatiq.broker import MessageProxy
from dramatiq.middleware import CurrentMessage

from core import intake, messages
from schemas.messages import CancelHarvest, PauseHarvest, ResumeHarvest, SubmitHarvest
from tests.unit.conftest import HARVEST_ID, PERIOD
from workers import intake as intake_actors
from workers.middleware.dead_letters import list_dead

SPEC = {"id": HARVEST_ID, "project": "climate", "period": PERIOD, "keywords": ["klimaat"]}
ACTORS: dict[type, Callable[[dict], None]] = {
    SubmitHarvest: intake_actors.submit_harvest, PauseHarvest: intake_actors.pause_harvest,
    ResumeHarvest: intake_actors.resume_harvest, CancelHarvest: intake_actors.cancel_harvest}


@pytest.fixture
def publish(global_context):
    """Deliver one intake request to its actor as Dramatiq would; returns the message."""
    middleware = CurrentMessage()

    def deliver(request, payload: dict | None = None) -> dramatiq.Message:
        message = messages.build(request)
        if payload is not None:
            message = message.copy(args=(payload,))
        middleware.before_process_message(None, MessageProxy(message))
        try:
            ACTORS[type(request)](message.args[0])
        finally:
            middleware.after_process_message(None, None)
        return message

    return deliver


def answer(ctx, request_id: str):
    found = intake.read_reply(ctx.redis, ctx.keys, request_id)
    assert found is not None, f"no answer under {request_id!r}"
    return found


def test_a_submitted_spec_is_answered_with_its_harvest_id_and_state(global_context, publish):
    ctx = global_context
    publish(SubmitHarvest(spec=SPEC, request_id="req-1"))
    first = answer(ctx, "req-1")
    assert (first.outcome, first.request, first.harvest_id, first.state, first.created) == (
        "accepted", "submit", HARVEST_ID, "queued", True)
    publish(SubmitHarvest(spec=SPEC, request_id="req-2"))  # the same spec again
    assert answer(ctx, "req-2").created is False
    assert ctx.redis.ttl(ctx.keys.intake_reply("req-1")) > 6 * 86400


def test_a_refused_spec_is_answered_with_the_field_and_nothing_is_registered(global_context, publish):
    ctx = global_context
    publish(SubmitHarvest(spec=SPEC | {"period": "20240631-20240701"}, request_id="bad-day"))
    refused = answer(ctx, "bad-day")
    assert (refused.outcome, refused.field, refused.harvest_id) == ("refused", "period", HARVEST_ID)
    assert "`period`" in refused.reason
    assert ctx.store.plan(HARVEST_ID) is None
    assert list_dead(ctx.redis, ctx.keys) == []  # an answer, not a failure


def test_a_request_without_an_id_is_answered_under_its_message_id(global_context, publish):
    message = publish(SubmitHarvest(spec=SPEC))
    assert answer(global_context, message.message_id).harvest_id == HARVEST_ID


@pytest.mark.parametrize("payload, why", [
    ({"request_id": "shape", "spec": "not a mapping"}, "does not match SubmitHarvest"),
    ({"request_id": "shape", "harvest": HARVEST_ID}, "does not match SubmitHarvest"),
])
def test_a_message_of_the_wrong_shape_is_refused_in_words(global_context, publish, payload, why):
    publish(SubmitHarvest(spec={}), payload=payload)
    refused = answer(global_context, "shape")
    assert refused.outcome == "refused" and why in refused.reason


@pytest.mark.parametrize("request_id", ["spaces and\nnewlines", "ends-with-a-newline\n", "x" * 129])
def test_a_request_id_that_cannot_name_a_key_is_answered_under_the_message_id(global_context, publish, request_id):
    message = publish(SubmitHarvest(spec=SPEC, request_id=request_id))
    refused = answer(global_context, message.message_id)
    assert refused.outcome == "refused" and "request_id" in refused.reason
    assert global_context.store.plan(HARVEST_ID) is None


def test_pause_resume_and_cancel_are_answered_with_the_state_after_them(global_context, make_plan, publish):
    ctx = global_context
    plan = make_plan()
    publish(PauseHarvest(harvest_id=plan.id, request_id="p"))
    assert (answer(ctx, "p").outcome, answer(ctx, "p").state) == ("accepted", "paused")
    publish(ResumeHarvest(harvest_id=plan.id, request_id="r"))
    assert answer(ctx, "r").state == "queued"
    publish(CancelHarvest(harvest_id=plan.id, request_id="c"))
    assert answer(ctx, "c").state == "cancelled"
    publish(PauseHarvest(harvest_id=plan.id, request_id="p2"))
    late = answer(ctx, "p2")
    assert late.outcome == "refused" and "cancelled for good" in late.reason
    publish(CancelHarvest(harvest_id="nope", request_id="c2"))
    assert "no such harvest" in answer(ctx, "c2").reason
