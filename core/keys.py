"""Every Redis key the harvester writes, named in one place.

Keys hold names (harvest ids, credential names, usernames, logical page ids), never secrets.
"""

from dataclasses import dataclass

# TikTok's budgets per credential: the research requests (video query, comments, user info,
# ...), and the follower lists' own. Each is a bucket of its own in Redis.
RESEARCH, FOLLOWS = "research", "follows"
BUDGETS = (RESEARCH, FOLLOWS)


def budget_bucket(credential: str, budget: str) -> str:
    """The name of a credential's bucket for `budget` (its own name for research requests)."""
    return credential if budget == RESEARCH else f"{credential}#{budget}"


@dataclass(frozen=True)
class Keys:
    namespace: str

    # --- fleet-wide -------------------------------------------------------------------
    @property
    def harvests(self) -> str:
        """Sorted set: harvest id -> submission time."""
        return f"{self.namespace}:harvests"

    def intake_reply(self, request_id: str) -> str:
        """String (JSON), for a week: the answer to an intake request (schemas.messages.IntakeReply)."""
        return f"{self.namespace}:intake:reply:{request_id}"

    def quota(self, credential: str) -> str:
        """Hash: the credential's bucket (day, requests, records, spent_until) and TikTok's
        health as seen through it (last_ok, outage_since, probe_at, probe_every)."""
        return f"{self.namespace}:quota:{credential}"

    # The quota scripts append the UTC day number (by the Redis clock) to these prefixes.
    def reservations_prefix(self, credential: str) -> str:
        return f"{self.namespace}:quota:{credential}:resv"

    def reservations(self, credential: str, day: int) -> str:
        """Hash: reservation (harvest|unit|take) -> records reserved by a call not yet settled
        that day."""
        return f"{self.reservations_prefix(credential)}:{day}"

    def quota_shares_prefix(self, credential: str) -> str:
        return f"{self.namespace}:quota:{credential}:shares"

    def quota_shares(self, credential: str, day: int) -> str:
        """Hash: harvest id -> requests it took from the credential's bucket that UTC day."""
        return f"{self.quota_shares_prefix(credential)}:{day}"

    def quota_rate_prefix(self, credential: str) -> str:
        """Prefix of hashes, one per minute slot (appended by take.lua): harvest -> requests it
        took from the bucket in that minute (its recent rate, for the fair share)."""
        return f"{self.namespace}:quota:{credential}:rate"

    def quota_failing(self, credential: str) -> str:
        """Sorted set: harvest|unit -> when its last call failed with an outage sign, until a
        call of it succeeds (see workers/quota/api_failed.lua)."""
        return f"{self.namespace}:quota:{credential}:failing"

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

    @property
    def retention_sweep(self) -> str:
        """String with an expiry: taken by the worker process that runs the retention sweep,
        so the fleet runs it once per period (workers/retention.py)."""
        return f"{self.namespace}:retention:sweep"

    def deliveries(self, message_id: str) -> str:
        """Counter: deliveries of a message that started and have not ended (its worker died)."""
        return f"{self.namespace}:deliveries:{message_id}"

    def profile(self, project: str, escaped_username: str) -> str:
        """Hash with an expiry: a profile answer (body, at) a project's harvests may reuse."""
        return f"{self.namespace}:profile:{project}:{escaped_username}"

    # --- per harvest ------------------------------------------------------------------
    def plan(self, harvest: str) -> str:
        return f"{self.namespace}:h:{harvest}:plan"

    def meta(self, harvest: str) -> str:
        """Hash: state, generation (of the registration), enqueued flag, completed_at (every
        unit done), finished_at (finishing done), last_call_at and last_dead_at (when a
        failed harvest is forgotten: workers/retention.py)."""
        return f"{self.namespace}:h:{harvest}:meta"

    def stats(self, harvest: str) -> str:
        """Hash of counters: pages, records, requests, errors, quota_waits, and per endpoint
        requests_<e>, pages_<e>, records_<e>, chains_<e>, chains_done_<e> ..."""
        return f"{self.namespace}:h:{harvest}:stats"

    def windows(self, harvest: str) -> str:
        """Hash: window id -> open | done | split | restarted."""
        return f"{self.namespace}:h:{harvest}:windows"

    def done(self, harvest: str) -> str:
        """Set of logical units (pages, users) whose work is complete."""
        return f"{self.namespace}:h:{harvest}:done"

    def fetched(self, harvest: str) -> str:
        """Hash: logical unit whose API answer is stored under source_records/ -> the quota
        reservation that paid for it."""
        return f"{self.namespace}:h:{harvest}:fetched"

    def lease(self, harvest: str, unit: str) -> str:
        """Hash: owner (lease token of the message that owns the unit), delivery and until
        (the delivery running it now, and when its hold lapses). See workers/lease.py."""
        return f"{self.namespace}:h:{harvest}:lease:{unit}"

    def purged(self, harvest: str) -> str:
        """String, for a while after `purge`: messages still queued for the harvest are dropped
        quietly instead of dead-lettered as strangers."""
        return f"{self.namespace}:purged:{harvest}"

    def owners(self, harvest: str) -> str:
        """Hash: video id -> the logical page that stores it (each record once per harvest)."""
        return f"{self.namespace}:h:{harvest}:owner"

    def users_requested(self, harvest: str) -> str:
        return f"{self.namespace}:h:{harvest}:users"

    def chains_requested(self, harvest: str) -> str:
        """Set of follow-up chains asked for, as `<endpoint>:<what>` (a video's comments,
        an account's followers): each a chain of pages, as a window's are."""
        return f"{self.namespace}:h:{harvest}:chains"

    def chains_done(self, harvest: str) -> str:
        """Set of the chains (as in chains_requested) that have ended."""
        return f"{self.namespace}:h:{harvest}:chains_done"

    def list_outcomes(self, harvest: str) -> str:
        """Hash: <endpoint>:<username> -> why an account's list (followers, likes, ...) was
        not given: private, unknown, restricted (hidden likes)."""
        return f"{self.namespace}:h:{harvest}:list_outcomes"

    def comments_cut(self, harvest: str) -> str:
        """Hash: video id -> why its comments stopped short of its comment count
        (tiktok_cap: TikTok serves about the first 1,000; spec_limit: max_comments_per_video)."""
        return f"{self.namespace}:h:{harvest}:comments_cut"

    def users_done(self, harvest: str) -> str:
        """Hash: username -> outcome (ok, unknown, private, restricted)."""
        return f"{self.namespace}:h:{harvest}:users_done"

    def parked(self, harvest: str) -> str:
        """Set of logical units waiting for quota."""
        return f"{self.namespace}:h:{harvest}:parked"

    def buckets_used(self, harvest: str) -> str:
        """Set of the quota buckets (credential budgets) the harvest took from: the ones it
        leaves when it ends, is paused or cancelled."""
        return f"{self.namespace}:h:{harvest}:buckets"

    def held(self, harvest: str) -> str:
        """Hash: unit -> its message (Dramatiq's encoding), held while the harvest is paused
        and sent again by `resume` (producers/control.py)."""
        return f"{self.namespace}:h:{harvest}:held"

    def refresh(self, harvest: str) -> str:
        """Hash: the harvest's latest compliance refresh (core/refreshes.py): id, started_at,
        videos, unchecked, batches, requests_before (the stats' requests_refresh when it began),
        pages; completed_at (every batch in), decided_at and gone (the videos found gone),
        finished_at (their records moved) and what was moved (videos_removed, ...)."""
        return f"{self.namespace}:h:{harvest}:refresh"

    def refresh_batches(self, harvest: str) -> str:
        """Hash: batch number -> schemas.refresh.RefreshBatch (JSON), while the refresh runs."""
        return f"{self.namespace}:h:{harvest}:refresh:batches"

    def refresh_served(self, harvest: str) -> str:
        """Set of the video ids TikTok still returned, while the refresh runs."""
        return f"{self.namespace}:h:{harvest}:refresh:served"

    def refresh_ended(self, harvest: str) -> str:
        """Set of the batch numbers whose chain of pages has ended (for progress)."""
        return f"{self.namespace}:h:{harvest}:refresh:ended"

    def refresh_pending(self, harvest: str) -> str:
        """Set of the refresh's units sent and not done: every batch's first page at the
        start, then each page's next one. Empty: every answer is in."""
        return f"{self.namespace}:h:{harvest}:refresh:pending"

    def refresh_gone(self, harvest: str) -> str:
        """Set of the video ids found gone, fixed once every batch is in."""
        return f"{self.namespace}:h:{harvest}:refresh:gone"

    def new_days(self, harvest: str) -> str:
        """Hash of an ongoing harvest: the first day of each new-days unit -> the window it added."""
        return f"{self.namespace}:h:{harvest}:new_days"

    def records_lock(self, harvest: str) -> str:
        """Held while a step rewrites the harvest's stored pages (workers/records_lock.py)."""
        return f"{self.namespace}:h:{harvest}:records_lock"

    def harvest_keys_pattern(self, harvest: str) -> str:
        return f"{self.namespace}:h:{harvest}:*"

    def harvest_keys(self, harvest: str) -> list[str]:
        """A harvest's keys, plan first, all but its per-unit leases (only
        `harvest_keys_pattern` finds those). A new per-harvest key belongs in this list too:
        it is what is cleared when a purge leaves stragglers behind."""
        return [self.plan(harvest), self.meta(harvest), self.stats(harvest), self.windows(harvest),
                self.done(harvest), self.fetched(harvest), self.owners(harvest), self.users_requested(harvest),
                self.users_done(harvest), self.parked(harvest), self.chains_requested(harvest),
                self.chains_done(harvest), self.comments_cut(harvest), self.list_outcomes(harvest),
                self.held(harvest), self.buckets_used(harvest), self.refresh(harvest),
                self.refresh_batches(harvest), self.refresh_served(harvest), self.refresh_ended(harvest),
                self.refresh_pending(harvest), self.refresh_gone(harvest), self.new_days(harvest),
                self.records_lock(harvest)]

    @property
    def purged_pattern(self) -> str:
        return f"{self.namespace}:purged:*"
