"""Masking secrets in text that leaves a process: log lines, queued messages, dead letters,
URLs printed by the command line.

Our own code never puts a secret or a token into a message or an error, but other
libraries' exception texts can quote what they were handed (a header value, a form body),
and Dramatiq stores formatted tracebacks in the messages it re-enqueues. This is the last
line of defence behind that rule, so it errs on the side of masking too much.

What is masked (by MASK):
- every client secret and client key (of at least MIN_LENGTH characters) of the credentials
  this process has loaded, also URL-encoded, JSON-escaped and repr-escaped
  (`core.credentials` registers them);
- anything shaped like a TikTok access token: `clt.` and the characters that follow it;
- whatever follows `Bearer ` or an `Authorization:` header name;
- the value of a `client_secret`, `client_key`, `access_token`, `refresh_token` or
  `password` field (`name=value`, `"name": "value"`);
- the user name and password of a URL (`scheme://user:password@`).
"""

import json
import re
import threading
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import quote, quote_plus

from dramatiq import Middleware

# Not "[redacted]": the command line prints through rich, which would take square brackets
# for markup and print nothing at all.
MASK = "<redacted>"

# Shorter values are not registered: masking them would garble ordinary text (a secret that
# happens to be a project's name would vanish from every line). TikTok's client keys and
# secrets are far longer; a short one is still masked where it appears as `client_secret=…`.
MIN_LENGTH = 8

_lock = threading.Lock()
_registered: frozenset[str] = frozenset()
_registered_pattern: re.Pattern | None = None

_RULES = [
    # key=value and "key": "value" forms (a form body, a dict's repr, a URL's query)
    (re.compile(r"""(?i)\b((?:client_secret|client_key|access_token|refresh_token|password)['"]?\s*[:=]\s*b?['"]?)"""
                r"""[^\s&'",;)}]+"""), r"\g<1>" + MASK),
    # an Authorization header: the rest of the line
    (re.compile(r"""(?i)\b(authorization['"]?\s*[:=]\s*)[^\r\n]+"""), r"\g<1>" + MASK),
    # a bearer credential: up to a closing quote or the end of the line, so that a token
    # with escaped control characters in it (h11's "Illegal header value b'Bearer …'") goes whole
    (re.compile(r"""(?i)\b(bearer\s+)[^'"\r\n]+"""), r"\g<1>" + MASK),
    # a TikTok access token anywhere, backslash escapes included
    (re.compile(r"""(?i)clt\.[^\s'"<>,;(){}\[\]]+"""), MASK),
    # a URL's user info, up to the last "@" before the path
    (re.compile(r"""(?i)\b([a-z][a-z0-9+.\-]*://)[^/\s'"]+@"""), r"\g<1>" + MASK + "@"),
]

# Query parameters of a URL that may carry a credential.
_SENSITIVE_PARAM = re.compile(r"(?i)pass|pwd|secret|token|auth|key|user|cred")


def _forms(value: str) -> set[str]:
    """The ways a value shows up in text: as is, URL-encoded (a form body), escaped in JSON
    or in a Python repr (a traceback quoting a dict)."""
    # (surrogatepass: registering must never fail, whatever a value holds)
    forms = {value, quote(value, safe="", errors="surrogatepass"), quote_plus(value, errors="surrogatepass"),
             json.dumps(value)[1:-1], repr(value)[1:-1]}
    forms.discard("")  # an empty alternative would match everywhere
    return forms


def register_credentials(credentials: Iterable) -> None:
    """Remember the client secrets and keys of loaded credentials (objects with `client_key`
    and `client_secret`), process-wide, so that `scrub` masks them from now on. Values are
    only added: a rotated secret can still appear in the tracebacks of messages in flight."""
    global _registered, _registered_pattern
    new = set()
    for credential in credentials:
        # Client keys are identifiers rather than secrets, but cost nothing to mask as well.
        for value in (credential.client_secret, credential.client_key):
            if isinstance(value, str) and len(value) >= MIN_LENGTH:
                new |= _forms(value)
    with _lock:
        if new <= _registered:
            return
        values = _registered | new
        # Longest first, so a key that is part of a secret never leaves the rest of it behind.
        pattern = re.compile("|".join(re.escape(value) for value in sorted(values, key=len, reverse=True)))
        _registered, _registered_pattern = frozenset(values), pattern


def scrub(text: str) -> str:
    """`text` with every secret it holds replaced by MASK."""
    pattern = _registered_pattern
    if pattern is not None:
        text = pattern.sub(MASK, text)
    for rule, replacement in _RULES:
        text = rule.sub(replacement, text)
    return text


def scrub_data(value: Any, other: Callable[[Any], Any] = lambda value: value) -> Any:
    """`value` with every string in it scrubbed, through dicts (keys too), lists and tuples;
    anything else goes through `other` (left as it is by default)."""
    if isinstance(value, str):
        return scrub(value)
    if isinstance(value, dict):
        return {scrub_data(key, other): scrub_data(item, other) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        # Plain ones back: a named tuple's class would not take a single iterable.
        items = [scrub_data(item, other) for item in value]
        return tuple(items) if isinstance(value, tuple) else items
    return other(value)


def mask_url(url: str) -> str:
    """`url` fit to print: scheme, host, port and path (the Redis database) kept; the user
    info and query parameters that may hold a credential (`?password=`) masked.

    Deliberately rough rather than a parser: a password with an unencoded "@", "/" or "?" in
    it breaks a parser's idea of where the host starts, so everything up to the last "@"
    counts as user info."""
    base, question, query = url.partition("?")
    if question:
        query = "&".join(_mask_param(param) for param in query.split("&"))
    scheme, separator, rest = (base + question + query).partition("://")
    if separator and "@" in rest:
        rest = MASK + "@" + rest.rpartition("@")[2]
    return scrub(scheme + separator + rest)


def _mask_param(param: str) -> str:
    name, equals, _ = param.partition("=")
    return f"{name}={MASK}" if equals and _SENSITIVE_PARAM.search(name) else param


# --- the brokers' middleware -------------------------------------------------------------
# Masks secrets in a message's options before Dramatiq writes the message to Redis.
# Dramatiq's Retries keeps the failure's formatted traceback in `options["traceback"]` and
# enqueues the message again with it; when the message later fails for good, that stored body
# stays in Dramatiq's dead-letter queue for a month. A library's exception text can quote what
# it was handed (a header value, a form body), so every string option is scrubbed on the way
# in: whatever reaches a queue, a retry or a dead-letter queue was scrubbed here first.

# Generated identifiers (Dramatiq's id in Redis, a parked copy's lease token and the one it
# took over from), never free text and compared byte for byte by acks and leases: left exactly
# as they are. An option added later is scrubbed unless it is named here.
IDENTIFIERS = frozenset({"redis_message_id", "lease_token", "predecessor"})


class SecretRedaction(Middleware):
    """Message arguments are left alone: by design they name a credential and never carry a
    secret, and scrubbing them could change what a harvest searches for."""

    def before_enqueue(self, broker, message, delay):
        # Message.options is a plain dict, encoded right after the "before" hooks have run.
        options = message.options
        for name, value in list(options.items()):
            if name in IDENTIFIERS:
                continue
            try:
                options[name] = scrub_data(value)
            except Exception:
                # Dramatiq logs a failing hook and enqueues anyway: fail closed instead.
                options[name] = MASK
