"""Settings from the environment (containers first; the CLI overrides with flags)."""

import os
import time
from dataclasses import dataclass, field, replace
from pathlib import Path


def _env(name: str, default: str) -> str:
    value = os.environ.get(name, "").strip()
    return value or default


@dataclass(frozen=True)
class Settings:
    redis_url: str = field(default_factory=lambda: _env("REDIS_URL", "redis://127.0.0.1:6379/0"))
    api_base_url: str = field(
        default_factory=lambda: _env("TIKTOK_API_BASE_URL", "https://open.tiktokapis.com")
    )
    data_dir: Path = field(default_factory=lambda: Path(_env("HARVEST_DATA_DIR", "./data")))
    credentials_file: Path = field(
        default_factory=lambda: Path(_env("HARVEST_CREDENTIALS_FILE", "./credentials.toml"))
    )
    # Prefix of every Redis key (ours and Dramatiq's), so several fleets or test runs can
    # share one Redis without seeing each other.
    namespace: str = field(default_factory=lambda: _env("HARVEST_NAMESPACE", "tiktok-harvest"))
    log_level: str = field(default_factory=lambda: _env("LOG_LEVEL", "INFO").upper())
    # Videos asked per page: TikTok's maximum, since requests are the scarce resource.
    max_count: int = field(default_factory=lambda: int(_env("HARVEST_MAX_COUNT", "100")))
    # Seconds of silence after which a worker counts as dead and its messages go back to
    # the queue (Dramatiq's heartbeat timeout); recovery takes this plus one sweep interval.
    dead_worker_after_s: float = field(
        default_factory=lambda: float(_env("HARVEST_DEAD_WORKER_AFTER_S", "15"))
    )
    sweep_interval_s: float = field(
        default_factory=lambda: float(_env("HARVEST_SWEEP_INTERVAL_S", "5"))
    )
    # How long a delivery's hold on its unit lasts without renewal (its worker renews it
    # every fifth of that while it runs); see workers/lease.py.
    lease_hold_s: float = field(default_factory=lambda: float(_env("HARVEST_LEASE_HOLD_S", "15")))
    # Hours a profile fetched for one harvest is reused by the project's other harvests
    # (no second call for the same account); 0 turns the reuse off. See workers/profiles.py.
    profile_freshness_hours: float = field(
        default_factory=lambda: float(_env("HARVEST_PROFILE_FRESHNESS_HOURS", "24"))
    )
    metrics_port: int = field(default_factory=lambda: int(_env("HARVEST_METRICS_PORT", "9191")))
    # Days a done harvest's state stays in Redis before it expires (files in storage stay);
    # see workers/retention.py. Redis runs without eviction, so nothing may stay for ever.
    harvest_retention_days: float = field(
        default_factory=lambda: float(_env("HARVEST_RETENTION_DAYS", "30"))
    )
    # Days a failed harvest and its dead letters are kept after its last dead letter and its
    # last API call, unless replayed or purged first. 30: as long as Dramatiq keeps the dead
    # message itself.
    harvest_failed_retention_days: float = field(
        default_factory=lambda: float(_env("HARVEST_FAILED_RETENTION_DAYS", "30"))
    )
    # Optional shift of the fleet's clock: the one the quota bucket reads (Redis TIME + offset),
    # the day a spec is validated on and the schedule of ongoing harvests. Only tests and
    # rehearsals set it, to cross a UTC midnight (or days) without waiting for one.
    quota_clock_offset_s: float = field(
        default_factory=lambda: float(_env("HARVEST_QUOTA_CLOCK_OFFSET_S", "0"))
    )
    # An ongoing harvest waiting for its next day to be archived looks again at least this
    # often (seconds): a clock that moved, or a worker that held the wait, costs no longer.
    new_days_check_s: float = field(default_factory=lambda: float(_env("HARVEST_NEW_DAYS_CHECK_S", "3600")))

    def __post_init__(self):
        if not 1 <= self.max_count <= 100:
            raise ValueError(f"HARVEST_MAX_COUNT must be 1 to 100 (TikTok's limit), not {self.max_count}")
        for name in ("harvest_retention_days", "harvest_failed_retention_days"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name.upper()} must be more than 0 days, not {getattr(self, name)}")
        if not self.new_days_check_s > 0:
            raise ValueError(f"HARVEST_NEW_DAYS_CHECK_S must be more than 0 seconds, not {self.new_days_check_s}")

    def fleet_now(self) -> float:
        """The fleet's clock (Unix time): the local one, shifted as rehearsals may ask."""
        return time.time() + self.quota_clock_offset_s

    def with_overrides(self, **values) -> "Settings":
        return replace(self, **{k: v for k, v in values.items() if v is not None})


_current: Settings | None = None


def get_settings() -> Settings:
    global _current
    if _current is None:
        _current = Settings()
    return _current


def set_settings(settings: Settings) -> None:
    global _current
    _current = settings
