"""`tiktok-harvest plan SPEC [--probe]`: the windows, the requests and the calendar days a
harvest needs, before anything is submitted (producers/estimate.py)."""

import uuid
from pathlib import Path

import msgspec
import typer
from rich.console import Console
from rich.table import Table

from harvest_cli.common import RedisOption, connect, fail, settings_from
from schemas.estimate import WindowProbe


def plan_command(
    spec: Path = typer.Argument(..., help="Harvest spec, YAML or JSON."),
    probe: bool = typer.Option(False, "--probe", help="Ask TikTok for the first page of each window (one "
                               "research request per window, from the project's keys) to estimate records and "
                               "requests per endpoint."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON document."),
    redis_url: str | None = RedisOption,
    credentials: Path | None = typer.Option(None, envvar="HARVEST_CREDENTIALS_FILE", help="Credentials file (TOML)."),
):
    """Show what a harvest will take: its windows, the least number of requests per endpoint, and the calendar days at the least given what is left of the project's keys today and the other harvests sharing them. With --probe (a stated cost: one request per window), estimates too. Nothing is submitted.

    Exit codes: 0, 1 when Redis or TikTok cannot be reached, 2 when the spec is refused."""  # noqa: E501 (one line a paragraph: the help keeps the line breaks)
    from rich.markup import escape

    from core.credentials import CredentialStore
    from core.keys import Keys
    from producers.estimate import estimate
    from producers.spec import SpecRefused, read_spec_file
    from producers.submission import prepare
    from workers.quota import QuotaBucket
    from workers.quota.keys_of_project import keys_to_try

    settings = settings_from(redis_url=redis_url, credentials_file=credentials)
    try:
        plan = prepare(read_spec_file(spec), settings)
    except SpecRefused as refused:
        fail(f"spec refused: {escape(str(refused))}", code=2)
    store = CredentialStore(settings.credentials_file)
    keys = sorted(name for name, _ in keys_to_try(store.all(), plan.project, plan.id, "",
                                                  settings.quota_clock_offset_s))
    client = connect(settings)
    bucket = QuotaBucket(client, Keys(settings.namespace), clock_offset_s=settings.quota_clock_offset_s)
    views = [bucket.peek(name, store.get(name), plan.id) for name in keys]
    probes = _probe(settings, client, bucket, store, plan, keys) if probe else []
    found = estimate(plan, keys=keys, daily_requests=sum(store.get(name).daily_requests for name in keys),
                     requests_left_today=sum(view.requests_left or 0 for view in views),
                     harvests_sharing=max((view.harvests_sharing for view in views), default=0), probes=probes)
    if as_json:
        typer.echo(msgspec.json.encode(found).decode())
    else:
        console = Console()
        console.print(_table(found))
        console.print(_summary(found), soft_wrap=True, highlight=False)


def _probe(settings, client, bucket, store, plan, keys: list[str]) -> list[WindowProbe]:
    """The first page of each window, each request taken from the project's keys like a
    harvest's (never over a limit) under an id of its own, which leaves the keys' fair share
    when done."""
    from core import windows
    from core.harvests import Harvests
    from core.keys import Keys
    from producers.estimate import PAGE_SIZE, probe_window
    from schemas.api import VideoQueryBody
    from workers.tiktok.client import TikTokClient, make_http_client
    from workers.tiktok.errors import ApiError

    prober = f"plan-probe-{uuid.uuid4().hex[:12]}"
    tiktok = TikTokClient(make_http_client(settings.api_base_url))
    tokens: dict[str, str] = {}
    probes: list[WindowProbe] = []
    try:
        for window in plan.windows:
            name, grant, reservation = _take(bucket, store, keys, prober, window)
            if name is None:
                fail(f"the project's keys have no request left today: probed {len(probes)} of "
                     f"{len(plan.windows)} windows", code=1)
            start, end = windows.bounds(window)
            try:
                if name not in tokens:
                    credential = store.get(name)
                    tokens[name], _ = tiktok.request_token(credential.client_key, credential.client_secret)
                page, _ = tiktok.query_videos(tokens[name], VideoQueryBody(
                    query=plan.query, start_date=start, end_date=end, max_count=min(PAGE_SIZE, grant.records)))
            except ApiError as error:
                bucket.settle(name, prober, window, reservation, 0)
                fail(f"TikTok did not answer the probe of window {window}: {type(error).__name__}", code=1)
            bucket.settle(name, prober, window, reservation, len(page.videos))
            probes.append(probe_window(window, page))
    finally:
        Harvests(client, Keys(settings.namespace)).leave_quota(prober)
        client.delete(Keys(settings.namespace).buckets_used(prober))
    return probes


def _take(bucket, store, keys: list[str], prober: str, window: str):
    """(key, grant, reservation) from the first key that can serve; (None, None, '') when none."""
    from workers.quota.keys_of_project import take_from_keys

    reservation = f"{prober}|{window}"
    granted, _ = take_from_keys(bucket, [(name, store.get(name)) for name in keys], prober, reservation, 100)
    if granted is None:
        return None, None, ""
    name, _, grant = granted
    return name, grant, reservation


def _table(found) -> Table:
    table = Table(title=f"{found.id}: {len(found.windows)} windows, project {found.project} "
                        f"({', '.join(found.keys) or 'no key valid today'})", title_justify="left")
    for column in ("endpoint", "budget", "requests at least", "requests estimated", "records estimated"):
        table.add_column(column, justify="left" if column in ("endpoint", "budget") else "right")
    for e in found.endpoints:
        table.add_row(e.endpoint, e.budget, f"{e.requests_at_least:,}", _maybe(e.requests_estimate),
                      _maybe(e.records_estimate))
    table.add_row("research, all", "", f"{found.requests_at_least:,}", _maybe(found.requests_estimate), "")
    return table


def _summary(found) -> str:
    return (f"{found.requests_left_today:,} of {found.daily_requests:,} research requests a day left today, shared "
            f"with {found.harvests_sharing} other harvest(s): at least {found.days_at_least} day(s)"
            + (f", about {found.days_estimate} day(s) by the probe ({found.probe_requests} requests spent)"
               if found.days_estimate is not None else "")
            + (f"; then, ongoing, each day from {found.new_days_from} on once archived: at least one request a day "
               "(one per 100 videos), and a compliance refresh of about one request per 100 stored videos "
               "every few days" if found.new_days_from else ""))


def _maybe(value: int | None) -> str:
    return "-" if value is None else f"{value:,}"
