"""The intake actors: what other iCANDID services publish on the `intake` queue (submit,
pause, resume, cancel; ops/intake/README.md is the contract).

Every request is answered (core/intake.py): accepted with the harvest's id and state, or
refused with the reason, under the request's `request_id` (or its Dramatiq message id). A
refusal is an answer, not a failure: nothing goes to the dead letters for it. A redelivered
request does the same again (submitting a spec twice starts nothing new; pausing a paused
harvest changes nothing) and writes the same answer.
"""

import msgspec
import structlog
from dramatiq.middleware import CurrentMessage

from core import intake
from schemas.messages import CancelHarvest, IntakeRequest, PauseHarvest, ResumeHarvest, SubmitHarvest
from workers.context import WorkerContext, get_context

log = structlog.get_logger(__name__)

REQUESTS: dict[type, IntakeRequest] = {
    SubmitHarvest: "submit", PauseHarvest: "pause", ResumeHarvest: "resume", CancelHarvest: "cancel",
}


def submit_harvest(payload: dict) -> None:
    """The same validation and planning as `tiktok-harvest submit`."""
    from producers.spec import SpecRefused
    from producers.submission import submit_spec

    got = _request(SubmitHarvest, payload)
    if got is None:
        return
    ctx, request_id, request = got
    try:
        submitted = submit_spec(request.spec, ctx.settings, ctx.broker, redis=ctx.redis)
    except SpecRefused as refused:
        _refuse(ctx, request_id, "submit", f"spec refused: {refused}", field=refused.field,
                harvest_id=_spec_id(request.spec))
        return
    status = ctx.store.registered_status(submitted.harvest_id)
    intake.reply(ctx.redis, ctx.keys, request_id, "submit", harvest_id=submitted.harvest_id, state=status.state,
                 created=submitted.created)
    log.info("intake_accepted", request="submit", request_id=request_id, harvest=submitted.harvest_id)


def pause_harvest(payload: dict) -> None:
    _control(PauseHarvest, payload)


def resume_harvest(payload: dict) -> None:
    _control(ResumeHarvest, payload)


def cancel_harvest(payload: dict) -> None:
    _control(CancelHarvest, payload)


def _control(request_type: type[PauseHarvest | ResumeHarvest | CancelHarvest], payload: dict) -> None:
    from producers import control

    got = _request(request_type, payload)
    if got is None:
        return
    ctx, request_id, request = got
    action = REQUESTS[request_type]
    try:
        if isinstance(request, ResumeHarvest):
            done = control.resume(ctx.redis, ctx.keys, ctx.broker, request.harvest_id)
        elif isinstance(request, PauseHarvest):
            done = control.pause(ctx.redis, ctx.keys, request.harvest_id)
        else:
            done = control.cancel(ctx.redis, ctx.keys, request.harvest_id)
    except control.ControlRefused as refused:
        _refuse(ctx, request_id, action, f"cannot {action}: {refused.why}", harvest_id=request.harvest_id)
        return
    intake.reply(ctx.redis, ctx.keys, request_id, action, harvest_id=request.harvest_id, state=done.status.state)
    log.info("intake_accepted", request=action, request_id=request_id, harvest=request.harvest_id)


def _request(request_type, payload):
    """(context, request id, decoded request), or None when the request was refused (and
    answered) for its shape: a payload that does not match its type, or a bad request id."""
    ctx = get_context()
    message = CurrentMessage.get_current_message()
    assert message is not None  # actors run under the CurrentMessage middleware
    action = REQUESTS[request_type]
    given = payload.get("request_id") if isinstance(payload, dict) else None
    request_id = given if isinstance(given, str) and given else message.message_id
    if not intake.valid_request_id(request_id):
        _refuse(ctx, message.message_id, action, "request_id must be 1 to 128 letters, digits, '.', '_', ':' or '-'")
        return None
    try:
        request = msgspec.convert(payload, request_type)
    except msgspec.ValidationError as error:
        _refuse(ctx, request_id, action, f"message does not match {request_type.__name__}: {error}")
        return None
    return ctx, request_id, request


def _refuse(ctx: WorkerContext, request_id: str, action: IntakeRequest, reason: str, **fields) -> None:
    intake.reply(ctx.redis, ctx.keys, request_id, action, refused=reason, **fields)
    log.warning("intake_refused", request=action, request_id=request_id, reason=reason)


def _spec_id(spec: dict) -> str | None:
    value = spec.get("id") if isinstance(spec, dict) else None
    return value if isinstance(value, str) and intake.valid_request_id(value) else None
