"""What a harvest asks TikTok: its query, built from a researcher's terms or checked when a
power user wrote it.

Accounts, words and hashtags are or-ed, regions and-ed. A power user's own query is checked
condition by condition against TikTok's documented fields and operations. Either way a query
is refused here, naming its field, when TikTok would refuse it, when it would ask for nearly
every video TikTok has, or when it is larger than the limits below.
"""

import datetime as dt
import re
from collections.abc import Callable, Iterable

import msgspec

from producers.refusal import SpecRefused
from producers.region_codes import REGION_CODES
from schemas.query import Condition, FieldName, Query
from schemas.spec import MAX_TERM_CHARS, MAX_TERMS, HarvestSpec

MAX_CONDITIONS = 20  # in a power user's query: and, or and not together
MAX_VALUES = MAX_TERMS  # field_values of one condition
# The query as sent (JSON, UTF-8). TikTok states no limit; a query built from terms stays
# under 8 KiB unless its keywords are both many and long.
MAX_QUERY_BYTES = 32 * 1024

# TikTok's usernames: letters, digits, '_' and '.', 2 to 24 characters for years, since
# raised to 30. TikTok treats them without regard to case and keeps them in lower case
# (@VRTNWS is @vrtnws): two spellings that differ only in case are one account, and the
# query asks for it in lower case.
USERNAME = re.compile(r"[A-Za-z0-9_.]{2,30}")
_DAY = re.compile(r"[0-9]{8}")
_NUMBER = re.compile(r"[0-9]{1,20}")  # ids are 64-bit integers (at most 20 digits); counts too
VIDEO_LENGTHS = ("SHORT", "MID", "LONG", "EXTRA_LONG")
COMPARISONS = frozenset({"GT", "GTE", "LT", "LTE"})
ORDERED_FIELDS = ("create_date", "view_count", "comment_count")  # what GT … LTE can compare


def build_query(spec: HarvestSpec) -> Query:
    """The query of a typed spec: its own `query`, checked, or one built from its terms."""
    if spec.query is not None:
        if spec.accounts or spec.keywords or spec.regions:
            raise SpecRefused("query", "give either `query` or accounts/keywords/regions, not both")
        check_query(spec.query)
        return spec.query
    query = _query_from_terms(spec)
    # Accounts and regions at their limits take about 4 KiB: only keywords can go past.
    _check_size(query, "keywords")
    return query


# --- a query built from the researcher's terms -------------------------------------------------


def _query_from_terms(spec: HarvestSpec) -> Query:
    words, hashtags = _keywords(spec.keywords)
    terms: list[tuple[FieldName, list[str]]] = [
        ("username", _usernames(spec.accounts)), ("keyword", words), ("hashtag_name", hashtags)]
    criteria = [
        Condition(field_name=name, operation="IN", field_values=values)
        for name, values in terms
        if values
    ]
    if not criteria:
        raise SpecRefused("accounts", "no criteria: give accounts, keywords or a query")
    regions = _regions(spec.regions)
    regional = [Condition(field_name="region_code", operation="IN", field_values=regions)] if regions else []
    return Query(and_=regional, or_=criteria)


def _usernames(accounts: list[str]) -> list[str]:
    names = [account.strip().removeprefix("@") for account in accounts]
    for account, name in zip(accounts, names, strict=True):
        if problem := username_problem(name):
            raise SpecRefused("accounts", f"{account!r} {problem}")
    names = [name.lower() for name in names]  # ASCII only, as the pattern allows
    _refuse_repeats("accounts", zip(accounts, names, strict=True))
    return names


def _keywords(keywords: list[str]) -> tuple[list[str], list[str]]:
    """Words and hashtags (`#` dropped). Hashtags compare without regard to case, as TikTok
    treats them; words exactly, since how TikTok matches them is not documented."""
    words, hashtags = [], []
    for keyword in keywords:
        term = keyword.strip()
        if not term:
            raise SpecRefused("keywords", "holds an empty keyword")
        if term.startswith("#"):
            if problem := hashtag_problem(term[1:]):
                raise SpecRefused("keywords", f"{keyword!r} {problem}")
            hashtags.append(term[1:])
        else:
            words.append(term)
    _refuse_repeats("keywords", ((word, word) for word in words))
    _refuse_repeats("keywords", ((f"#{tag}", tag.casefold()) for tag in hashtags))
    return words, hashtags


def _regions(regions: list[str]) -> list[str]:
    codes = [region.strip().upper() if region.isascii() else region for region in regions]
    for region, code in zip(regions, codes, strict=True):
        if problem := region_problem(code):
            raise SpecRefused("regions", f"{region!r} {problem}")
    _refuse_repeats("regions", zip(regions, codes, strict=True))
    return codes


def _refuse_repeats(field: str, terms: Iterable[tuple[str, str]]) -> None:
    """`terms` as (written, compared): the same compared term twice is a mistake worth showing."""
    first: dict[str, str] = {}
    for written, compared in terms:
        if compared in first:
            raise SpecRefused(field, f"names the same term twice: {first[compared]!r} and {written!r}")
        first[compared] = written


# --- a power user's own query ------------------------------------------------------------------


def check_query(query: Query) -> None:
    """Refuse a query TikTok would refuse or that would ask for nearly everything."""
    if not (query.and_ or query.or_):
        raise SpecRefused("query", "needs an `and` or `or` condition: `not` alone would ask for nearly every video"
                          if query.not_ else "has no conditions")
    labelled = [
        (f"{name}[{index}]", condition)
        for name, conditions in (("and", query.and_), ("or", query.or_), ("not", query.not_))
        for index, condition in enumerate(conditions)
    ]
    if len(labelled) > MAX_CONDITIONS:
        raise SpecRefused("query", f"has {len(labelled)} conditions; at most {MAX_CONDITIONS}")
    for where, condition in labelled:
        _check_condition(f"{where} ({condition.field_name} {condition.operation})", condition)
    _check_size(query, "query")


def _check_condition(where: str, condition: Condition) -> None:
    values = condition.field_values
    if not values:
        raise SpecRefused("query", f"{where} has no field_values")
    if len(values) > MAX_VALUES:
        raise SpecRefused("query", f"{where} has {len(values)} field_values; at most {MAX_VALUES}")
    if condition.operation != "IN" and len(values) > 1:
        raise SpecRefused("query", f"{where} compares with one value; use IN for several")
    if condition.operation in COMPARISONS and condition.field_name not in ORDERED_FIELDS:
        raise SpecRefused("query", f"{where}: only {', '.join(ORDERED_FIELDS)} can be compared with "
                                   f"{'/'.join(sorted(COMPARISONS))}")
    rule = VALUE_RULES[condition.field_name]
    for value in values:
        if problem := rule(value):
            raise SpecRefused("query", f"{where}: {value!r} {problem}")
    _refuse_repeats("query", ((value, value) for value in values))


def _check_size(query: Query, field: str) -> None:
    size = len(msgspec.json.encode(query))
    if size > MAX_QUERY_BYTES:
        raise SpecRefused(field, f"makes a query of {size:,} bytes; at most {MAX_QUERY_BYTES:,} bytes are sent")


# --- one value, by field (None: well-formed) ---------------------------------------------------


def username_problem(name: str) -> str | None:
    if not USERNAME.fullmatch(name):
        return "is not a TikTok username (2 to 30 letters, digits, '_' or '.', no '@' in a query)"
    return None


def hashtag_problem(tag: str) -> str | None:
    if not tag or len(tag) > MAX_TERM_CHARS or any(c.isspace() or c == "#" for c in tag):
        return f"is not a hashtag (one word of at most {MAX_TERM_CHARS} characters, no '#' in a query)"
    return None


def keyword_problem(word: str) -> str | None:
    if not word.strip() or len(word) > MAX_TERM_CHARS:
        return f"is not a keyword (1 to {MAX_TERM_CHARS} characters, not only spaces)"
    return None


def region_problem(code: str) -> str | None:
    if code not in REGION_CODES:
        return "is not an ISO 3166-1 alpha-2 region code (two capital letters, e.g. BE)"
    return None


def day_problem(text: str) -> str | None:
    if not _DAY.fullmatch(text):
        return "is not a yyyymmdd day"
    try:
        dt.datetime.strptime(text, "%Y%m%d")
    except ValueError:
        return "is not a real day"
    return None


def number_problem(text: str) -> str | None:
    if not _NUMBER.fullmatch(text):
        return "is not a whole number (1 to 20 digits)"
    return None


def video_length_problem(text: str) -> str | None:
    if text not in VIDEO_LENGTHS:
        return f"is not one of {', '.join(VIDEO_LENGTHS)}"
    return None


VALUE_RULES: dict[str, Callable[[str], str | None]] = {
    "create_date": day_problem,
    "username": username_problem,
    "region_code": region_problem,
    "video_id": number_problem,
    "hashtag_name": hashtag_problem,
    "keyword": keyword_problem,
    "music_id": number_problem,
    "effect_id": number_problem,
    "video_length": video_length_problem,
    "view_count": number_problem,
    "comment_count": number_problem,
}
