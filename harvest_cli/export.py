"""`tiktok-harvest export`: a harvest's records as flat files for pandas, R and Excel."""

import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Literal

import typer
from rich.console import Console
from rich.progress import track

from harvest_cli.common import RedisOption, connect, fail, settings_from

Format = Literal["csv", "jsonl"]
What = Literal["videos", "comments", "users", "follows", "account_videos", "playlists"]


def export_command(
    harvest_id: str = typer.Argument(..., help="The harvest to export."),
    fmt: Format = typer.Option("csv", "--format", "-f", help="csv (RFC 4180, UTF-8) or jsonl (one object a line)."),
    what: What = typer.Option("videos", "--what", "-w",
                              help="videos, comments, users (the authors' profiles), follows (who follows whom), "
                              "account_videos (the accounts' liked, pinned and reposted videos) or playlists."),
    out: Path | None = typer.Option(None, "--out", "-o", help="File to write; standard output when left out."),
    bom: bool = typer.Option(False, "--bom", help="Start a CSV with a byte-order mark, so Excel reads it as UTF-8."),
    records_dir: Path | None = typer.Option(None, "--records-dir", help="Read this records folder instead of "
                                            "looking the harvest up in Redis (after its state expired)."),
    redis_url: str | None = RedisOption,
):
    """Write one row per video, comment, profile, follow, like, pin, repost or playlist, with
    documented columns (see README).
    Reads the JSON-LD records one file at a time: constant memory, whatever the harvest's size."""
    from workers.exports import record_files, rows, write_csv, write_jsonl

    settings = settings_from(redis_url=redis_url)
    folder = records_dir or _records_dir(settings, harvest_id)
    if not folder.is_dir():
        fail(f"no records folder {folder}", code=1)
    files: Iterable[Path] = record_files(folder, what)
    # A progress bar for a person watching, advancing file by file as rows are written (on
    # stderr, so what goes to stdout stays clean).
    if sys.stderr.isatty():
        files = track(files, description=f"exporting {what}", transient=True, console=Console(stderr=True))
    writer = write_csv if fmt == "csv" else write_jsonl
    encoding = "utf-8-sig" if bom and fmt == "csv" else "utf-8"
    if out is None:
        sys.stdout.reconfigure(encoding="utf-8", newline="")  # type: ignore[union-attr]
        count = writer(sys.stdout, rows(files, what), what)
    else:
        with out.open("w", encoding=encoding, newline="") as handle:
            count = writer(handle, rows(files, what), what)
    typer.echo(f"{count:,} {what} exported" + (f" to {out}" if out else ""), err=True)


def _records_dir(settings, harvest_id: str) -> Path:
    from core.harvests import Harvests
    from core.keys import Keys
    from workers.storage import Storage

    plan = Harvests(connect(settings), Keys(settings.namespace)).plan(harvest_id)
    if plan is None:
        fail(f"no harvest {harvest_id!r} in Redis (its state may have expired): give --records-dir", code=1)
    return Storage(settings.data_dir).records_dir(plan)
