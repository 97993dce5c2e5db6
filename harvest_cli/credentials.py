"""`tiktok-harvest credentials list`: every credential in the file, whether it can be used
today, what is left of its day per budget, and which harvests run on it. A malformed
credential is listed with its field and problem; the others are read all the same. Secrets
never appear: a client key shows its first characters only, a client secret nothing."""

import datetime as dt
from pathlib import Path

import msgspec
import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from core.credentials import CredentialsRead
from core.keys import BUDGETS, FOLLOWS, Keys, budget_bucket
from harvest_cli.common import RedisOption, connect, fail, settings_from
from schemas.credentials import (
    BudgetToday,
    Credential,
    CredentialEntry,
    CredentialRegistry,
    HarvestOnCredential,
    Standing,
)

app = typer.Typer(help="The credentials file as the fleet reads it.", no_args_is_help=True)

# A client key shows this many characters, enough to tell keys apart; one shorter than
# KEY_SHOWN_FROM shows none (four characters would be too much of it).
KEY_SHOWN = 4
KEY_SHOWN_FROM = 12
FINISHED = ("done", "cancelled")  # harvests in these states no longer spend: counted, not listed


@app.command("list")
def list_command(
    as_json: bool = typer.Option(False, "--json", help="Print one JSON document."),
    redis_url: str | None = RedisOption,
    credentials: Path | None = typer.Option(None, envvar="HARVEST_CREDENTIALS_FILE", help="Credentials file (TOML)."),
):
    """Show each credential: project, access period, valid today or not, today's use and what
    is left per budget, time to the 00:00 UTC reset, and the harvests on it."""
    from core.credentials import CredentialsError, read_credentials

    settings = settings_from(redis_url=redis_url, credentials_file=credentials)
    try:
        read = read_credentials(settings.credentials_file)
    except CredentialsError as error:  # the file as a whole; a bad table is listed instead
        fail(escape(str(error)), code=1)
    client = connect(settings)
    registry = build_registry(read, client, Keys(settings.namespace), settings.credentials_file,
                              clock_offset_s=settings.quota_clock_offset_s, today=dt.datetime.now(dt.UTC).date())
    if as_json:
        typer.echo(msgspec.json.encode(registry).decode())
    else:
        Console().print(render(registry))


def build_registry(read: CredentialsRead, redis, keys: Keys, path: Path, *, clock_offset_s: float,
                   today: dt.date) -> CredentialRegistry:
    from workers.quota import QuotaBucket
    from workers.quota.bucket import ACTIVE_S

    bucket = QuotaBucket(redis, keys, clock_offset_s=clock_offset_s)
    registered = _registered_harvests(redis, keys)
    seconds, micros = redis.time()  # the buckets' clock: Redis TIME plus the offset
    active_since = seconds + micros / 1e6 + clock_offset_s - ACTIVE_S
    entries = []
    for name in sorted({*read.usable, *read.refused}):
        credential = read.usable.get(name)
        budgets, resets_in_s = [], 0.0
        asking: set[str] = set()
        for budget in BUDGETS:
            limits = credential.follow_budget() if credential and budget == FOLLOWS else credential
            view = bucket.peek(budget_bucket(name, budget), limits)
            budgets.append(BudgetToday(budget, view.requests_used, view.records_used,
                                       limits.daily_requests if limits else None,
                                       limits.daily_records if limits else None,
                                       view.requests_left, view.records_left, view.spent_for_s))
            resets_in_s = view.reset_in_s
            members = redis.zrangebyscore(keys.quota_active(budget_bucket(name, budget)), active_since, "+inf")
            asking.update(member.decode() for member in members)
        on_it = registered.get(name, {})
        harvests = [HarvestOnCredential(harvest, on_it.get(harvest), harvest in asking)
                    for harvest in sorted({*on_it, *asking})]
        entries.append(_entry(name, credential, read, today, resets_in_s, budgets, harvests))
    return CredentialRegistry(str(path), today, entries)


def _entry(name: str, credential: Credential | None, read: CredentialsRead, today: dt.date, resets_in_s: float,
           budgets: list[BudgetToday], harvests: list[HarvestOnCredential]) -> CredentialEntry:
    if credential is None:
        error = read.refused[name]
        return CredentialEntry(name, "malformed", None, None, None, None, error.field, error.problem or str(error),
                               resets_in_s, budgets, harvests)
    return CredentialEntry(name, standing(credential, today), credential.project, masked_key(credential.client_key),
                           credential.access_start, credential.access_end, None, None, resets_in_s, budgets,
                           harvests)


def standing(credential: Credential, today: dt.date) -> Standing:
    if today < credential.access_start:
        return "not_yet_valid"
    if today > credential.access_end:
        return "expired"
    return "valid"


def masked_key(client_key: str) -> str:
    return (client_key[:KEY_SHOWN] if len(client_key) >= KEY_SHOWN_FROM else "") + "…"


def _registered_harvests(redis, keys: Keys) -> dict[str, dict[str, str]]:
    """Credential name -> {harvest id: state} for every registered harvest: on its plan's
    key, and on every other key of its project it has spent."""
    from core.harvests import Harvests

    store = Harvests(redis, keys)
    by_credential: dict[str, dict[str, str]] = {}
    for harvest in store.harvest_ids():
        status = store.status(harvest)
        if status is not None:
            for name in {status.credential, *status.requests_by_key}:
                by_credential.setdefault(name, {})[harvest] = status.state
    return by_credential


# --- the table ---------------------------------------------------------------------------------

STANDING_SHOWN = {"valid": "[green]valid[/]", "expired": "[red]expired[/]",
                  "not_yet_valid": "[yellow]not yet valid[/]", "malformed": "[bold red]malformed[/]"}


def render(registry: CredentialRegistry) -> Table:
    table = Table(title=f"Credentials in {escape(registry.file)} (today {registry.today} UTC)", title_justify="left")
    for column in ("credential", "project", "client key", "access", "standing", *BUDGETS, "resets in", "harvests"):
        table.add_column(column)
    for entry in registry.credentials:
        access = f"{entry.access_start} – {entry.access_end}" if entry.access_start else "-"
        shown = STANDING_SHOWN[entry.standing]
        if entry.problem:
            shown += escape(f"\nfield `{entry.problem_field}`: {entry.problem}")
        table.add_row(escape(entry.name), escape(entry.project or "-"), escape(entry.client_key or "-"), access,
                      shown, *(_budget(budget) for budget in entry.budgets), _duration(entry.resets_in_s),
                      _harvests(entry.harvests))
    return table


def _budget(budget: BudgetToday) -> str:
    lines = []
    for what, used, limit, left in (("requests", budget.requests_used, budget.requests_limit, budget.requests_left),
                                    ("records", budget.records_used, budget.records_limit, budget.records_left)):
        lines.append(f"{left:,}/{limit:,} {what} left" if limit is not None and left is not None
                     else f"{used:,} {what} used")
    if budget.spent_for_s > 0:
        lines.append(f"[red]TikTok said 429: paused {_duration(budget.spent_for_s)}[/]")
    return "\n".join(lines)


def _harvests(harvests: list[HarvestOnCredential]) -> str:
    lines = [f"{escape(h.id)} ({h.state or 'not registered'}{', asking' * h.asking})"
             for h in harvests if h.state not in FINISHED or h.asking]
    finished = len(harvests) - len(lines)
    if finished:
        lines.append(f"{finished} done or cancelled")
    return "\n".join(lines) or "-"


def _duration(seconds: float) -> str:
    minutes = int(seconds // 60)
    if minutes >= 60:
        return f"{minutes // 60}h {minutes % 60:02d}m"
    return f"{minutes}m" if minutes else f"{int(seconds)}s"
