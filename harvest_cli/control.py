"""`tiktok-harvest pause|resume|cancel ID`: steer a running harvest (producers/control.py)."""

import msgspec
import typer

from harvest_cli.common import RedisOption, connect, fail, settings_from

HarvestArgument = typer.Argument(..., help="The harvest.")
JsonOption = typer.Option(False, "--json", help="Print one JSON document: the harvest's status after the change.")


def pause_command(harvest_id: str = HarvestArgument, as_json: bool = JsonOption, redis_url: str | None = RedisOption):
    """Pause a harvest: from the moment this returns, no request is sent for it (calls already granted finish). Its queued messages are held in Redis until `resume`.

    Exit codes: 0 paused (or already paused), 1 no such harvest, or it is done or cancelled."""  # noqa: E501 (one line a paragraph: the help keeps the line breaks)
    _run("pause", harvest_id, as_json, redis_url)


def resume_command(harvest_id: str = HarvestArgument, as_json: bool = JsonOption, redis_url: str | None = RedisOption):
    """Resume a paused harvest where it stopped: its held messages are sent again. Safe to repeat.

    Exit codes: 0 resumed (or not paused), 1 no such harvest, or it is done or cancelled."""
    _run("resume", harvest_id, as_json, redis_url)


def cancel_command(harvest_id: str = HarvestArgument, as_json: bool = JsonOption, redis_url: str | None = RedisOption):
    """Cancel a harvest for good: no request is sent for it any more, its queued messages are dropped without a call, and it leaves its credential's day to the other harvests. What was stored stays; its state leaves Redis after the retention.

    Exit codes: 0 cancelled (or already cancelled), 1 no such harvest, or it is done."""  # noqa: E501 (see above)
    _run("cancel", harvest_id, as_json, redis_url)


def _run(action: str, harvest_id: str, as_json: bool, redis_url: str | None) -> None:
    from core.keys import Keys
    from core.messages import producer_broker
    from producers import control

    settings = settings_from(redis_url=redis_url)
    client = connect(settings)
    keys = Keys(settings.namespace)
    try:
        if action == "resume":

            done = control.resume(client, keys, producer_broker(settings, client), harvest_id)
        else:
            done = getattr(control, action)(client, keys, harvest_id)
    except control.ControlRefused as refused:
        fail(f"cannot {action} {harvest_id}: {refused.why}", code=1)
    if as_json:
        typer.echo(msgspec.json.encode(done.status).decode())
        return
    state = done.status.state
    if not done.changed:
        typer.echo(f"{harvest_id} is {state}: nothing changed", err=True)
    elif action == "resume":
        typer.echo(f"{harvest_id} resumed: {done.messages_resent:,} held messages sent again")
    else:
        typer.echo(f"{harvest_id} {state}")
    if action == "resume" and not done.changed and done.messages_resent:
        typer.echo(f"{done.messages_resent:,} messages still held from before were sent again", err=True)
