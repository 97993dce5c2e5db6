"""What the HTTP layer hands the app (:class:`Request`) and gets back (:class:`Response`)."""

from __future__ import annotations

from collections.abc import Mapping
from email.message import Message
from typing import TypeAlias

import msgspec

from simulator.query import QueryError

# A request's headers: http.server's, or a plain mapping in tests.
Headers: TypeAlias = Mapping[str, str] | Message
JSON = "application/json"

_decode = msgspec.json.decode


class Response(msgspec.Struct):
    status: int  # RESET (0): answer nothing and reset the connection
    body: bytes
    content_type: str = JSON
    delay_s: float = 0.0


class Request:
    __slots__ = ("query_string", "headers", "body")

    def __init__(self, query_string: str, headers: Headers, body: bytes) -> None:
        self.query_string, self.headers, self.body = query_string, headers, body

    def json(self) -> dict:
        """The body, which must be a JSON object (QueryError: a 400 to answer)."""
        try:
            value = _decode(self.body) if self.body else None
        except msgspec.DecodeError as exc:
            raise QueryError(f"Invalid JSON body: {exc}") from None
        if not isinstance(value, dict):
            raise QueryError("The request body must be a JSON object")
        return value


def json_response(value, status: int = 200) -> Response:
    return Response(status, msgspec.json.encode(value))
