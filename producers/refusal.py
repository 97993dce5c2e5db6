"""The one way a spec is refused: SpecRefused, naming the field it is about.

A refusal often repeats part of the spec (an unknown key, a bad value), and the spec may come
from anyone. What it repeats is escaped and cut short, so a refusal printed on a terminal or
written to a log shows the input and cannot act on it (no escape sequences, no forged lines).
"""

MAX_SHOWN_CHARS = 300


class SpecRefused(Exception):
    def __init__(self, field: str, problem: str):
        self.field = shown(field, 80) or "spec"  # an empty key is still about the spec
        self.problem = shown(problem, MAX_SHOWN_CHARS)
        super().__init__(f"field `{self.field}`: {self.problem}")


def shown(text: str, limit: int = MAX_SHOWN_CHARS) -> str:
    """`text` as it may be printed: control characters and lone surrogates escaped, at most
    `limit` characters."""
    text = str(text)
    if not text.isprintable():
        text = repr(text)[1:-1]
    return text if len(text) <= limit else text[: limit - 1] + "…"
