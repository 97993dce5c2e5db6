"""`tiktok-harvest purge ID`: forget a harvest in Redis now, instead of after its retention."""

import sys

import msgspec
import typer

from harvest_cli.common import RedisOption, connect, fail, settings_from


# One source line a paragraph in the docstring: the help keeps the line breaks of every
# paragraph but the first.
def purge_command(
    harvest_id: str = typer.Argument(..., help="The harvest to forget."),
    yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask; needed when not run on a terminal."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON document."),
    redis_url: str | None = RedisOption,
):
    """Remove a harvest's whole state from Redis at once: its plan, progress and claims, its place in the list of harvests, its dead letters (ours and Dramatiq's) and its share of the credential's day. Files in iCANDID storage are never touched.

    A running harvest is stopped and forgotten: messages still queued for it are dropped quietly by the workers. The id can be submitted again afterwards.

    Exit codes: 0 purged, 1 no such harvest (or not confirmed), 2 usage."""  # noqa: E501 (see above)
    from core.keys import Keys
    from workers import retention
    from workers.progress import HarvestStore
    from workers.storage import Storage

    settings = settings_from(redis_url=redis_url)
    client = connect(settings)
    keys = Keys(settings.namespace)
    if not retention.exists(client, keys, harvest_id):
        fail(f"no harvest {harvest_id!r}", code=1)
    if not yes:
        if not interactive():
            fail("purge asks for confirmation, and this is not a terminal: pass --yes", code=2)
        status = HarvestStore(client, keys).status(harvest_id)
        what = f"{status.state}, {status.pages:,} pages, {status.records:,} records" if status else "leftovers only"
        if not typer.confirm(f"Forget harvest {harvest_id} ({what}) in Redis? Its files stay", default=False):
            fail("not confirmed: nothing purged", code=1)
    purged = retention.purge(client, keys, harvest_id, marker_s=retention.retention_s(settings),
                             storage=Storage(settings.data_dir))
    if as_json:
        typer.echo(msgspec.json.encode(purged).decode())
        return
    typer.echo(f"purged {harvest_id}: {purged.keys:,} keys, {purged.dead_letters:,} dead letters "
               f"({purged.dramatiq_dead_letters:,} in Dramatiq's queues)")
    if purged.state in ("queued", "running", "waiting_for_quota"):
        typer.echo("it was not finished: the workers drop the messages still queued for it", err=True)
    if purged.storage:
        typer.echo(f"its files stay in {purged.storage['source_records']} and {purged.storage['records']}", err=True)


def interactive() -> bool:
    """Confirmation is asked only of a person at a terminal."""
    return sys.stdin.isatty()
