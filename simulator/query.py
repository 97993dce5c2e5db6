"""The Research API's query language, compiled once per search into a Python predicate.

``{"and": [cond…], "or": [cond…], "not": [cond…]}``: all of ``and``, at least one of
``or``, none of ``not``.  A cond is ``{"field_name", "operation", "field_values"}``.
Anything malformed raises :class:`QueryError`, which the app answers as 400
``invalid_params`` with the error's message.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

Predicate = Callable[[Any], bool]

OPERATIONS = ("EQ", "IN", "GT", "GTE", "LT", "LTE")
ORDERED_FIELDS = {"create_date", "video_id", "view_count", "comment_count", "music_id"}
SET_FIELDS = {"username", "region_code", "hashtag_name", "keyword", "effect_id", "video_length"}
LENGTH_NAMES = {"SHORT", "MID", "LONG", "EXTRA_LONG"}
# Attribute of simulator.corpus.Video that an ordered field compares against.
ORDERED_ATTR = {"create_date": "create_date", "video_id": "id", "view_count": "view_count",
                "comment_count": "comment_count", "music_id": "music_id"}
MAX_WINDOW_DAYS = 30


class QueryError(ValueError):
    """A request the API rejects with 400 invalid_params; str() is the message."""


def parse_date(value: Any, name: str) -> dt.date:
    if not isinstance(value, str) or len(value) != 8 or not value.isdigit():
        raise QueryError(f"Invalid {name}: expected yyyymmdd, got {value!r}")
    try:
        return dt.date(int(value[:4]), int(value[4:6]), int(value[6:]))
    except ValueError:
        raise QueryError(f"Invalid {name}: {value!r} is not a date") from None


def parse_window(body: dict, max_days: int | None = MAX_WINDOW_DAYS) -> tuple[dt.date, dt.date]:
    """start_date..end_date, end inclusive; end at most ``max_days`` after start."""
    if "start_date" not in body or "end_date" not in body:
        raise QueryError("start_date and end_date are required")
    start = parse_date(body["start_date"], "start_date")
    end = parse_date(body["end_date"], "end_date")
    if end < start:
        raise QueryError("end_date must be on or after start_date")
    if max_days is not None and (end - start).days > max_days:
        raise QueryError(f"end_date must be no more than {max_days} days after start_date")
    return start, end


def parse_paging(body: dict, default_max_count: int) -> tuple[int, int]:
    """(max_count, cursor) of a paged request, refused as TikTok refuses them."""
    max_count = body.get("max_count", default_max_count)
    if type(max_count) is not int or not 1 <= max_count <= 100:
        raise QueryError("max_count must be an integer between 1 and 100")
    cursor = body.get("cursor", 0)
    if type(cursor) is not int or cursor < 0:
        raise QueryError("Invalid count or cursor")
    return max_count, cursor


def parse_id(value: Any, name: str) -> int:
    """An id sent as a JSON integer or as a string of digits."""
    if type(value) is int and value >= 0:
        return value
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 20:
        return int(value)
    raise QueryError(f"Invalid {name}: {value!r} is not an id")


def _int(field: str, value: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise QueryError(f"Invalid field_values for {field}: {value!r} is not a number") from None


def _ordered_value(field: str, value: str) -> int:
    if field == "create_date":
        parse_date(value, "create_date")
    return _int(field, value)


def _compile_cond(cond: Any) -> Predicate:
    if not isinstance(cond, dict):
        raise QueryError("Each condition must be an object")
    field, op, values = cond.get("field_name"), cond.get("operation"), cond.get("field_values")
    if op not in OPERATIONS:
        raise QueryError(f"Invalid operation: {op!r}")
    if field not in ORDERED_FIELDS and field not in SET_FIELDS:
        raise QueryError(f"Invalid field_name: {field!r}")
    if not isinstance(values, list) or not values:
        raise QueryError(f"field_values of {field} must be a non-empty list")
    # TikTok documents string values; numbers are accepted leniently.
    values = [str(x) if isinstance(x, (int, str)) and not isinstance(x, bool) else None for x in values]
    if None in values:
        raise QueryError(f"field_values of {field} must be strings")

    if op in ("GT", "GTE", "LT", "LTE"):
        if field not in ORDERED_FIELDS:
            raise QueryError(f"Operation {op} is not supported on {field}")
        return _compare(ORDERED_ATTR[field], op, _ordered_value(field, values[0]))
    if field in ORDERED_FIELDS:
        wanted = frozenset(_ordered_value(field, x) for x in values)
        attr = ORDERED_ATTR[field]
        return lambda v: getattr(v, attr) in wanted
    return _compile_set(field, values)


def _compare(attr: str, op: str, ref: int) -> Predicate:
    if op == "GT":
        return lambda v: (x := getattr(v, attr)) is not None and x > ref
    if op == "GTE":
        return lambda v: (x := getattr(v, attr)) is not None and x >= ref
    if op == "LT":
        return lambda v: (x := getattr(v, attr)) is not None and x < ref
    return lambda v: (x := getattr(v, attr)) is not None and x <= ref


def _compile_set(field: str, values: list[str]) -> Predicate:
    if field == "username":
        names = frozenset(x.lower() for x in values)
        return lambda v: v.username in names
    if field == "region_code":
        regions = frozenset(x.upper() for x in values)
        return lambda v: v.region_code in regions
    if field == "hashtag_name":
        tags = frozenset(x.lower().lstrip("#") for x in values)
        return lambda v: not tags.isdisjoint(v.tags_lower)
    if field == "keyword":
        words = tuple(x.lower() for x in values)
        return lambda v: any(w in v.desc_lower for w in words)
    if field == "effect_id":
        effects = frozenset(values)
        return lambda v: v.effect_ids is not None and not effects.isdisjoint(v.effect_ids)
    lengths = frozenset(x.upper() for x in values)
    if not lengths <= LENGTH_NAMES:
        raise QueryError(f"Invalid video_length: {sorted(lengths - LENGTH_NAMES)}")
    return lambda v: v.length in lengths


def _compile_list(query: dict, key: str) -> list[Predicate]:
    conds = query.get(key)
    if conds is None:
        return []
    if not isinstance(conds, list):
        raise QueryError(f"query.{key} must be a list of conditions")
    return [_compile_cond(c) for c in conds]


def compile_query(query: Any) -> Predicate:
    """Validate ``query`` and return ``predicate(video) -> bool``."""
    if not isinstance(query, dict):
        raise QueryError("query is required and must be an object")
    unknown = set(query) - {"and", "or", "not"}
    if unknown:
        raise QueryError(f"Invalid query keys: {sorted(unknown)}")
    ands, ors, nots = (_compile_list(query, k) for k in ("and", "or", "not"))
    if not (ands or ors or nots):
        raise QueryError("query needs at least one non-empty and/or/not list")

    def predicate(v: Any) -> bool:
        for p in ands:
            if not p(v):
                return False
        if ors and not any(p(v) for p in ors):
            return False
        for p in nots:
            if p(v):
                return False
        return True

    return predicate
