"""The intake contract other services code against (ops/intake/): the checked-in JSON Schemas
are the ones the types give, the envelope the redis-cli example writes is valid by them (and
what they rule out is ruled out), answers match the reply schema, and the Python API works
without any worker code."""

import json
import subprocess
import sys
import uuid
from pathlib import Path

import jsonschema
import pytest

import producers
from core import intake
from harvest_cli.intake_schema import render
from schemas.json_schemas import intake_schemas
from tests.unit.conftest import HARVEST_ID, PERIOD

FOLDER = Path(__file__).resolve().parents[2] / "ops" / "intake"
SPEC = {"id": HARVEST_ID, "project": "climate", "period": PERIOD, "keywords": ["klimaat"]}


def schema(name: str) -> dict:
    return json.loads((FOLDER / name).read_text())


def envelope(actor: str, payload: dict, **changes) -> dict:
    """What ops/intake/publish-with-redis-cli.sh writes."""
    message_id = str(uuid.uuid4())
    found = {"queue_name": "intake", "actor_name": actor, "args": [payload], "kwargs": {},
             "options": {"redis_message_id": message_id}, "message_id": message_id,
             "message_timestamp": 1764500000000}
    found.update(changes)
    return found


def errors(schema_name: str, document: dict) -> list[str]:
    validator = jsonschema.Draft202012Validator(schema(schema_name))
    return [error.message for error in validator.iter_errors(document)]


def test_the_checked_in_schemas_are_the_ones_the_types_give():
    generated = intake_schemas()
    assert sorted(generated) == sorted(path.name for path in FOLDER.glob("*.schema.json"))
    for name, document in generated.items():
        assert (FOLDER / name).read_text() == render(document), f"run: tiktok-harvest intake-schema --out {FOLDER}"
        jsonschema.Draft202012Validator.check_schema(document)


@pytest.mark.parametrize("actor, payload", [
    ("submit_harvest", {"spec": SPEC, "request_id": "svc-1"}),
    ("submit_harvest", {"spec": SPEC}),
    ("pause_harvest", {"harvest_id": HARVEST_ID, "request_id": "ops-17"}),
    ("resume_harvest", {"harvest_id": HARVEST_ID}),
    ("cancel_harvest", {"harvest_id": HARVEST_ID, "request_id": "a.b_c:d-1"}),
])
def test_the_envelopes_the_example_writes_are_valid(actor, payload):
    assert errors("envelope.schema.json", envelope(actor, payload)) == []
    assert errors(f"{actor}.schema.json", payload) == []


@pytest.mark.parametrize("document", [
    envelope("pause_harvest", {"harvest_id": HARVEST_ID}, options={}),  # Dramatiq could not acknowledge it
    envelope("pause_harvest", {"harvest_id": HARVEST_ID}, queue_name="pages"),
    envelope("fetch_page", {"harvest_id": HARVEST_ID}),
    envelope("pause_harvest", {"harvest": HARVEST_ID}),
    envelope("pause_harvest", {"harvest_id": HARVEST_ID, "request_id": "has spaces"}),
    envelope("submit_harvest", {"spec": SPEC | {"colour": "red"}}),
    envelope("submit_harvest", {"spec": SPEC | {"collect": ["videos", "snapshots"]}}),
])
def test_what_the_workers_would_refuse_the_schemas_rule_out(document):
    assert errors("envelope.schema.json", document) != []


def test_an_answer_matches_the_reply_schema(fake):
    from core.keys import Keys

    accepted = intake.reply(fake, Keys("contract"), "svc-1", "submit", harvest_id=HARVEST_ID, state="queued",
                            created=True)
    refused = intake.reply(fake, Keys("contract"), "svc-2", "submit", refused="field `period`: not a day",
                           field="period")
    for answer in (accepted, refused):
        raw = json.loads(fake.get(Keys("contract").intake_reply(answer.request_id)))
        assert errors("reply.schema.json", raw) == []


def test_the_python_api_submits_steers_and_reads_status(settings, fake):
    submitted = producers.submit(SPEC, settings=settings, redis=fake)
    assert (submitted.harvest_id, submitted.created) == (HARVEST_ID, True)
    assert fake.llen(f"{settings.namespace}:pages") == submitted.windows  # the first pages, queued
    assert producers.pause(HARVEST_ID, settings=settings, redis=fake).status.state == "paused"
    assert producers.resume(HARVEST_ID, settings=settings, redis=fake).status.state == "queued"
    assert producers.cancel(HARVEST_ID, settings=settings, redis=fake).status.state == "cancelled"
    status = producers.status(HARVEST_ID, settings=settings, redis=fake)
    assert status is not None and status.state == "cancelled"
    with pytest.raises(producers.SpecRefused) as refused:
        producers.submit(SPEC | {"id": "other", "period": "20240631-20240701"}, settings=settings, redis=fake)
    assert refused.value.field == "period"
    with pytest.raises(producers.ControlRefused):
        producers.pause("nope", settings=settings, redis=fake)


def test_the_python_api_loads_no_worker_code():
    code = "import sys, producers; print(sorted(m for m in sys.modules if m.split('.')[0] == 'workers'))"
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert loaded.strip() == "[]"
