"""Untrusted spec input made safe to hand to msgspec.

A spec is a file anyone may have written, or a document another service sent. Before it is
typed, it is bounded and decoded strictly: at most MAX_SPEC_BYTES of UTF-8, no YAML anchors
or aliases (a few hundred bytes of nested aliases expand to gigabytes: "billion laughs"),
nesting no deeper than a spec has, keys that are strings and text that can be encoded again.
Whatever the parsers throw at hostile input becomes a SpecRefused naming `file`.
"""

import json
import re
from pathlib import Path

import yaml

from producers.refusal import SpecRefused

MAX_SPEC_BYTES = 256 * 1024  # a spec with every list at its limit is under 30 KiB
MAX_NESTING = 16  # a spec's deepest value, a query's field_values, sits at depth 5

# libyaml when it is there (fast, and it does not recurse per nesting level); same results.
_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_OPENING = (yaml.MappingStartEvent, yaml.SequenceStartEvent)
_CLOSING = (yaml.MappingEndEvent, yaml.SequenceEndEvent)
# Control characters (C0, DEL, C1) have no place in a spec; lone surrogates cannot be
# encoded as UTF-8 again (msgspec would fail on them later, far from the input).
_NOT_TEXT = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff]")


def read_spec_file(path: Path) -> dict:
    """Parse a YAML or JSON spec file into plain data. Raises SpecRefused (field `file`)."""
    path = Path(path)
    text = _read_text(path)
    data = _parse_json(path, text) if path.suffix.lower() == ".json" else _parse_yaml(path, text)
    if not isinstance(data, dict):
        raise SpecRefused("file", f"{path} must hold a mapping of spec fields")
    return data


def _read_text(path: Path) -> str:
    try:
        with path.open("rb") as handle:
            raw = handle.read(MAX_SPEC_BYTES + 1)  # never more, whatever the file is
    except OSError as error:
        raise SpecRefused("file", f"cannot read {path}: {error.strerror}") from None
    if len(raw) > MAX_SPEC_BYTES:
        raise SpecRefused("file", f"{path} is larger than {MAX_SPEC_BYTES // 1024} KiB; a spec is far smaller")
    try:
        return raw.decode("utf-8-sig")  # a byte-order mark, as some editors write, is dropped
    except UnicodeDecodeError as error:
        raise SpecRefused("file", f"{path} is not UTF-8 text (byte {error.start})") from None


def _parse_json(path: Path, text: str):
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise SpecRefused("file", f"{path} does not parse: {error}") from None
    except RecursionError:
        raise SpecRefused("file", f"{path} nests deeper than {MAX_NESTING} levels") from None
    except ValueError as error:  # e.g. an integer of more than 4,300 digits
        raise SpecRefused("file", f"{path} holds a value Python cannot read: {error}") from None


def _parse_yaml(path: Path, text: str):
    try:
        _check_yaml_shape(path, text)
        return yaml.load(text, Loader=_YAML_LOADER)
    except yaml.MarkedYAMLError as error:
        where = f" (line {error.problem_mark.line + 1})" if error.problem_mark else ""
        problem = error.problem or error.context or "malformed YAML"
        raise SpecRefused("file", f"{path} does not parse{where}: {problem}") from None
    except yaml.YAMLError as error:
        raise SpecRefused("file", f"{path} does not parse: {error}") from None
    except (ValueError, TypeError, OverflowError, RecursionError) as error:
        # PyYAML's constructors raise these themselves, e.g. for `2024-13-45` (a timestamp
        # that is no day) or an integer of more than 4,300 digits.
        raise SpecRefused("file", f"{path} holds a value YAML cannot read: {error}") from None


def _check_yaml_shape(path: Path, text: str) -> None:
    """Walk the parser's events, before anything is built: no anchor or alias, no explicit
    tag (`!!binary`, `!!timestamp`, … reach constructors that fail in odd ways, and a spec
    needs none), and no nesting deeper than MAX_NESTING."""
    depth = 0
    for event in yaml.parse(text, Loader=_YAML_LOADER):
        line = event.start_mark.line + 1 if event.start_mark else "?"
        if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None):
            raise SpecRefused("file", f"{path} uses a YAML anchor or alias (line {line}); write each value out")
        if getattr(event, "tag", None):
            raise SpecRefused("file", f"{path} uses a YAML tag (line {line}); quote a value to make it text")
        if isinstance(event, _OPENING):
            depth += 1
            if depth > MAX_NESTING:
                raise SpecRefused("file", f"{path} nests deeper than {MAX_NESTING} levels")
        elif isinstance(event, _CLOSING):
            depth -= 1


def check_plain_data(data) -> None:
    """Refuse plain data msgspec must not see: keys that are not strings, strings with control
    characters or lone surrogates, nesting deeper than MAX_NESTING. Names the top-level field
    the problem is under (`spec` for a top-level key). Anything else is left to the types."""
    if not isinstance(data, dict):
        return  # msgspec says "Expected `object`" and names `spec`
    for key, value in data.items():
        if not isinstance(key, str) or _NOT_TEXT.search(key):
            raise SpecRefused("spec", f"has a key that is not plain text: {key!r}")
        _check_value(key, value)


def _check_value(field: str, value) -> None:
    pending = [(value, 1)]  # a stack, not recursion: the input decides how deep this goes
    while pending:
        item, depth = pending.pop()
        if depth > MAX_NESTING:
            raise SpecRefused(field, f"nests deeper than {MAX_NESTING} levels")
        if isinstance(item, str):
            if _NOT_TEXT.search(item):
                raise SpecRefused(field, f"holds control characters or a lone surrogate: {item!r}")
        elif isinstance(item, dict):
            for key, inner in item.items():
                if not isinstance(key, str) or _NOT_TEXT.search(key):
                    raise SpecRefused(field, f"has a key that is not plain text: {key!r}")
                pending.append((inner, depth + 1))
        elif isinstance(item, (list, tuple, set, frozenset)):
            pending.extend((inner, depth + 1) for inner in item)
