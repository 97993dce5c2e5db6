"""The OAuth access token the whole fleet shares, per credential.

Kept in Redis encrypted with a key derived from the client secret (a Redis dump yields
nothing usable), refreshed ahead of expiry by a fraction of its lifetime, replaced once when
TikTok calls it invalid. One process refreshes at a time (a short lock); the others keep
using the still-valid token or wait a moment for the new one.
"""

import base64
import json
import threading
import time
import uuid
from dataclasses import dataclass

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from redis.exceptions import WatchError

from core import lua
from core.keys import Keys
from schemas.credentials import Credential
from workers.tiktok.errors import TransientError

# Refresh once this share of the lifetime has passed (TikTok's lifetime can be short).
REFRESH_AT_FRACTION = 0.8
LOCK_TTL_MS = 15_000


def fernet_for(credential: Credential) -> Fernet:
    key = HKDF(
        algorithm=hashes.SHA256(), length=32, salt=b"icandid-tiktok-token-v1",
        info=credential.client_key.encode(),
    ).derive(credential.client_secret.encode())
    return Fernet(base64.urlsafe_b64encode(key))


@dataclass(frozen=True)
class _Cached:
    ciphertext: bytes
    token: str
    refresh_at: float
    expires_at: float


class TokenCache:
    def __init__(self, redis, keys: Keys, request_token, *, clock=time.time):
        """`request_token(client_key, client_secret) -> (token, lifetime_s)`."""
        self._redis = redis
        self._keys = keys
        self._request_token = request_token
        self._clock = clock
        self._local: dict[str, _Cached] = {}
        self._fernets: dict[Credential, Fernet] = {}
        self._mutex = threading.Lock()
        self._release = lua.register(redis, "release", __package__, "")

    def get(self, name: str, credential: Credential) -> str:
        for _ in range(50):
            cached = self._read(name, credential)
            now = self._clock()
            if cached and now < cached.refresh_at:
                return cached.token
            holder = uuid.uuid4().hex
            if self._redis.set(self._keys.token_lock(name), holder, nx=True, px=LOCK_TTL_MS):
                try:
                    return self._refresh(name, credential)
                finally:
                    # Only our own lock: a slow refresh may have outlived it.
                    self._release(keys=[self._keys.token_lock(name)], args=[holder])
            # Another process is refreshing: a token that still works is good enough.
            if cached and now < cached.expires_at:
                return cached.token
            time.sleep(0.1)
        raise TransientError("no access token: another worker holds the refresh lock")

    def invalidate(self, name: str, credential: Credential, token: str) -> None:
        """TikTok rejected `token`: drop it, unless another process already replaced it."""
        cached = self._read(name, credential)
        if cached and cached.token == token:
            # Compare-and-delete on the ciphertext, so a fresh token is never thrown away.
            with self._redis.pipeline() as pipe:
                try:
                    pipe.watch(self._keys.token(name))
                    if pipe.get(self._keys.token(name)) == cached.ciphertext:
                        pipe.multi()
                        pipe.delete(self._keys.token(name))
                        pipe.execute()
                except WatchError:  # someone else changed it, which is all we wanted
                    pass
        self._local.pop(name, None)

    def _fernet(self, credential: Credential) -> Fernet:
        # Keyed by the credential itself, so a rotated secret gets its own key.
        fernet = self._fernets.get(credential)
        if fernet is None:
            fernet = self._fernets[credential] = fernet_for(credential)
        return fernet

    def _read(self, name: str, credential: Credential) -> _Cached | None:
        ciphertext = self._redis.get(self._keys.token(name))
        if ciphertext is None:
            return None
        local = self._local.get(name)
        if local and local.ciphertext == ciphertext:
            return local
        try:
            payload = json.loads(self._fernet(credential).decrypt(ciphertext))
        except (InvalidToken, ValueError):
            return None  # written under another secret: treat as absent
        cached = _Cached(ciphertext, payload["t"], payload["r"], payload["e"])
        with self._mutex:
            self._local[name] = cached
        return cached

    def _refresh(self, name: str, credential: Credential) -> str:
        token, lifetime = self._request_token(credential.client_key, credential.client_secret)
        now = self._clock()
        payload = {"t": token, "r": now + lifetime * REFRESH_AT_FRACTION, "e": now + lifetime}
        ciphertext = self._fernet(credential).encrypt(json.dumps(payload).encode())
        self._redis.set(self._keys.token(name), ciphertext, px=max(1000, int(lifetime * 1000)))
        with self._mutex:
            self._local[name] = _Cached(ciphertext, token, payload["r"], payload["e"])
        return token
