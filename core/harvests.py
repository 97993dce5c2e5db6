"""The harvests in Redis as producers and readers see them: registering one, its plan, the
list of harvests, and each one's status. Workers add the steps of a unit's life on top
(workers/progress.py).
"""

import datetime as dt
import time
from collections import Counter, defaultdict

import msgspec

from core import lua, windows
from core.keys import BUDGETS, Keys, budget_bucket
from core.refreshes import refresh_status
from schemas.spec import HarvestPlan
from schemas.status import EndpointStatus, HarvestState, HarvestStatus, RefreshStatus

OPEN, DONE, SPLIT, RESTARTED = "open", "done", "split", "restarted"
# Stats field prefix: the harvest's requests on each of its project's keys.
KEY_REQUESTS_PREFIX = "requests@"

# Deletes what is left of a harvest id whose plan is gone. Checked and deleted in one step, so
# a harvest registered meanwhile under the id is never touched.
# KEYS: the plan, then the harvest's other keys (Keys.harvest_keys)
# Returns the number of keys deleted, or -1 when the id is registered.
CLEAR_LEFTOVERS = """
if redis.call('EXISTS', KEYS[1]) == 1 then
  return -1
end
local deleted = 0
for i = 2, #KEYS do
  deleted = deleted + redis.call('DEL', KEYS[i])
end
return deleted
"""


# Adds chains to the requested set, counting each new one in the stats once.
# KEYS: chains_requested set, stats hash; ARGV: endpoint, then what each chain is about.
MARK_CHAINS = """
local added = 0
for i = 2, #ARGV do
  added = added + redis.call('SADD', KEYS[1], ARGV[1] .. ':' .. ARGV[i])
end
if added > 0 then
  redis.call('HINCRBY', KEYS[2], 'chains_' .. ARGV[1], added)
end
return added
"""


class Harvests:
    def __init__(self, redis, keys: Keys):
        self._redis = redis
        self.keys = keys
        self._plans: dict[str, tuple[str, HarvestPlan]] = {}  # harvest -> (generation, plan)
        self._register = lua.register(redis, "register", "core")
        self._clear_leftovers = redis.register_script(CLEAR_LEFTOVERS)
        self._mark_chains = redis.register_script(MARK_CHAINS)

    # --- registration (producers) ----------------------------------------------------------
    def register(self, plan: HarvestPlan) -> bool:
        """Record a new harvest. False when the id is taken (the plan is left as it was)."""
        k = self.keys
        if self._redis.exists(k.purged(plan.id)):
            self.clear_leftovers(plan.id)
        return bool(self._register(
            keys=[k.plan(plan.id), k.windows(plan.id), k.meta(plan.id), k.harvests, k.purged(plan.id)],
            args=[msgspec.json.encode(plan), plan.id, plan.submitted_at, "1" if plan.ongoing else "", *plan.windows],
        ))

    def clear_leftovers(self, harvest: str) -> int:
        """After a purge, a delivery that was in flight may still write a counter or a set of
        its harvest (the steps that are not fenced by its lease) before it notices: those keys
        would never expire, and a harvest registered again under the id would inherit them.
        Removes them while the id is not registered; returns how many keys went."""
        return max(0, int(self._clear_leftovers(keys=self.keys.harvest_keys(harvest))))

    def chains_not_requested(self, harvest: str, endpoint: str, chains: list[str]) -> list[str]:
        members = [f"{endpoint}:{chain}" for chain in chains]
        known = set(self._not_in(self.keys.chains_requested(harvest), members))
        return [chain for chain, member in zip(chains, members, strict=True) if member in known]

    def mark_chains_requested(self, harvest: str, endpoint: str, chains: list[str]) -> None:
        """Counted once each, however often a crash makes them asked for again."""
        if chains:
            self._mark_chains(keys=[self.keys.chains_requested(harvest), self.keys.stats(harvest)],
                              args=[endpoint, *chains])

    def _not_in(self, key: str, names: list[str]) -> list[str]:
        if not names:
            return []
        known = self._redis.smismember(key, names)
        return [name for name, seen in zip(names, known, strict=True) if not seen]

    def mark_enqueued(self, harvest: str) -> None:
        self._redis.hset(self.keys.meta(harvest), "enqueued", "1")

    def is_enqueued(self, harvest: str) -> bool:
        return self._redis.hget(self.keys.meta(harvest), "enqueued") == b"1"

    # --- reading -------------------------------------------------------------------------
    def plan(self, harvest: str, generation: str | None = None) -> HarvestPlan | None:
        """The harvest's plan. A plan never changes while it is registered, so it is cached;
        `generation` (from the unit's begin) tells when the id was registered anew after a
        purge, and the cached plan is read again."""
        cached = self._plans.get(harvest)
        if cached is not None and (generation is None or cached[0] == generation):
            return cached[1]
        with self._redis.pipeline(transaction=False) as pipe:
            pipe.get(self.keys.plan(harvest))
            pipe.hget(self.keys.meta(harvest), "generation")
            raw, stored_generation = pipe.execute()
        if raw is None:
            return None
        plan = msgspec.json.decode(raw, type=HarvestPlan)
        self._plans[harvest] = (stored_generation.decode() if stored_generation else "", plan)
        return plan

    def harvest_ids(self) -> list[str]:
        return [raw.decode() for raw in self._redis.zrange(self.keys.harvests, 0, -1)]

    def is_done(self, harvest: str, unit: str) -> bool:
        return bool(self._redis.sismember(self.keys.done(harvest), unit))

    def window_state(self, harvest: str, window: str) -> str | None:
        raw = self._redis.hget(self.keys.windows(harvest), window)
        return raw.decode() if raw else None

    def leave_quota(self, harvest: str, credential: str | None = None) -> None:
        """The harvest stops holding back the others on every budget it took from at once (not
        after the bucket's time of activity), and its units' failures stop counting as signs
        of an outage. Done when it finishes, is paused, cancelled or purged. `credential`:
        the plan's, for a harvest that took before the buckets it used were noted."""
        buckets = {raw.decode() for raw in self._redis.smembers(self.keys.buckets_used(harvest))}
        if credential is not None:
            buckets.update(budget_bucket(credential, budget) for budget in BUDGETS)
        for bucket in sorted(buckets):
            self._redis.zrem(self.keys.quota_active(bucket), harvest)
            failing = [member for member in self._redis.zrange(self.keys.quota_failing(bucket), 0, -1)
                       if member.decode().startswith(f"{harvest}|")]
            if failing:
                self._redis.zrem(self.keys.quota_failing(bucket), *failing)

    # --- status --------------------------------------------------------------------------
    def status(self, harvest: str, *, failed_retention_s: float | None = None) -> HarvestStatus | None:
        """`failed_retention_s`: HARVEST_FAILED_RETENTION_DAYS, to say when a failed harvest
        is forgotten unless replayed or purged (left out: not said)."""
        plan = self.plan(harvest)
        if plan is None:
            return None
        k = self.keys
        with self._redis.pipeline(transaction=False) as pipe:
            pipe.hgetall(k.stats(harvest))
            pipe.hvals(k.windows(harvest))
            pipe.hgetall(k.meta(harvest))
            pipe.scard(k.users_requested(harvest))
            pipe.hlen(k.users_done(harvest))
            pipe.scard(k.parked(harvest))
            pipe.pttl(k.plan(harvest))
            pipe.hlen(k.comments_cut(harvest))
            pipe.hvals(k.users_done(harvest))
            pipe.hgetall(k.list_outcomes(harvest))
            pipe.hlen(k.held(harvest))
            pipe.hgetall(k.refresh(harvest))
            pipe.scard(k.refresh_served(harvest))
            pipe.scard(k.refresh_ended(harvest))
            (stats, windows, meta, users_requested, users_done, parked, expires_ms,
             comments_cut, user_outcomes, list_outcomes, held, refresh, served, ended) = pipe.execute()
        stats = {key.decode(): int(value) for key, value in stats.items()}
        meta = {key.decode(): value.decode() for key, value in meta.items()}
        windows = [w.decode() for w in windows]
        live = [w for w in windows if w in (OPEN, DONE)]
        finished_at = float(meta["finished_at"]) if "finished_at" in meta else None
        state = derive_state(meta, stats, finished_at, parked, ongoing=plan.ongoing)
        refreshed = refresh_status({key.decode(): value.decode() for key, value in refresh.items()}, served, ended,
                                   stats.get("requests_refresh", 0))
        forget_at = None
        through, next_day_at = _new_days(plan, meta)
        if expires_ms > 0:  # a done harvest: its keys expire together
            forget_at = round(time.time() + expires_ms / 1000, 3)
        elif state == "failed" and failed_retention_s:
            forget_at = failed_forget_at(meta, plan.submitted_at, failed_retention_s)
        return HarvestStatus(
            id=plan.id,
            state=state,
            name=plan.name,
            project=plan.project,
            credential=plan.credential,
            period=f"{plan.period_start}-{plan.period_end}",
            windows_total=len(live),
            windows_done=live.count(DONE),
            pages=stats.get("pages", 0),
            records=stats.get("records", 0),
            users_requested=users_requested,
            users_done=users_done,
            requests=stats.get("requests", 0),
            quota_waits=stats.get("quota_waits", 0),
            errors=stats.get("errors", 0),
            dead_letters=stats.get("dead_letters", 0),
            submitted_at=plan.submitted_at,
            finished_at=finished_at,
            forget_at=forget_at,
            endpoints=_endpoints(plan, stats, len(live), live.count(DONE), users_requested, users_done,
                                 _outcomes(user_outcomes, list_outcomes), refreshed),
            comments=stats.get("records_comment_list", 0),
            comments_cut=comments_cut,
            messages_held=held,
            requests_by_key={name.removeprefix(KEY_REQUESTS_PREFIX): n for name, n in stats.items()
                             if name.startswith(KEY_REQUESTS_PREFIX)},
            refresh=refreshed,
            through=through,
            next_day_at=next_day_at,
        )

    def registered_status(self, harvest: str) -> HarvestStatus:
        """`status` of a harvest the caller knows to be registered (say, one it submitted)."""
        status = self.status(harvest)
        if status is None:
            raise LookupError(f"harvest {harvest!r} is not registered")
        return status



# The follow-up endpoints whose units form chains, by what `collect` asks for.
CHAIN_ENDPOINTS = {"comments": "comment_list", "followers": "user_followers", "following": "user_following",
                   "liked_videos": "user_liked_videos", "pinned_videos": "user_pinned_videos",
                   "reposted_videos": "user_reposted_videos", "playlists": "playlist_info"}


def _outcomes(user_outcomes: list[bytes], list_outcomes: dict[bytes, bytes]) -> dict[str, Counter[str]]:
    """Answers other than ok, counted by endpoint and outcome."""
    found: dict[str, Counter[str]] = defaultdict(Counter)
    found["user_info"].update(o.decode() for o in user_outcomes if o != b"ok")
    for key, outcome in list_outcomes.items():
        found[key.decode().split(":", 1)[0]][outcome.decode()] += 1
    return found


def _endpoints(plan: HarvestPlan, stats: dict, windows: int, windows_done: int, users_requested: int,
               users_done: int, outcomes: dict[str, Counter[str]],
               refresh: RefreshStatus | None) -> dict[str, EndpointStatus]:
    found = {"video_query": EndpointStatus(stats.get("requests_video_query", 0), stats.get("records", 0),
                                           stats.get("pages", 0), windows_done, windows)}
    if "users" in plan.collect:
        found["user_info"] = EndpointStatus(stats.get("requests_user_info", 0), users_done, users_done,
                                            users_done, users_requested, dict(outcomes["user_info"]))
    for collected, endpoint in CHAIN_ENDPOINTS.items():
        if collected in plan.collect:
            found[endpoint] = EndpointStatus(
                stats.get(f"requests_{endpoint}", 0), stats.get(f"records_{endpoint}", 0),
                stats.get(f"pages_{endpoint}", 0), stats.get(f"chains_done_{endpoint}", 0),
                stats.get(f"chains_{endpoint}", 0), dict(outcomes[endpoint]))
    if refresh is not None:
        # The latest compliance refresh: its batches as chains, the videos still served as
        # records, the videos found gone as an outcome.
        found["refresh"] = EndpointStatus(refresh.requests, refresh.still_served, refresh.pages,
                                          refresh.batches_done, refresh.batches,
                                          {"gone": refresh.gone} if refresh.gone else {})
    return found


def failed_forget_at(meta: dict, submitted_at: float, retention_s: float) -> float:
    """When a failed harvest may be forgotten (unless replayed or purged first): `retention_s`
    after its last dead letter or its last API call, whichever came later. A failed harvest may
    go on with its other windows, and none of its keys may expire while it runs."""
    last = max(float(meta.get("last_dead_at", 0)), float(meta.get("last_call_at", 0)), submitted_at)
    return round(last + retention_s, 3)


def _new_days(plan: HarvestPlan, meta: dict) -> tuple[str | None, float | None]:
    """An ongoing harvest's last day asked for and when the next one is archived."""
    if plan.new_days_from is None:
        return None, None
    following = windows.parse_day(plan.new_days_from)
    if "through" in meta:
        following = windows.parse_day(meta["through"]) + dt.timedelta(days=1)
    elif not plan.windows:  # its period began within the archive's lag: no day asked for yet
        return None, windows.archived_at(following)
    return windows.format_day(following - dt.timedelta(days=1)), windows.archived_at(following)


def derive_state(meta: dict, stats: dict, finished_at: float | None, parked: int, *,
                 ongoing: bool = False) -> HarvestState:
    if meta.get("state") == "cancelled":
        return "cancelled"
    if meta.get("state") == "paused" and (finished_at is None or ongoing):
        # (Calls in flight at the pause may still finish the harvest's last units.)
        return "paused"
    if stats.get("dead_letters", 0) > 0:
        return "failed"
    if finished_at is not None and not ongoing:
        return "done"
    if finished_at is not None and not (parked and "access_expired_at" in meta):
        return "caught_up"
    if parked:
        # No key of the project valid today: waiting for one to be added, not for midnight.
        return "access_expired" if "access_expired_at" in meta else "waiting_for_quota"
    if stats.get("requests", 0) or stats.get("pages", 0):
        return "running"
    return "queued"
