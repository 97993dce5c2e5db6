"""`tiktok-harvest exporter`: the fleet's gauges read from Redis, for Prometheus."""

import signal
import threading
from pathlib import Path

import structlog
import typer

from harvest_cli.common import RedisOption, settings_from

log = structlog.get_logger(__name__)


def exporter_command(
    port: int = typer.Option(9192, "--port", help="Port of the metrics (any path answers)."),
    host: str = typer.Option("0.0.0.0", "--host", help="Address to listen on."),
    interval: float = typer.Option(15.0, "--interval", min=0.0,
                                   help="Read Redis at most once per this many seconds (scrapes in between "
                                        "get the last reading); keep it below the scrape interval."),
    redis_url: str | None = RedisOption,
    credentials: Path | None = typer.Option(None, envvar="HARVEST_CREDENTIALS_FILE",
                                            help="Credentials file (TOML): the names and daily limits."),
):
    """Serve the queues, live workers, each credential's quota today, the harvests in progress and Redis's memory as Prometheus metrics, read from Redis when scraped. Run one per fleet (it needs the fleet's HARVEST_NAMESPACE and credentials file).

    Runs until SIGTERM or Ctrl-C."""  # noqa: E501 (typer keeps the paragraphs' line breaks)
    from prometheus_client import CollectorRegistry, start_http_server

    from workers.broker import redis_client
    from workers.exporter.collector import FleetCollector

    settings = settings_from(redis_url=redis_url, credentials_file=credentials)
    # A read timeout: a scrape must answer, if only with tiktok_exporter_redis_up 0.
    client = redis_client(settings, client_name="tiktok-harvest-exporter", read_timeout_s=5)
    registry = CollectorRegistry()
    registry.register(FleetCollector(client, settings, interval_s=interval))
    server, thread = start_http_server(port, addr=host, registry=registry)
    log.info("exporter_listening", host=host, port=port, interval_s=interval)
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    stop.wait()
    server.shutdown()
    thread.join(5)
