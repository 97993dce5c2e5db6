"""`tiktok-harvest`: submit a harvest, run workers, watch status, run the simulator or a demo."""

import json
from pathlib import Path

import msgspec
import typer

from harvest_cli import control, dead, demo, export, intake_schema, purge, refresh, worker
from harvest_cli.common import RedisOption, connect, fail, settings_from
from harvest_cli.credentials import app as credentials_app
from harvest_cli.exporter import exporter_command
from harvest_cli.plan import plan_command
from harvest_cli.render import print_status
from simulator.cli import simulator_command

# Tracebacks must not print local variables: a local may hold a secret.
# Search data is archived: a video can take this long to become searchable.
ARCHIVE_DELAY_DAYS = 2

app = typer.Typer(
    help="Harvest the TikTok Research API into iCANDID storage.",
    pretty_exceptions_enable=False,
    no_args_is_help=True,
    add_completion=False,
)
app.command("worker")(worker.worker_command)
app.command("export")(export.export_command)
app.command("demo")(demo.demo_command)
app.command("simulator")(simulator_command)
app.command("purge")(purge.purge_command)
app.command("exporter")(exporter_command)
app.command("pause")(control.pause_command)
app.command("resume")(control.resume_command)
app.command("cancel")(control.cancel_command)
app.command("intake-schema")(intake_schema.intake_schema_command)
app.command("plan")(plan_command)
app.command("refresh")(refresh.refresh_command)
app.add_typer(dead.app, name="dead")
app.add_typer(credentials_app, name="credentials")


@app.command()
def submit(
    spec: Path = typer.Argument(..., help="Harvest spec, YAML or JSON."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON document."),
    redis_url: str | None = RedisOption,
    credentials: Path | None = typer.Option(None, envvar="HARVEST_CREDENTIALS_FILE", help="Credentials file (TOML)."),
):
    """Validate a harvest spec, register it and enqueue its first pages. Prints the harvest id."""
    from rich.markup import escape

    from core.messages import producer_broker
    from producers.spec import SpecRefused, read_spec_file
    from producers.submission import prepare, start

    settings = settings_from(redis_url=redis_url, credentials_file=credentials)
    try:
        plan = prepare(read_spec_file(spec), settings)
        client = connect(settings)  # validated first: a refused spec never touches Redis
        submitted = start(plan, settings, producer_broker(settings, client), redis=client)
    except SpecRefused as refused:
        fail(f"spec refused: {escape(str(refused))}", code=2)  # it repeats the spec: no markup of its own
    if plan.ongoing:
        typer.echo(f"ongoing: each day from {plan.new_days_from} on is harvested once TikTok has archived it "
                   f"({ARCHIVE_DELAY_DAYS * 24 + 1} hours after it ends), until the harvest is cancelled", err=True)
    elif plan.period_end >= plan.storage_date_minus(ARCHIVE_DELAY_DAYS):
        typer.echo(f"warning: TikTok makes videos searchable up to {ARCHIVE_DELAY_DAYS * 24} hours after posting; "
                   f"the last days of {plan.period_start}-{plan.period_end} may be incomplete", err=True)
    if as_json:
        typer.echo(json.dumps({"id": submitted.harvest_id, "created": submitted.created, "windows": submitted.windows}))
    else:
        if not submitted.created:
            typer.echo(f"harvest {submitted.harvest_id} was already submitted; nothing new started", err=True)
        typer.echo(submitted.harvest_id)


@app.command()
def status(
    harvest_id: str | None = typer.Argument(None, help="One harvest; all when left out."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON document."),
    redis_url: str | None = RedisOption,
):
    """Show harvest progress: state, windows, pages, records, requests, errors."""
    from core.keys import Keys
    from workers.progress import HarvestStore

    settings = settings_from(redis_url=redis_url)
    client = connect(settings)
    store = HarvestStore(client, Keys(settings.namespace))
    ids = [harvest_id] if harvest_id else store.harvest_ids()
    kept_s = settings.harvest_failed_retention_days * 86400
    statuses = [s for s in (store.status(i, failed_retention_s=kept_s) for i in ids) if s is not None]
    if harvest_id and not statuses:
        fail(f"no harvest {harvest_id!r}", code=1)
    limits = _limits(settings)
    for item in statuses:
        item.storage.update(_storage_paths(settings, store.plan(item.id)))
        item.quota = _quota(settings, client, store.keys, item.credential, limits.get(item.credential), item.id)
        item.eta_s = _eta(item, limits.get(item.credential))
    if as_json:
        document = statuses[0] if harvest_id else statuses
        typer.echo(msgspec.json.encode(document).decode())
    else:
        print_status(statuses)


def _limits(settings) -> dict:
    """The credentials' limits when the file can be read here (status may run where the
    secrets are not); empty otherwise."""
    from core.credentials import CredentialsError, load_credentials

    try:
        return load_credentials(settings.credentials_file)
    except CredentialsError:
        return {}


def _quota(settings, client, keys, credential: str, limits, harvest: str):
    """Today's bucket for the credential (how much is left only when `limits` is known)."""
    from schemas.status import QuotaStatus
    from workers.quota import QuotaBucket

    view = QuotaBucket(client, keys, clock_offset_s=settings.quota_clock_offset_s).peek(credential, limits, harvest)
    return QuotaStatus(credential, view.requests_used, view.records_used, view.requests_left,
                       view.records_left, view.reset_in_s, view.spent_for_s, view.harvest_requests,
                       view.harvests_sharing, view.tiktok_down_for_s, view.next_probe_in_s)


def _eta(status, credential) -> float | None:
    """A rough time to finish, quota waits included (workers/exporter/eta.py), from the
    harvest's pace and its credential's research budget today."""
    import time

    from core.keys import RESEARCH
    from workers.exporter.eta import eta_seconds
    from workers.exporter.quota import BudgetReading

    q = status.quota
    budgets = {}
    if q is not None and credential is not None:
        budgets[RESEARCH] = BudgetReading(status.credential, RESEARCH, q.requests_used, q.records_used,
                                          credential.daily_requests, credential.daily_records, q.resets_in_s,
                                          q.spent_for_s, q.tiktok_down_for_s > 0, q.harvests_sharing)
    return eta_seconds(status, budgets, time.time())


def _storage_paths(settings, plan) -> dict[str, str]:
    from workers.storage import Storage

    storage = Storage(settings.data_dir)
    return {"source_records": str(storage.source_dir(plan)), "records": str(storage.records_dir(plan))}


if __name__ == "__main__":  # pragma: no cover
    app()
