"""Settings from flags, the Redis client and error exits shared by the commands."""

import sys
from pathlib import Path
from typing import NoReturn

import redis
import typer
from rich.console import Console

from core.config import Settings, get_settings, set_settings
from core.logs import configure_logging
from core.redaction import mask_url

stderr = Console(stderr=True)

RedisOption = typer.Option(None, "--redis-url", envvar="REDIS_URL", help="Redis to use.", show_envvar=True)


def settings_from(**overrides) -> Settings:
    settings = get_settings().with_overrides(**overrides)
    set_settings(settings)
    configure_logging(settings.log_level)
    return settings


def connect(settings: Settings) -> redis.Redis:
    from workers.broker import redis_client

    client = redis_client(settings, client_name="tiktok-harvest-cli", read_timeout_s=10)
    try:
        client.ping()
    except redis.RedisError as error:
        # The URL may carry Redis's password: shown masked, like every URL this tool prints.
        fail(f"Redis at {mask_url(settings.redis_url)} does not answer ({type(error).__name__})", code=1)
    return client


def fail(message: str, code: int = 1) -> NoReturn:
    stderr.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


def path_or_none(value: str | None) -> Path | None:
    return Path(value) if value else None


def is_terminal() -> bool:
    return sys.stdout.isatty()
