"""`tiktok-harvest dead list|replay`: messages that failed for good, with their reasons."""

import datetime as dt
import json

import msgspec
import typer
from rich.console import Console
from rich.table import Table

from harvest_cli.common import RedisOption, connect, settings_from

app = typer.Typer(help="List and replay dead-lettered messages.", no_args_is_help=True)


def _letters(harvest_id, redis_url):
    from core.keys import Keys
    from workers.middleware.dead_letters import list_dead

    settings = settings_from(redis_url=redis_url)
    client = connect(settings)
    keys = Keys(settings.namespace)
    return settings, client, keys, list_dead(client, keys, harvest_id)


@app.command("list")
def list_command(
    harvest_id: str | None = typer.Argument(None, help="Only this harvest's."),
    as_json: bool = typer.Option(False, "--json"),
    redis_url: str | None = RedisOption,
):
    """Show dead-lettered messages and why they failed, and how long their harvests are kept."""
    settings, client, keys, letters = _letters(harvest_id, redis_url)
    if as_json:
        typer.echo(msgspec.json.encode(letters).decode())
        return
    table = Table(title="Dead letters", title_justify="left")
    for column in ("message id", "harvest", "actor", "task", "reason", "failed at"):
        table.add_column(column)
    for letter in letters:
        task = {k: v for k, v in letter.payload.items() if k != "harvest_id"}
        table.add_row(letter.message_id, letter.harvest_id or "-", letter.actor_name, json.dumps(task),
                      letter.reason, dt.datetime.fromtimestamp(letter.failed_at, dt.UTC).isoformat(timespec="seconds"))
    console = Console()
    console.print(table)
    for line in _kept(settings, client, keys, letters):
        console.print(line, highlight=False)


def _kept(settings, client, keys, letters) -> list[str]:
    """What becomes of each failed harvest with letters here (workers/retention.py)."""
    from workers.progress import HarvestStore

    store = HarvestStore(client, keys)
    kept_s = settings.harvest_failed_retention_days * 86400
    lines = []
    for harvest in sorted({letter.harvest_id for letter in letters if letter.harvest_id}):
        status = store.status(harvest, failed_retention_s=kept_s)
        if status is None:
            lines.append(f"{harvest}: no longer registered; these letters go "
                         f"{settings.harvest_failed_retention_days:g} days after the last of them")
        elif status.state == "failed" and status.forget_at:
            day = dt.datetime.fromtimestamp(status.forget_at, dt.UTC).strftime("%Y-%m-%d")
            lines.append(f"{harvest}: failed; it and its letters are kept until `dead replay` or `purge`, "
                         f"and forgotten from {day} if neither comes")
    return lines


@app.command("replay")
def replay_command(
    harvest_id: str | None = typer.Argument(None, help="Only this harvest's."),
    message_id: list[str] | None = typer.Option(None, "--message", "-m", help="Only these message ids."),
    redis_url: str | None = RedisOption,
):
    """Send dead-lettered messages again; their harvest resumes."""
    from core.messages import producer_broker
    from workers.middleware.dead_letters import replay

    settings, client, keys, letters = _letters(harvest_id, redis_url)
    if message_id:
        letters = [letter for letter in letters if letter.message_id in set(message_id)]
    broker = producer_broker(settings, client)
    for letter in letters:
        replay(broker, client, keys, letter)
    typer.echo(f"replayed {len(letters)} message(s)", err=True)
