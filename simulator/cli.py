"""``tiktok-harvest simulator`` / ``python -m simulator``: serve the simulator in the foreground.

One option per :class:`SimConfig` switch, with the same name (``--error-500-rate``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import msgspec
import typer

from simulator.faults import SimConfig

_D = SimConfig()  # defaults come from the struct, so the CLI cannot drift from it
_FAULT = "Faults (rates in [0, 1])"
_OUTAGE = "Outage (TikTok down)"


def simulator_command(
    host: Annotated[str, typer.Option(help="Interface to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port (0 picks a free one).")] = 8901,
    seed: Annotated[int, typer.Option(help="Corpus and fault seed.")] = 7,
    videos: Annotated[int, typer.Option(help="Approximate corpus size.")] = 60000,
    credentials: Annotated[Path | None, typer.Option(
        help="TOML with \\[credentials.<name>] client_key/client_secret: only those pairs are valid.",
        exists=True, dir_okay=False)] = None,
    latency_ms: Annotated[float, typer.Option(help="Added to every API response.")] = _D.latency_ms,
    latency_jitter_ms: Annotated[float, typer.Option(help="Plus uniform(0, jitter).")] = _D.latency_jitter_ms,
    token_ttl_s: Annotated[int, typer.Option(help="Access token lifetime (expires_in).")] = _D.token_ttl_s,
    oauth_error_status: Annotated[int, typer.Option(
        help="HTTP status of OAuth failures: 200, 400 or 401.")] = _D.oauth_error_status,
    daily_requests: Annotated[int, typer.Option(
        help="Research requests per client key per UTC day.")] = _D.daily_requests,
    daily_records: Annotated[int, typer.Option(help="Records per client key per UTC day.")] = _D.daily_records,
    daily_follow_requests: Annotated[int, typer.Option(
        help="Follower/following list requests per client key per UTC day (a budget of their own).")
    ] = _D.daily_follow_requests,
    daily_follow_records: Annotated[int, typer.Option(
        help="Follower/following list records per client key per UTC day.")] = _D.daily_follow_records,
    quota_reset_lag_s: Annotated[float, typer.Option(
        help="Keep answering 429 this long after 00:00 UTC.")] = _D.quota_reset_lag_s,
    error_500_rate: Annotated[float, typer.Option(
        help="Video query 500 rate at a 30-day window (scales with days).",
        rich_help_panel=_FAULT)] = _D.error_500_rate,
    user_500_rate: Annotated[float, typer.Option(
        help="User info, followers, following, liked, pinned and reposted videos: 500 with an empty message.",
        rich_help_panel=_FAULT)] = _D.user_500_rate,
    comment_500_rate: Annotated[float, typer.Option(
        help="Comment list 500 internal_error.", rich_help_panel=_FAULT)] = _D.comment_500_rate,
    playlist_500_rate: Annotated[float, typer.Option(
        help="Playlist info 500 internal_error.", rich_help_panel=_FAULT)] = _D.playlist_500_rate,
    throttle_429_rate: Annotated[float, typer.Option(
        help="Short-term 429 rate_limit_exceeded.", rich_help_panel=_FAULT)] = _D.throttle_429_rate,
    malformed_rate: Annotated[float, typer.Option(
        help="200 with a body cut short.", rich_help_panel=_FAULT)] = _D.malformed_rate,
    error_504_rate: Annotated[float, typer.Option(
        help="504 with an HTML body.", rich_help_panel=_FAULT)] = _D.error_504_rate,
    slow_rate: Annotated[float, typer.Option(
        help="Share of responses delayed by --slow-ms.", rich_help_panel=_FAULT)] = _D.slow_rate,
    slow_ms: Annotated[float, typer.Option(
        help="Extra delay of a slow response.", rich_help_panel=_FAULT)] = _D.slow_ms,
    search_id_invalid_rate: Annotated[float, typer.Option(
        help="Later pages: 400 'Search Id <n> is invalid or expired'.",
        rich_help_panel=_FAULT)] = _D.search_id_invalid_rate,
    invalid_cursor_rate: Annotated[float, typer.Option(
        help="Later pages: 400 'Invalid count or cursor'.", rich_help_panel=_FAULT)] = _D.invalid_cursor_rate,
    empty_page_rate: Annotated[float, typer.Option(
        help="Empty page, has_more true, cursor advancing.", rich_help_panel=_FAULT)] = _D.empty_page_rate,
    search_id_change_rate: Annotated[float, typer.Option(
        help="A page answers with a new search_id.", rich_help_panel=_FAULT)] = _D.search_id_change_rate,
    search_cache_size: Annotated[int, typer.Option(
        help="Searches kept before the oldest id expires.")] = _D.search_cache_size,
    comment_cap: Annotated[int, typer.Option(
        help="Comments served per video; comment_count may say more.")] = _D.comment_cap,
    comment_unknown_video: Annotated[str, typer.Option(
        help="A video the corpus lacks or hides: 'empty' (200, no comments) or 'invalid_params' (400).")
    ] = _D.comment_unknown_video,
    follow_cap: Annotated[int, typer.Option(
        help="Newest entries served of a follower or following list.")] = _D.follow_cap,
    time_cursor_ties: Annotated[str, typer.Option(
        help="Time cursors (follows, likes): 'skip' answers one unit before the last entry "
             "(unserved ties are lost), 'repeat' answers its time (its second's entries come again).")
    ] = _D.time_cursor_ties,
    reposted_list_name: Annotated[str, typer.Option(
        help="List key of reposted videos: 'user_reposted_videos' or 'reposted_videos'.")
    ] = _D.reposted_list_name,
    outage_status: Annotated[int, typer.Option(
        help="Non-zero: every research and token request answers this 5xx status.",
        rich_help_panel=_OUTAGE)] = _D.outage_status,
    outage_mode: Annotated[str, typer.Option(
        help="'status' answers --outage-status; 'reset' drops the connection unanswered.",
        rich_help_panel=_OUTAGE)] = _D.outage_mode,
    outage_for_s: Annotated[float | None, typer.Option(
        help="The outage ends by itself after this many seconds (real time).",
        rich_help_panel=_OUTAGE)] = _D.outage_for_s,
) -> None:
    """Serve a simulated TikTok Research API until Ctrl-C or SIGTERM."""
    from simulator.server import run  # keep `--help` fast: no corpus, no server import

    switches = {name: value for name, value in locals().items() if name in SimConfig.__struct_fields__}
    try:
        config = msgspec.convert(switches, SimConfig)
    except msgspec.ValidationError as exc:
        raise typer.BadParameter(str(exc)) from None
    run(seed=seed, host=host, port=port, config=config, credentials_file=credentials, videos=videos)
