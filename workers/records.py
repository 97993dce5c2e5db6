"""TikTok Research API objects -> iCANDID schema.org JSON-LD records.

Pure functions, no I/O: the same video, plan and download time always give the same record
(and the same bytes), so a page processed twice writes an identical file.
Rules kept everywhere below:
- ids are strings, built from the exact integer (never through float: ids exceed 2^53);
- NUL characters are removed from every text put into a record (the raw page keeps them);
  a username holding one is escaped instead, so it stays apart from the name without it
  (workers/usernames.py);
- absent or empty data is left out, never written as null.
"""

import datetime
import functools
import math
import urllib.parse
from collections.abc import Sequence
from typing import Any, Literal

import msgspec

from core.windows import ONGOING
from schemas import usernames
from schemas.api import UserInfo, Video
from schemas.records import (
    AudioObject,
    Context,
    CreativeWork,
    Dataset,
    InteractionCounter,
    Organization,
    Person,
    PersonRecord,
    Place,
    PropertyValue,
    VideoRecord,
)
from schemas.spec import HarvestPlan
from workers.language import language_tag

UserOutcome = Literal["ok", "unknown", "private", "restricted"]
USER_OUTCOMES: tuple[str, ...] = ("ok", "unknown", "private", "restricted")

ID_PREFIX = "iCANDID_tiktok_"
USER_ID_PREFIX = "iCANDID_tiktok_user_"
SCHEMA = "https://schema.org/"
PROV = "http://www.w3.org/ns/prov#"
ADDITIONAL_TYPE = "CreativeWork"
TIKTOK_URL = "https://www.tiktok.com"
LICENSE = (
    "Data obtained through the TikTok Research API, for non-commercial research only, "
    "under the TikTok Research API Terms of Service "
    "(https://www.tiktok.com/legal/page/global/terms-of-service-research-api/en)."
)
# iCANDID's own id for the provider, so our records join theirs.
PROVIDER = Organization(id="iCANDID_ORGANIZATION_TIKTOK", name="TikTok", url=TIKTOK_URL)


# --- small conversions -------------------------------------------------------------------


def clean(value: str | None) -> str | None:
    """The text without NUL characters; None when nothing is left."""
    if value is None:
        return None
    value = value.replace("\x00", "")
    return value or None


def token(value: str | None) -> str | None:
    """An id or code (region): cleaned, then trimmed of spaces and a leading @. Usernames
    have their own normalisation (workers/usernames.py)."""
    if value is None:
        return None
    value = value.replace("\x00", "").strip().lstrip("@").strip()
    return value or None


def id_string(value: Any) -> str | None:
    """An id as an exact string. Integral floats are refused too: they may have lost digits."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return token(value)
    return None


def iso_utc(moment: datetime.datetime) -> str:
    """ISO 8601 in UTC with a Z, to the second. A naive datetime is taken as UTC."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=datetime.UTC)
    return moment.astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def unix_to_iso(seconds: int | float | None) -> str | None:
    if seconds is None or isinstance(seconds, bool):
        return None
    try:
        moment = datetime.datetime.fromtimestamp(math.floor(seconds), datetime.UTC)
    except (OverflowError, OSError, ValueError):
        return None  # nonsense time: leave datePublished out rather than fail the page
    return iso_utc(moment)


def iso_duration(seconds: int | float | None) -> str | None:
    """Seconds as an ISO 8601 duration: 42 -> PT42S, 75 -> PT1M15S, 3600 -> PT1H."""
    if seconds is None or isinstance(seconds, bool) or not math.isfinite(seconds) or seconds < 0:
        return None
    whole = int(seconds)
    fraction = round(seconds - whole, 3)
    if fraction >= 1:  # 59.9996 rounds up to the next second
        whole, fraction = whole + 1, 0.0
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    out = "PT"
    if hours:
        out += f"{hours}H"
    if minutes:
        out += f"{minutes}M"
    if secs or fraction or not (hours or minutes):
        out += f"{secs + fraction:g}S" if fraction else f"{secs}S"
    return out


def _period_interval(start: str, end: str) -> str | None:
    """yyyymmdd, yyyymmdd -> 'yyyy-mm-dd/yyyy-mm-dd' (the plan's inclusive period); an
    ongoing period's end is open: 'yyyy-mm-dd/..' (schema.org's open-ended range)."""
    try:
        first = datetime.datetime.strptime(start, "%Y%m%d").date()
        if end == ONGOING:
            return f"{first.isoformat()}/.."
        last = datetime.datetime.strptime(end, "%Y%m%d").date()
    except (TypeError, ValueError):
        return None
    return f"{first.isoformat()}/{last.isoformat()}"


def context(*texts: str | None) -> Context:
    return Context(vocab=SCHEMA, language=language_tag(*texts), prov=PROV)


# --- shared parts ------------------------------------------------------------------------


def based_on(plan: HarvestPlan) -> CreativeWork:
    """Where a record came from: the provider and the harvest (dataset) that found it."""
    return _based_on(plan.id, plan.name, plan.period_start, plan.period_end)


@functools.lru_cache(maxsize=256)
def _based_on(harvest_id: str, name: str, period_start: str, period_end: str) -> CreativeWork:
    # The same for every record of a harvest: built once, not once a video.
    return CreativeWork(
        id=f"{ID_PREFIX}{harvest_id}",
        name=f"Entry from TikTok, harvested by {harvest_id}",
        provider=PROVIDER,
        isPartOf=Dataset(
            id=harvest_id,
            name=clean(name),
            license=LICENSE,
            temporalCoverage=_period_interval(period_start, period_end),
        ),
    )


def person_ref(username: str) -> Person:
    """The reference to an account (author, mention); its PersonRecord has the same @id."""
    name = usernames.normalise(username)
    key = usernames.escape(name)
    return Person(id=f"{USER_ID_PREFIX}{key}", alternateName=usernames.shown(name), url=_profile_url(name, key))


def person_id(username: str) -> str:
    """An account's @id, from its normalised name escaped (workers/usernames.py): ordinary
    names read as they are, and two accounts never share an @id even when their names
    differ only in characters a record cannot carry (NUL) or that look like escapes."""
    return f"{USER_ID_PREFIX}{usernames.escape(usernames.normalise(username))}"


def username_of(person: str) -> str | None:
    """The normalised username a `person_id` was made from; None for any other @id."""
    if not person.startswith(USER_ID_PREFIX):
        return None
    return usernames.unescape(person[len(USER_ID_PREFIX):])


def profile_url(username: str) -> str | None:
    """The account's page on TikTok; None for a name no account can have (there is none)."""
    name = usernames.normalise(username)
    return _profile_url(name, usernames.escape(name))


def _profile_url(name: str, key: str) -> str | None:
    if not usernames.could_exist(name):
        return None
    # A name that escaping leaves alone is already safe in a URL path (the common case).
    return f"{TIKTOK_URL}/@{key if key == name else urllib.parse.quote(name, safe='')}"


def _mention(username: str) -> Person | None:
    # A blank mention names nobody; unlike an author, it has no Person record to point to.
    if usernames.normalise(username) == usernames.BLANK:
        return None
    return person_ref(username)


def counter(action: str, count: int | None, end_time: str) -> InteractionCounter | None:
    if count is None or isinstance(count, bool):
        return None
    return InteractionCounter(
        interactionType=f"{SCHEMA}{action}", userInteractionCount=count, endTime=end_time
    )


def present(items: list[Any]) -> list[Any] | None:
    """The non-None items; None (field left out) when there are none."""
    kept = [item for item in items if item is not None]
    return kept or None


# --- video ---------------------------------------------------------------------------------


def video_record(video: Video, plan: HarvestPlan, downloaded_at: datetime.datetime) -> VideoRecord:
    video_id = id_string(video.id)
    if video_id is None:
        raise ValueError(f"video without a usable id: {video.id!r}")
    end_time = iso_utc(downloaded_at)
    description = clean(video.video_description)
    transcript = clean(video.voice_to_text)
    # A missing or empty username names no author; anything else names one, however odd
    # (its Person record is written too: workers/users.py).
    author = person_ref(video.username) if video.username else None
    music_id = id_string(video.music_id)

    identifier = [PropertyValue(name="video_id", value=video_id)]
    if music_id is not None:
        identifier.append(PropertyValue(name="music_id", value=music_id))

    media = None
    duration = iso_duration(video.video_duration)
    if music_id is not None or duration is not None:
        # TikTok gives the duration of the video, which is also what its sound plays for.
        media = AudioObject(
            id=f"{ID_PREFIX}music_{music_id}" if music_id is not None else None,
            duration=duration,
        )

    region = token(video.region_code)
    return VideoRecord(
        context=context(description, transcript),
        id=f"{ID_PREFIX}{video_id}",
        additionalType=ADDITIONAL_TYPE,
        identifier=identifier,
        name=description,
        text=transcript,
        datePublished=unix_to_iso(video.create_time),
        sameAs=f"{author.url}/video/{video_id}" if author and author.url else None,
        keywords=present([clean(tag) for tag in video.hashtag_names or []]),
        locationCreated=Place(name=region, alternateName=region.lower()) if region else None,
        author=author,
        creator=author,
        sender=author,
        associatedMedia=media,
        interactionStatistic=present(
            [
                counter("WatchAction", video.view_count, end_time),
                counter("LikeAction", video.like_count, end_time),
                counter("ShareAction", video.share_count, end_time),
                counter("CommentAction", video.comment_count, end_time),
                counter("BookmarkAction", video.favorites_count, end_time),
            ]
        ),
        mentions=present([_mention(name) for name in video.video_mention_list or []]),
        isBasedOn=based_on(plan),
    )


# --- user ------------------------------------------------------------------------------------


def user_record(
    username: str,
    info: UserInfo | None,
    outcome: str,
    plan: HarvestPlan,
    downloaded_at: datetime.datetime,
) -> PersonRecord:
    """The profile of one account. For a non-ok outcome (`info` None) the record holds the
    username, its URL and the outcome: what is known of an account TikTok would not show."""
    if outcome not in USER_OUTCOMES:
        raise ValueError(f"unknown user outcome {outcome!r}; expected one of {USER_OUTCOMES}")
    ref = person_ref(username)
    end_time = iso_utc(downloaded_at)
    info = info or UserInfo()
    display_name = clean(info.display_name)
    bio = clean(info.bio_description)

    properties = [PropertyValue(name="tiktok_account_status", value=outcome)]
    if info.is_verified is not None:
        properties.append(PropertyValue(name="verified", value=info.is_verified))

    return PersonRecord(
        id=ref.id,
        alternateName=ref.alternateName,
        name=display_name,
        description=bio,
        image=clean(info.avatar_url),
        url=ref.url,
        sameAs=clean(info.bio_url),
        additionalProperty=properties,
        # interactionStatistic counts actions on the account: others following it
        # (FollowAction) and likes its videos received (LikeAction, TikTok's likes_count).
        interactionStatistic=present(
            [
                counter("FollowAction", info.follower_count, end_time),
                counter("LikeAction", info.likes_count, end_time),
            ]
        ),
        # agentInteractionStatistic counts actions by the account (schema.org's split
        # between object and agent): accounts it follows (FollowAction) and videos it
        # posted (CreateAction). Both FollowActions in one list could not be told apart.
        agentInteractionStatistic=present(
            [
                counter("FollowAction", info.following_count, end_time),
                counter("CreateAction", info.video_count, end_time),
            ]
        ),
        context=context(bio, display_name),
        additionalType=ADDITIONAL_TYPE,
        isBasedOn=based_on(plan),
    )


# --- encoding --------------------------------------------------------------------------------

_ENCODER = msgspec.json.Encoder(order="deterministic")


def encode_records(records: Sequence[msgspec.Struct]) -> bytes:
    """One JSON array, UTF-8 (not ASCII-escaped); the same records give the same bytes."""
    return _ENCODER.encode(records)
