"""TikTok down for a while: the outage switch's deadline and what a down service answers.

``outage_status`` and ``outage_mode`` are ordinary switches in :class:`SimConfig`; this
module holds the end of a timed outage (``outage_for_s``) and the bodies of its answers.
The deadline is on ``time.monotonic()``, not on the simulator's clock: that clock is
shifted by tests to cross quota days, while an outage is something a client has to sit
through in real time, so shifting the quota day must not end or prolong it.
"""

from __future__ import annotations

import time
from http import HTTPStatus

# Gateways in front of TikTok answer these with an HTML page; the API itself answers JSON.
GATEWAY_STATUSES = frozenset({502, 504})
RESET = 0  # Response.status that means: no answer, reset the connection
_NGINX_PHRASES = {504: "Gateway Time-out"}  # where nginx's wording differs from the RFC's


def gateway_page(status: int) -> bytes:
    """The HTML page a gateway serves for ``status``, titled as nginx titles it."""
    title = f"{status} {_NGINX_PHRASES.get(status) or _phrase(status)}"
    return (f"<html><head><title>{title}</title></head><body><center>"
            f"<h1>{title}</h1></center></body></html>").encode("ascii")


def outage_message(status: int) -> str:
    """The error message of a JSON outage answer."""
    return f"{_phrase(status) or 'Server error'}. Please try again later."


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return ""


class Outage:
    """When the current outage ends by itself (no deadline: when switched off).

    The deadline is one attribute, replaced whole, so readers need no lock; the app
    serialises the writers with its config lock.
    """

    def __init__(self) -> None:
        self._until: float | None = None

    def end_after(self, seconds: float | None) -> None:
        """End the outage ``seconds`` from now; None removes the deadline."""
        self._until = None if seconds is None else time.monotonic() + seconds

    def expired(self) -> bool:
        until = self._until
        return until is not None and time.monotonic() >= until

    def remaining_s(self) -> float | None:
        until = self._until
        return None if until is None else round(max(0.0, until - time.monotonic()), 3)
