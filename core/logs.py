"""structlog setup: JSON lines in production, pretty output on a terminal; always stderr.

Standard-library records (Dramatiq's, httpx's) are rendered the same way, so a log shipper
sees one format. Either way every value and every traceback is scrubbed of secrets just
before rendering (see core.redaction): other libraries' messages are not ours to vet.
"""

import io
import logging
import sys

import structlog
from structlog.typing import Processor

from core.redaction import scrub, scrub_data


def scrub_secrets(logger, method_name, event_dict):
    """Processor: every string in the event (the formatted exception too) scrubbed."""
    # Left for the console renderer, whose exception formatter scrubs (JSON mode has already
    # turned it into a scrubbed "exception" string).
    exc_info = event_dict.pop("exc_info", None)
    event_dict = scrub_data(event_dict, other=_scrubbed_repr)
    if exc_info is not None:
        event_dict["exc_info"] = exc_info
    return event_dict


def _scrubbed_repr(value):
    # Numbers and the like render as they are; any other object would be rendered through its
    # repr (or __structlog__) by the renderer, which could quote a secret: do it here, scrubbed.
    if value is None or isinstance(value, (bool, int, float)):
        return value
    try:
        rendered = value.__structlog__() if hasattr(value, "__structlog__") else repr(value)
    except Exception:
        return f"<{type(value).__name__} that cannot be shown>"  # a log call must not fail over it
    return scrub(str(rendered))


def scrubbed_plain_traceback(sio, exc_info) -> None:
    """The console renderer's exception formatter: plain, and scrubbed."""
    text = io.StringIO()
    structlog.dev.plain_traceback(text, exc_info)
    sio.write(scrub(text.getvalue()))


def configure_logging(level: str = "INFO", *, json: bool | None = None) -> None:
    if json is None:
        json = not sys.stderr.isatty()
    numeric = logging.getLevelName(level.upper())
    if not isinstance(numeric, int):
        numeric = logging.INFO
    renderer = (
        structlog.processors.JSONRenderer()
        if json
        # Plain tracebacks: rich's pretty ones print local variables, which may hold secrets.
        else structlog.dev.ConsoleRenderer(exception_formatter=scrubbed_plain_traceback)
    )
    shared: list[Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    structlog.configure(
        processors=[*shared, structlog.processors.format_exc_info if json else structlog.processors.StackInfoRenderer(),
                    scrub_secrets, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=True,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[*shared, structlog.stdlib.add_logger_name, structlog.stdlib.ExtraAdder()],
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                    *([structlog.processors.format_exc_info] if json else []), scrub_secrets, renderer],
    )
    root = logging.getLogger()
    if not root.handlers:  # Dramatiq's worker processes already log to a pipe: keep it
        root.addHandler(logging.StreamHandler(sys.stderr))
    for handler in root.handlers:
        handler.setFormatter(formatter)
    root.setLevel(numeric)
    # httpx's per-request lines (URLs, never headers) are noise at INFO.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("httpcore").setLevel(logging.WARNING)
