"""JSON Schema (2020-12) of the intake contract, generated from the msgspec types: each
request's payload, the whole message a publisher writes to Redis (Dramatiq's envelope around
the payload) and the reply. `tiktok-harvest intake-schema --out ops/intake` writes them; a
test keeps the files there in step with the types."""

from typing import Any

import msgspec

from core import messages
from schemas.messages import CancelHarvest, IntakeReply, PauseHarvest, ResumeHarvest, SubmitHarvest
from schemas.spec import HarvestSpec

DIALECT = "https://json-schema.org/draft/2020-12/schema"
# The requests by the actor that takes them (the `actor_name` of their envelope).
REQUESTS: dict[str, type[msgspec.Struct]] = {
    messages.INTAKE_ACTOR: SubmitHarvest, messages.PAUSE_ACTOR: PauseHarvest,
    messages.RESUME_ACTOR: ResumeHarvest, messages.CANCEL_ACTOR: CancelHarvest,
}


def intake_schemas() -> dict[str, dict[str, Any]]:
    """File name -> schema."""
    found = {f"{actor}.schema.json": _payload(actor, request) for actor, request in REQUESTS.items()}
    found["envelope.schema.json"] = _envelope()
    found["reply.schema.json"] = _standalone(IntakeReply, "The answer to an intake request, a JSON string under "
                                             "`<namespace>:intake:reply:<request id>` for a week.")
    return found


def _payload(actor: str, request: type[msgspec.Struct]) -> dict[str, Any]:
    about = f"The payload of a `{actor}` message on the `{messages.INTAKE_QUEUE}` queue (its only argument)."
    schema = _standalone(request, about, extra=[HarvestSpec] if request is SubmitHarvest else [])
    if request is SubmitHarvest:
        # The spec is read as plain data so that a refusal names the field at fault in the
        # spec's own words; its shape is HarvestSpec's.
        schema["$defs"]["SubmitHarvest"]["properties"]["spec"] = {"$ref": "#/$defs/HarvestSpec"}
    return schema


def _standalone(struct: type[msgspec.Struct], description: str, extra: list | None = None) -> dict[str, Any]:
    (root, *_), components = msgspec.json.schema_components([struct, *(extra or [])],
                                                            ref_template="#/$defs/{name}")
    return {"$schema": DIALECT, "title": struct.__name__, "description": description, **root, "$defs": components}


def _envelope() -> dict[str, Any]:
    """Dramatiq's message, as the workers decode it, with one of the payloads as its argument."""
    branches = []
    defs: dict[str, Any] = {}
    for actor, request in REQUESTS.items():
        payload = _payload(actor, request)
        defs.update(payload["$defs"])
        branches.append({
            "properties": {"actor_name": {"const": actor},
                           "args": {"prefixItems": [{"$ref": payload["$ref"]}], "minItems": 1, "maxItems": 1}},
        })
    return {
        "$schema": DIALECT,
        "title": "IntakeMessage",
        "description": "One intake request as written to Redis: the JSON value stored under its id in "
                       "`<namespace>:intake.msgs`, the id then pushed onto the list `<namespace>:intake` "
                       "(ops/intake/README.md).",
        "type": "object",
        "properties": {
            "queue_name": {"const": messages.INTAKE_QUEUE},
            "actor_name": {"enum": list(REQUESTS)},
            "args": {"type": "array"},
            "kwargs": {"type": "object", "maxProperties": 0},
            "options": {
                "type": "object",
                "properties": {"redis_message_id": {"type": "string", "minLength": 1}},
                "required": ["redis_message_id"],
                "description": "Dramatiq's options: only `redis_message_id`, the id the message is stored "
                               "under in `<namespace>:intake.msgs` (its acknowledgement removes it by that id).",
            },
            "message_id": {"type": "string", "minLength": 1,
                           "description": "Unique per message (a UUID); the reply's key when no request_id is given."},
            "message_timestamp": {"type": "integer", "description": "When it was published, Unix time in ms."},
        },
        "required": ["queue_name", "actor_name", "args", "kwargs", "options", "message_id", "message_timestamp"],
        "oneOf": branches,
        "$defs": defs,
    }
