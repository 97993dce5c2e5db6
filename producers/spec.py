"""Reading and validating a researcher's harvest spec, before anything touches Redis.

Every refusal names the field it is about.
"""

import datetime as dt
import hashlib
import json
import re
import time
from pathlib import Path

import msgspec
import yaml

from schemas.credentials import Credential
from schemas.query import Condition, Query
from schemas.spec import HarvestPlan, HarvestSpec
from workers import windows

ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")
PERIOD_PATTERN = re.compile(r"^(\d{8})-(\d{8})$")
USERNAME_PATTERN = re.compile(r"^[A-Za-z0-9_.]{1,64}$")
REGION_PATTERN = re.compile(r"^[A-Z]{2}$")


class SpecRefused(Exception):
    def __init__(self, field: str, problem: str):
        self.field = field
        self.problem = problem
        super().__init__(f"field `{field}`: {problem}")


def read_spec_file(path: Path) -> dict:
    """Parse a YAML or JSON spec file into plain data."""
    try:
        text = Path(path).read_text()
    except OSError as error:
        raise SpecRefused("file", f"cannot read {path}: {error.strerror}") from None
    try:
        data = json.loads(text) if Path(path).suffix == ".json" else yaml.safe_load(text)
    except (json.JSONDecodeError, yaml.YAMLError) as error:
        raise SpecRefused("file", f"{path} does not parse: {error}") from None
    if not isinstance(data, dict):
        raise SpecRefused("file", f"{path} must hold a mapping of spec fields")
    return data


def parse_spec(data: dict) -> HarvestSpec:
    try:
        return msgspec.convert(data, HarvestSpec)
    except msgspec.ValidationError as error:
        raise SpecRefused(_field_of(str(error)), str(error)) from None


def _field_of(message: str) -> str:
    path = re.search(r"at `\$\.([A-Za-z_]+)", message)
    unknown = re.search(r"unknown field `([^`]+)`", message)
    missing = re.search(r"missing required field `([^`]+)`", message)
    found = path or unknown or missing
    return found.group(1) if found else "spec"


def parse_period(period: str) -> tuple[dt.date, dt.date]:
    match = PERIOD_PATTERN.match(period.strip())
    if not match:
        raise SpecRefused("period", f"{period!r} is not yyyymmdd-yyyymmdd")
    days = []
    for text in match.groups():
        try:
            days.append(windows.parse_day(text))
        except ValueError:
            raise SpecRefused("period", f"{text} is not a real day") from None
    start, end = days
    if end < start:
        raise SpecRefused("period", f"ends ({end:%Y%m%d}) before it starts ({start:%Y%m%d})")
    return start, end


def build_query(spec: HarvestSpec) -> Query:
    """Accounts, keywords and hashtags or-ed; regions and-ed; or the spec's own query."""
    if spec.query is not None:
        if spec.accounts or spec.keywords or spec.regions:
            raise SpecRefused("query", "give either `query` or accounts/keywords/regions, not both")
        if spec.query.is_empty():
            raise SpecRefused("query", "has no conditions")
        return spec.query
    usernames, words, hashtags = [], [], []
    for account in spec.accounts:
        name = account.strip().removeprefix("@")
        if not USERNAME_PATTERN.match(name):
            raise SpecRefused("accounts", f"{account!r} is not a TikTok username")
        usernames.append(name)
    for keyword in spec.keywords:
        term = keyword.strip()
        if term.startswith("#"):
            tag = term[1:]
            if not tag or any(c.isspace() or c == "#" for c in tag):
                raise SpecRefused("keywords", f"{keyword!r} is not a hashtag")
            hashtags.append(tag)
        elif term:
            words.append(term)
        else:
            raise SpecRefused("keywords", "holds an empty keyword")
    regions = [region.strip().upper() for region in spec.regions]
    for region in regions:
        if not REGION_PATTERN.match(region):
            raise SpecRefused("regions", f"{region!r} is not a two-letter region code")
    criteria = [
        Condition(field_name=name, operation="IN", field_values=values)
        for name, values in (("username", usernames), ("keyword", words), ("hashtag_name", hashtags))
        if values
    ]
    if not criteria:
        raise SpecRefused("accounts", "no criteria: give accounts, keywords or a query")
    regional = [Condition(field_name="region_code", operation="IN", field_values=regions)] if regions else []
    return Query(and_=regional, or_=criteria)


def choose_credential(
    project: str, period_end: dt.date, credentials: dict[str, Credential], today: dt.date
) -> str:
    own = {name: c for name, c in credentials.items() if c.project == project}
    if not own:
        raise SpecRefused("project", f"unknown project {project!r}: no credential belongs to it")
    valid = {name: c for name, c in own.items() if c.valid_on(today)}
    if not valid:
        raise SpecRefused("project", f"no credential of project {project!r} is valid today ({today:%Y%m%d})")
    covering = sorted(name for name, c in valid.items() if period_end <= c.access_end)
    if not covering:
        last = max(c.access_end for c in valid.values())
        raise SpecRefused(
            "period", f"reaches past the access end of project {project!r}'s credentials ({last:%Y%m%d})"
        )
    return covering[0]


def validate(
    data: dict, credentials: dict[str, Credential], *, now: float | None = None
) -> HarvestPlan:
    """A spec as plain data → the plan to register. Raises SpecRefused."""
    spec = parse_spec(data)
    if not ID_PATTERN.match(spec.id) or ".." in spec.id:
        raise SpecRefused("id", f"{spec.id!r} must be letters, digits, '_', '.', '-' (at most 100)")
    start, end = parse_period(spec.period)
    query = build_query(spec)
    if not spec.collect or "videos" not in spec.collect:
        raise SpecRefused("collect", "must include `videos`")
    now = time.time() if now is None else now
    today = dt.datetime.fromtimestamp(now, dt.timezone.utc).date()
    credential = choose_credential(spec.project, end, credentials, today)
    return HarvestPlan(
        id=spec.id,
        name=spec.name or spec.id,
        project=spec.project,
        credential=credential,
        query=query,
        period_start=windows.format_day(start),
        period_end=windows.format_day(end),
        storage_date=windows.format_day(today),
        submitted_at=now,
        spec_digest=hashlib.sha256(msgspec.json.encode(spec)).hexdigest(),
        collect=sorted(set(spec.collect)),
        windows=windows.plan_windows(start, end),
    )
