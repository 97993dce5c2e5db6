"""Every Redis key the harvester writes, named in one place.

Keys hold names (harvest ids, credential names, usernames, logical page ids), never secrets.
"""

from dataclasses import dataclass


@dataclass(frozen=True)
class Keys:
    namespace: str

    # --- fleet-wide -------------------------------------------------------------------
    @property
    def harvests(self) -> str:
        """Sorted set: harvest id -> submission time."""
        return f"{self.namespace}:harvests"

    def quota(self, credential: str) -> str:
        """Hash: the credential's bucket (day, requests, records, spent_until)."""
        return f"{self.namespace}:quota:{credential}"

    # The quota scripts append the UTC day number (by the Redis clock) to these prefixes.
    def reservations_prefix(self, credential: str) -> str:
        return f"{self.namespace}:quota:{credential}:resv"

    def reservations(self, credential: str, day: int) -> str:
        """Hash: harvest|logical unit -> records reserved by calls not yet settled that day."""
        return f"{self.reservations_prefix(credential)}:{day}"

    def quota_shares_prefix(self, credential: str) -> str:
        return f"{self.namespace}:quota:{credential}:shares"

    def quota_shares(self, credential: str, day: int) -> str:
        """Hash: harvest id -> requests it took from the credential's bucket that UTC day."""
        return f"{self.quota_shares_prefix(credential)}:{day}"

    def quota_active(self, credential: str) -> str:
        """Sorted set: harvest id -> when it last asked this credential's bucket for quota."""
        return f"{self.namespace}:quota:{credential}:active"

    def token(self, credential: str) -> str:
        """String: the shared access token, encrypted with a key derived from the secret."""
        return f"{self.namespace}:token:{credential}"

    def token_lock(self, credential: str) -> str:
        return f"{self.namespace}:token:{credential}:lock"

    @property
    def dead_letters(self) -> str:
        """Hash: message id -> dead letter (message, reason, time)."""
        return f"{self.namespace}:dead"

    # --- per harvest ------------------------------------------------------------------
    def plan(self, harvest: str) -> str:
        return f"{self.namespace}:h:{harvest}:plan"

    def meta(self, harvest: str) -> str:
        """Hash: state, enqueued flag, completed_at (every unit done), finished_at (finishing done)."""
        return f"{self.namespace}:h:{harvest}:meta"

    def stats(self, harvest: str) -> str:
        """Hash of counters: pages, records, requests, errors, quota_waits, ..."""
        return f"{self.namespace}:h:{harvest}:stats"

    def windows(self, harvest: str) -> str:
        """Hash: window id -> open | done | split | restarted."""
        return f"{self.namespace}:h:{harvest}:windows"

    def done(self, harvest: str) -> str:
        """Set of logical units (pages, users) whose work is complete."""
        return f"{self.namespace}:h:{harvest}:done"

    def fetched(self, harvest: str) -> str:
        """Set of logical units whose API answer is stored under source_records/."""
        return f"{self.namespace}:h:{harvest}:fetched"

    def lease(self, harvest: str, unit: str) -> str:
        """String: id of the message that owns the logical unit."""
        return f"{self.namespace}:h:{harvest}:lease:{unit}"

    def owners(self, harvest: str) -> str:
        """Hash: video id -> the logical page that stores it (each record once per harvest)."""
        return f"{self.namespace}:h:{harvest}:owner"

    def users_requested(self, harvest: str) -> str:
        return f"{self.namespace}:h:{harvest}:users"

    def users_done(self, harvest: str) -> str:
        """Hash: username -> outcome (ok, unknown, private, restricted)."""
        return f"{self.namespace}:h:{harvest}:users_done"

    def parked(self, harvest: str) -> str:
        """Set of logical units waiting for quota."""
        return f"{self.namespace}:h:{harvest}:parked"

    def harvest_keys_pattern(self, harvest: str) -> str:
        return f"{self.namespace}:h:{harvest}:*"
