"""Masks secrets in a message's options before Dramatiq writes the message to Redis.

Dramatiq's Retries keeps the failure's formatted traceback in `options["traceback"]` and
enqueues the message again with it; when the message later fails for good, that stored body
stays in Dramatiq's dead-letter queue for a month. A library's exception text can quote what
it was handed (a header value, a form body), so every string option is scrubbed on the way
in: whatever reaches a queue, a retry or a dead-letter queue was scrubbed here first.
"""

from dramatiq import Middleware

from core.redaction import MASK, scrub_data

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
