"""Secrets and access tokens never leave a process in clear (design invariant 6), even when an
exception text quotes them: not in the client's exceptions, not in what Dramatiq stores in
Redis for a retry or a dead letter, not in our own dead-letter record, not in a log line."""

import io
import json
import logging
import socket
import sys
import traceback

import dramatiq
import httpx
import pytest
import structlog
from dramatiq.broker import MessageProxy
from dramatiq.brokers.redis import RedisBroker
from dramatiq.middleware import Retries

from core import messages
from core.credentials import load_credentials
from core.keys import Keys
from core.logs import configure_logging
from core.messages import producer_broker
from core.redaction import MASK, SecretRedaction
from schemas.api import VideoQueryBody
from schemas.messages import PageTask
from schemas.query import Condition, Query
from tests.redis_dump import redis_dump
from tests.unit.conftest import (
    BASE_URL,
    CLIENT_KEY,
    CLIENT_SECRET,
    CREDENTIAL,
    NAMESPACE,
    WINDOW,
    run_worker,
)
from workers.broker import build_broker
from workers.middleware.dead_letters import DeadLetters, list_dead
from workers.tiktok.client import TikTokClient, make_http_client
from workers.tiktok.errors import PermanentError, TokenUnavailable, TransientError
from workers.tiktok.tokens import TokenCache

TOKEN = "clt.LEAK-test-access-token-0123456789"
# What a token with a stray line break would put into a header.
BROKEN_TOKEN = "clt.LEAK-broken-token\r\nX-Injected: yes"
BODY = VideoQueryBody(query=Query(and_=[Condition(field_name="region_code", operation="IN", field_values=["BE"])]),
                      start_date="20240101", end_date="20240131", max_count=100)


@pytest.fixture(autouse=True)
def registered(credentials_file):
    """The unit credential, loaded the way a worker loads it (which registers its secrets)."""
    return load_credentials(credentials_file)[CREDENTIAL]


def assert_nothing_secret(text: str) -> None:
    for secret in (CLIENT_SECRET, TOKEN, "LEAK-test-access", "LEAK-broken", "X-Injected"):
        assert secret not in text, f"{secret!r} leaked"


def everything_said(error: BaseException) -> str:
    """Every text an exception can end up as: str, repr, args, attributes, formatted traceback."""
    return "\n".join([str(error), repr(error), repr(error.args), repr(vars(error)),
                      *traceback.format_exception(error)])


def dump(redis) -> str:
    return redis_dump(redis).decode("utf-8", "replace")


# --- the client's exceptions ----------------------------------------------------------------------


@pytest.fixture
def listening_port():
    """A local port that accepts connections and never answers: enough for the real HTTP
    stack (h11) to build and check the request's headers."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        yield server.getsockname()[1]


def test_a_token_with_a_line_break_fails_on_the_real_http_stack_without_quoting_it(listening_port):
    http = make_http_client(f"http://127.0.0.1:{listening_port}", timeout=httpx.Timeout(5.0))
    try:
        # The HTTP library itself quotes the header, token and all: the case to guard against.
        with pytest.raises(httpx.LocalProtocolError, match="LEAK-broken-token"):
            http.post("/v2/research/video/query/", headers={"Authorization": f"Bearer {BROKEN_TOKEN}"})
        with pytest.raises(TransientError) as caught:
            TikTokClient(http).query_videos(BROKEN_TOKEN, BODY)
    finally:
        http.close()
    assert_nothing_secret(everything_said(caught.value))
    assert "Bearer" not in everything_said(caught.value)


def test_a_token_endpoint_answer_with_a_line_break_fails_without_quoting_token_or_secret(fake, registered):
    def tiktok(request):
        return httpx.Response(200, json={"access_token": BROKEN_TOKEN, "expires_in": 7200, "token_type": "Bearer"})

    http = httpx.Client(base_url=BASE_URL, transport=httpx.MockTransport(tiktok))
    cache = TokenCache(fake, Keys(NAMESPACE), TikTokClient(http).request_token)
    with pytest.raises(TokenUnavailable) as caught:
        cache.get(CREDENTIAL, registered)
    http.close()
    assert_nothing_secret(everything_said(caught.value))
    assert CLIENT_KEY not in everything_said(caught.value)
    assert_nothing_secret(dump(fake))


# --- what Dramatiq stores in Redis ------------------------------------------------------------------


def leaky_broker(fake, *, max_retries: int, min_backoff: int):
    """A Redis broker on fakeredis with Dramatiq's Retries and the redaction middleware, and
    an actor whose failure quotes the client secret and an access token."""
    broker = RedisBroker(client=fake, namespace=NAMESPACE, middleware=[
        Retries(max_retries=max_retries, min_backoff=min_backoff, max_backoff=min_backoff * 2),
        SecretRedaction(),
    ])
    attempts = []

    @dramatiq.actor(broker=broker, queue_name="leaky")
    def leaky():
        attempts.append(1)
        raise RuntimeError(f"upstream answered {CLIENT_SECRET!r} and Authorization: Bearer {TOKEN}; also {TOKEN}")

    return broker, leaky, attempts


def stored_bodies(fake, key: str) -> list[dramatiq.Message]:
    return [dramatiq.Message.decode(raw) for raw in fake.hvals(key)]


def test_a_retried_message_is_stored_with_a_scrubbed_traceback(fake):
    broker, leaky, attempts = leaky_broker(fake, max_retries=5, min_backoff=600_000)
    leaky.send()
    run_worker(broker, lambda: fake.hlen(f"{NAMESPACE}:leaky.DQ.msgs") == 1)
    (retry,) = stored_bodies(fake, f"{NAMESPACE}:leaky.DQ.msgs")
    # The traceback is kept, useful, and masked.
    assert "RuntimeError: upstream answered" in retry.options["traceback"]
    assert MASK in retry.options["traceback"]
    assert_nothing_secret(dump(fake))


def test_a_message_that_fails_for_good_is_kept_in_the_dead_letter_queue_scrubbed(fake):
    broker, leaky, attempts = leaky_broker(fake, max_retries=1, min_backoff=10)
    leaky.send()
    run_worker(broker, lambda: fake.zcard(f"{NAMESPACE}:leaky.XQ") == 1)
    assert len(attempts) == 2
    (dead,) = stored_bodies(fake, f"{NAMESPACE}:leaky.XQ.msgs")
    assert dead.options["retries"] == 1 and MASK in dead.options["traceback"]
    assert_nothing_secret(dump(fake))


def test_generated_ids_in_options_are_left_exactly_as_they_are(broker):
    message: dramatiq.Message[None] = dramatiq.Message(queue_name="q", actor_name="a", args=(), kwargs={}, options={
        "redis_message_id": "clt.not-really", "lease_token": f"Bearer {TOKEN}", "predecessor": CLIENT_SECRET,
        "traceback": f"boom {TOKEN}", "nested": {"why": [CLIENT_SECRET]}, "retries": 2})
    SecretRedaction().before_enqueue(broker, message, None)
    assert message.options == {"redis_message_id": "clt.not-really", "lease_token": f"Bearer {TOKEN}",
                               "predecessor": CLIENT_SECRET,
                               "traceback": f"boom {MASK}", "nested": {"why": [MASK]}, "retries": 2}


@pytest.mark.parametrize("make", [lambda settings, fake: build_broker(settings, client=fake), producer_broker],
                         ids=["workers", "producers"])
def test_the_fleets_brokers_scrub_what_they_enqueue(settings, fake, make):
    broker = make(settings, fake)
    assert any(isinstance(middleware, SecretRedaction) for middleware in broker.middleware)


# --- our own dead-letter record ---------------------------------------------------------------------


def test_a_dead_letter_reason_that_quotes_a_secret_is_stored_scrubbed(global_context, plan, broker, fake):
    message = messages.build(PageTask(harvest_id=plan.id, window=WINDOW, page=0))
    proxy = MessageProxy(message.copy(options={"redis_message_id": "r1", "retries": 1}))
    proxy.fail()
    error = PermanentError(f"token request refused: client_secret {CLIENT_SECRET} bad; got {TOKEN}", status=400)
    DeadLetters().after_process_message(broker, proxy, exception=error)
    (letter,) = list_dead(fake, global_context.keys)
    assert letter.reason.startswith("token request refused: client_secret") and MASK in letter.reason
    assert_nothing_secret(letter.reason)
    assert_nothing_secret(dump(fake))


# --- logs --------------------------------------------------------------------------------------------


@pytest.fixture
def log_stream():
    """A stream on the root logger (whose handlers configure_logging formats); the process's
    logging put back afterwards. The test points stderr at it too: pytest puts its own stderr
    back between a fixture and the test."""
    stream = io.StringIO()
    root = logging.getLogger()
    saved = [(handler, handler.formatter) for handler in root.handlers], root.level
    handler = logging.StreamHandler(stream)
    root.addHandler(handler)
    yield stream
    root.removeHandler(handler)
    for other, formatter in saved[0]:
        other.setFormatter(formatter)
    root.setLevel(saved[1])
    for name in ("httpx", "httpcore"):
        logging.getLogger(name).setLevel(logging.NOTSET)
    structlog.reset_defaults()


@pytest.mark.parametrize("as_json", [True, False], ids=["json", "console"])
def test_log_lines_hold_no_secret_from_fields_messages_or_tracebacks(log_stream, as_json, monkeypatch):
    monkeypatch.setattr(sys, "stderr", log_stream)
    configure_logging("INFO", json=as_json)
    log = structlog.get_logger("leak-test")
    log.warning("token_refresh", secret=CLIENT_SECRET, header=f"Bearer {TOKEN}",
                nested={"form": f"client_secret={CLIENT_SECRET}"}, error=RuntimeError(TOKEN))
    logging.getLogger("httpx").warning("request failed: %s", f"Authorization: Bearer {TOKEN}")
    try:
        # What h11 says of a token with a line break, plus a secret for good measure.
        raise httpx.LocalProtocolError(f"Illegal header value {f'Bearer {BROKEN_TOKEN}'.encode()!r} ({CLIENT_SECRET})")
    except httpx.LocalProtocolError:
        log.exception("call_failed")
        # As Dramatiq's worker logs an actor's failure.
        logging.getLogger("dramatiq.worker.WorkerThread").error(
            "Failed to process message %s with unhandled exception.", "leaky()", exc_info=True)
    output = log_stream.getvalue()
    # Every line was written, exceptions included, and says nothing secret.
    for said in ("token_refresh", "request failed", "call_failed", "Failed to process message", "LocalProtocolError"):
        assert said in output
    assert output.count("Traceback (most recent call last)") == 2
    assert_nothing_secret(output)
    assert CLIENT_KEY not in output
    if as_json:
        assert all(json.loads(line) for line in output.splitlines() if line.startswith("{"))
