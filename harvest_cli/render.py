"""Rich tables for people; scripts use --json."""

import datetime as dt
from pathlib import Path

from rich.console import Console
from rich.table import Table

from schemas.status import HarvestStatus

STATE_STYLE = {
    "done": "green", "failed": "bold red", "waiting_for_quota": "yellow",
    "running": "cyan", "queued": "dim", "paused": "magenta", "cancelled": "dim red",
    "access_expired": "bold yellow", "caught_up": "green",
}


def status_table(statuses: list[HarvestStatus]) -> Table:
    table = Table(title="Harvests", title_justify="left")
    for column in ("id", "state", "period", "windows", "pages", "records", "users", "requests",
                   "quota waits", "errors", "dead"):
        table.add_column(column, justify="left" if column in ("id", "state", "period") else "right")
    for s in statuses:
        table.add_row(
            s.id,
            f"[{STATE_STYLE.get(s.state, '')}]{s.state}[/]",
            s.period,
            f"{s.windows_done}/{s.windows_total}",
            f"{s.pages:,}",
            f"{s.records:,}",
            f"{s.users_done:,}/{s.users_requested:,}",
            f"{s.requests:,}",
            f"{s.quota_waits:,}",
            f"{s.errors:,}",
            f"{s.dead_letters:,}",
        )
    return table


def status_panel(s: HarvestStatus) -> Table:
    """One harvest, one fact a line: fits a narrow terminal."""
    table = Table.grid(padding=(0, 2))
    table.add_column(style="bold")
    table.add_column()
    for label, value in (
        ("harvest", s.id),
        ("state", f"[{STATE_STYLE.get(s.state, '')}]{s.state}[/]" + _state_note(s)),
        ("period", s.period),
        ("windows", f"{s.windows_done}/{s.windows_total} done"),
        ("pages", f"{s.pages:,}"),
        ("videos", f"{s.records:,}"),
        ("authors", f"{s.users_done:,}/{s.users_requested:,}" + _outcome_text(_user_outcomes(s))),
        *_endpoint_rows(s),
        *_refresh_rows(s),
        ("requests", f"{s.requests:,}" + _key_parts(s)),
        ("quota waits", f"{s.quota_waits:,}"),
        ("errors", f"{s.errors:,} (dead letters: {s.dead_letters:,})"),
        *_quota_rows(s),
        *_eta_rows(s),
        *_new_day_rows(s),
        *_forget_rows(s),
    ):
        table.add_row(label, value)
    return table


# The follow-up endpoints' rows: label, what their records are, what their chains are about.
ENDPOINT_ROWS = {
    "comment_list": ("comments", "comments", "videos"),
    "user_followers": ("followers", "relations", "accounts"),
    "user_following": ("following", "relations", "accounts"),
    "user_liked_videos": ("liked videos", "likes", "accounts"),
    "user_pinned_videos": ("pinned videos", "pins", "accounts"),
    "user_reposted_videos": ("reposted videos", "reposts", "accounts"),
    "playlist_info": ("playlists", "playlists", "playlists"),
}


def _endpoint_rows(s: HarvestStatus) -> list[tuple[str, str]]:
    rows = []
    for endpoint, (label, records, chains) in ENDPOINT_ROWS.items():
        e = s.endpoints.get(endpoint)
        if e is None:
            continue
        line = f"{e.records:,} {records}, {e.chains_done:,}/{e.chains_total:,} {chains} done, {e.requests:,} requests"
        if endpoint == "comment_list" and s.comments_cut:
            line += f"; {s.comments_cut:,} video(s) cut at TikTok's cap or the spec's limit"
        rows.append((label, line + _outcome_text(e.outcomes)))
    return rows


def _refresh_rows(s: HarvestStatus) -> list[tuple[str, str]]:
    """The latest compliance refresh: its progress, then what it moved and where."""
    r = s.refresh
    if r is None:
        return []
    line = (f"{r.id}, {r.state}: {r.batches_done:,}/{r.batches:,} batches of {r.videos:,} videos, "
            f"{r.requests:,} requests; {r.still_served:,} still served")
    if r.gone is not None:
        line += f", {r.gone:,} gone"
    rows = [("refresh", line)]
    if r.finished_at is not None:
        removed = Path(s.storage["records"]).parent.parent / "removed" if "records" in s.storage else "removed/"
        rows.append(("", f"moved {r.videos_removed:,} videos, {r.comments_removed:,} comments and "
                         f"{r.acts_removed:,} likes, pins or reposts into {removed}"))
    if r.unchecked:
        rows.append(("", f"{r.unchecked:,} stored videos could not be asked about (no creation date)"))
    return rows


def _outcome_text(outcomes: dict[str, int]) -> str:
    """TikTok's final answers other than ok, e.g. '; not given: 2 private, 1 hidden'."""
    if not outcomes:
        return ""
    return "; not given: " + ", ".join(f"{n:,} {why}" for why, n in sorted(outcomes.items()))


def _key_parts(s: HarvestStatus) -> str:
    """Each key's part, when the harvest spent more than one of its project's keys."""
    if len(s.requests_by_key) < 2:
        return ""
    return " (" + ", ".join(f"{name}: {n:,}" for name, n in sorted(s.requests_by_key.items())) + ")"


def _state_note(s: HarvestStatus) -> str:
    if s.state == "access_expired":
        return (" (no key of the project is valid today: add one to the credentials file and the harvest "
                f"goes on by itself; {s.windows_total - s.windows_done:,} windows undone)")
    if s.state != "paused":
        return ""
    return f" ({s.messages_held:,} messages held until `resume`)"


def _user_outcomes(s: HarvestStatus) -> dict[str, int]:
    users = s.endpoints.get("user_info")
    return users.outcomes if users else {}


def _quota_rows(s: HarvestStatus) -> list[tuple[str, str]]:
    q = s.quota
    if q is None:
        return []
    left = f", {q.requests_left:,} left" if q.requests_left is not None else ""
    rows = [("quota today", f"{q.requests_used:,} requests used{left} ({q.credential}); "
                            f"resets in {dt.timedelta(seconds=round(q.resets_in_s))}")]
    if q.harvests_sharing > 1:
        rows.append(("", f"{q.harvest_requests:,} of them by this harvest, which shares the day evenly with "
                         f"{q.harvests_sharing - 1} other harvest(s) on this credential"))
    if q.spent_for_s > 0:
        rows.append(("", f"[yellow]TikTok answers 429: paused for {dt.timedelta(seconds=round(q.spent_for_s))}[/]"))
    if q.tiktok_down_for_s > 0:
        rows.append(("", f"[yellow]TikTok looks down for {dt.timedelta(seconds=round(q.tiktok_down_for_s))}: "
                         f"waiting, next probe in {round(q.next_probe_in_s)} s[/]"))
    return rows


def _eta_rows(s: HarvestStatus) -> list[tuple[str, str]]:
    if s.eta_s is None or s.state == "done":
        return []
    return [("done in", f"about {dt.timedelta(seconds=round(s.eta_s))} (a rough guess from its pace so far, "
                        "quota waits included)")]


def _new_day_rows(s: HarvestStatus) -> list[tuple[str, str]]:
    if s.next_day_at is None or s.state == "cancelled":
        return []
    return [("days through", s.through or "-"),
            ("next day", f"asked for from {_day(s.next_day_at)}, once TikTok has archived it")]


def _forget_rows(s: HarvestStatus) -> list[tuple[str, str]]:
    """When the harvest's state leaves Redis (HARVEST_RETENTION_DAYS, HARVEST_FAILED_RETENTION_DAYS)."""
    if s.forget_at is None:
        return []
    if s.state == "failed":
        return [("kept", f"until `dead replay` or `purge`; if neither, forgotten from {_day(s.forget_at)}")]
    return [("kept until", f"{_day(s.forget_at)}, then forgotten in Redis (files stay)")]


def _day(timestamp: float) -> str:
    return dt.datetime.fromtimestamp(timestamp, dt.UTC).strftime("%Y-%m-%d %H:%M UTC")


def print_status(statuses: list[HarvestStatus]) -> None:
    console = Console()
    if not statuses:
        console.print("no harvests")
        return
    console.print(status_panel(statuses[0]) if len(statuses) == 1 else status_table(statuses))
    for s in statuses:
        if s.finished_at and s.next_day_at is None:
            took = dt.timedelta(seconds=round(s.finished_at - s.submitted_at))
            forget = f"; forgotten in Redis from {_day(s.forget_at)}" if s.forget_at else ""
            console.print(f"[green]{s.id}[/] finished in {took}; records in {s.storage.get('records', '?')}{forget}")
