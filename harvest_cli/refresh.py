"""`tiktok-harvest refresh ID`: check a done harvest's stored videos against TikTok and move
the records of those that are gone into a removal log (producers/refresh.py)."""

import msgspec
import typer

from harvest_cli.common import RedisOption, connect, fail, settings_from


# One source line a paragraph in the docstring: the help keeps the line breaks of every
# paragraph but the first.
def refresh_command(
    harvest_id: str = typer.Argument(..., help="The done harvest to refresh."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON document."),
    redis_url: str | None = RedisOption,
):
    """Ask TikTok again about every video a done harvest stored, in video queries of up to 100 ids (about one request per 100 videos, from the project's quota), and move the records of the videos it no longer returns — with their comments, likes, pins and reposts — out of records/ into the dated removal log records/TikTok/ID/removed/<yyyymmdd>/. The workers do it; `tiktok-harvest status ID` shows its progress.

    While a refresh of the harvest runs, this joins it instead of starting another.

    Exit codes: 0 started (or joined, or nothing stored to check), 1 no such harvest, or one that is not done."""  # noqa: E501 (see above)
    from core.keys import Keys
    from core.messages import producer_broker
    from producers import refresh
    from workers import retention
    from workers.storage import Storage
    from workers.stored_videos import stored_videos

    settings = settings_from(redis_url=redis_url)
    client = connect(settings)
    storage = Storage(settings.data_dir)
    broker = producer_broker(settings, client)
    try:
        started = refresh.start(client, Keys(settings.namespace), broker, harvest_id,
                                lambda plan: stored_videos(storage, plan), keep_s=retention.retention_s(settings))
    except refresh.RefreshRefused as refused:
        fail(f"cannot refresh {harvest_id}: {refused.why}", code=1)
    if as_json:
        typer.echo(msgspec.json.encode(started).decode())
        return
    if started.refresh is None:
        typer.echo(f"{harvest_id} stored no video that can be checked; nothing to do", err=True)
        return
    if started.joined:
        typer.echo(f"refresh {started.refresh} of {harvest_id} is in progress: joined it, "
                   f"{started.batches_sent:,} of its {started.batches:,} batches sent again")
    else:
        typer.echo(f"refresh {started.refresh} of {harvest_id}: {started.videos:,} stored videos in "
                   f"{started.batches:,} batches, one request each; `tiktok-harvest status {harvest_id}` shows it")
    if started.unchecked:
        typer.echo(f"{started.unchecked:,} stored videos have no creation date (or an id TikTok cannot be asked "
                   "about) and are not checked", err=True)
