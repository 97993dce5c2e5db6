"""The fleet's shared access token (workers/tiktok/tokens.py) on fakeredis with a fake clock."""

import datetime as dt

import fakeredis
import pytest
from cryptography.fernet import InvalidToken

import workers.tiktok.tokens as tokens_module
from core.keys import Keys
from schemas.credentials import Credential
from tests.redis_dump import redis_dump
from workers.tiktok.errors import TransientError
from workers.tiktok.tokens import TokenCache, fernet_for

KEYS = Keys("unit")
NAME = "climate-key"
SECRET = "S3CRET-old-0123456789abcdef"
NEW_SECRET = "S3CRET-new-fedcba9876543210"


def credential(secret: str = SECRET) -> Credential:
    return Credential(project="climate", client_key="KEY-climate", client_secret=secret,
                      access_start=dt.date(2024, 1, 1), access_end=dt.date(2026, 12, 31))


class Clock:
    def __init__(self, now: float = 1_000_000.0):
        self.now = now

    def __call__(self) -> float:
        return self.now


class TokenEndpoint:
    """Stands in for TikTokClient.request_token: a new token each call."""

    def __init__(self, lifetime: float = 1000.0):
        self.lifetime = lifetime
        self.calls: list[tuple[str, str]] = []

    def __call__(self, client_key: str, client_secret: str):
        self.calls.append((client_key, client_secret))
        return f"clt.fleet-token-{len(self.calls)}", self.lifetime


@pytest.fixture
def redis():
    return fakeredis.FakeRedis()


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def endpoint():
    return TokenEndpoint()


def cache(redis, endpoint, clock) -> TokenCache:
    return TokenCache(redis, KEYS, endpoint, clock=clock)


def test_token_is_stored_only_encrypted(redis, endpoint, clock):
    token = cache(redis, endpoint, clock).get(NAME, credential())
    assert token == "clt.fleet-token-1"
    assert endpoint.calls == [("KEY-climate", SECRET)]
    assert redis.keys("*") == [KEYS.token(NAME).encode()]  # the refresh lock is gone again
    everything = redis_dump(redis)
    for plain in (token, SECRET, "fleet-token"):
        assert plain.encode() not in everything
    stored = redis.get(KEYS.token(NAME))
    assert token.encode() in fernet_for(credential()).decrypt(stored)
    # it expires from Redis with the token's lifetime
    assert 990_000 < redis.pttl(KEYS.token(NAME)) <= 1_000_000


def test_second_process_reuses_the_token_without_a_request(redis, endpoint, clock):
    first = cache(redis, endpoint, clock).get(NAME, credential())
    second = cache(redis, endpoint, clock).get(NAME, credential())
    assert second == first
    assert len(endpoint.calls) == 1


def test_refresh_after_80_percent_of_the_lifetime_not_before(redis, endpoint, clock):
    start = clock.now
    a = cache(redis, endpoint, clock)
    b = cache(redis, endpoint, clock)
    assert a.get(NAME, credential()) == "clt.fleet-token-1"
    clock.now = start + 799.0  # lifetime 1000 s: refresh is due at 800 s
    assert a.get(NAME, credential()) == "clt.fleet-token-1"
    assert b.get(NAME, credential()) == "clt.fleet-token-1"
    assert len(endpoint.calls) == 1
    clock.now = start + 801.0
    assert b.get(NAME, credential()) == "clt.fleet-token-2"
    assert a.get(NAME, credential()) == "clt.fleet-token-2"  # the other process's new token
    assert len(endpoint.calls) == 2


def test_short_lifetime_is_honoured(redis, clock):
    endpoint = TokenEndpoint(lifetime=60)
    start = clock.now
    a = cache(redis, endpoint, clock)
    a.get(NAME, credential())
    clock.now = start + 47
    a.get(NAME, credential())
    assert len(endpoint.calls) == 1
    clock.now = start + 49
    assert a.get(NAME, credential()) == "clt.fleet-token-2"


def test_while_another_process_refreshes_a_still_valid_token_is_used(redis, endpoint, clock):
    start = clock.now
    a = cache(redis, endpoint, clock)
    a.get(NAME, credential())
    redis.set(KEYS.token_lock(NAME), "1")  # someone else is refreshing
    clock.now = start + 900  # past refresh time, before expiry
    assert cache(redis, endpoint, clock).get(NAME, credential()) == "clt.fleet-token-1"
    assert len(endpoint.calls) == 1


def test_no_token_and_lock_held_gives_up_transiently(redis, endpoint, clock, monkeypatch):
    redis.set(KEYS.token_lock(NAME), "1")
    monkeypatch.setattr(tokens_module.time, "sleep", lambda seconds: None)
    with pytest.raises(TransientError):
        cache(redis, endpoint, clock).get(NAME, credential())
    assert endpoint.calls == []


def test_invalidate_drops_the_rejected_token(redis, endpoint, clock):
    a = cache(redis, endpoint, clock)
    token = a.get(NAME, credential())
    a.invalidate(NAME, credential(), token)
    assert redis.get(KEYS.token(NAME)) is None
    assert a.get(NAME, credential()) == "clt.fleet-token-2"
    assert len(endpoint.calls) == 2


def test_invalidate_keeps_a_newer_token_written_by_another_process(redis, endpoint, clock):
    a = cache(redis, endpoint, clock)
    b = cache(redis, endpoint, clock)
    old = a.get(NAME, credential())
    # Process B saw the old token rejected first and replaced it.
    b.invalidate(NAME, credential(), old)
    new = b.get(NAME, credential())
    assert new == "clt.fleet-token-2"
    stored = redis.get(KEYS.token(NAME))
    # Process A's late 401 for the old token must not throw the new one away.
    a.invalidate(NAME, credential(), old)
    assert redis.get(KEYS.token(NAME)) == stored
    assert a.get(NAME, credential()) == new
    assert len(endpoint.calls) == 2


def test_token_written_under_another_secret_is_treated_as_absent(redis, endpoint, clock):
    cache(redis, endpoint, clock).get(NAME, credential(SECRET))
    other = cache(redis, endpoint, clock)
    assert other.get(NAME, credential(NEW_SECRET)) == "clt.fleet-token-2"
    assert endpoint.calls[-1] == ("KEY-climate", NEW_SECRET)
    stored = redis.get(KEYS.token(NAME))
    assert b"clt.fleet-token-2" in fernet_for(credential(NEW_SECRET)).decrypt(stored)
    with pytest.raises(InvalidToken):
        fernet_for(credential(SECRET)).decrypt(stored)


def test_rotated_secret_is_used_to_encrypt_after_rotation(redis, endpoint, clock):
    # Was a bug (Fernet cached per credential name): fixed in workers/tiktok/tokens.py while these tests were written.
    start = clock.now
    running = cache(redis, endpoint, clock)
    running.get(NAME, credential(SECRET))
    # The credentials file now holds a new secret; the running process re-reads it.
    clock.now = start + 900
    running.get(NAME, credential(NEW_SECRET))
    stored = redis.get(KEYS.token(NAME))
    assert b"clt.fleet-token" in fernet_for(credential(NEW_SECRET)).decrypt(stored)
    # A process started after the rotation reuses that token without a request of its own.
    calls = len(endpoint.calls)
    cache(redis, endpoint, clock).get(NAME, credential(NEW_SECRET))
    assert len(endpoint.calls) == calls


def test_slow_refresh_does_not_release_another_process_lock(redis, clock):
    def slow_endpoint(client_key, client_secret):
        # our lock expired during the request, and another process took it
        redis.set(KEYS.token_lock(NAME), "other-process", px=15_000)
        return "clt.slow", 1000.0

    assert cache(redis, slow_endpoint, clock).get(NAME, credential()) == "clt.slow"
    assert redis.get(KEYS.token_lock(NAME)) is not None
