"""Queue and actor names, and the one way to build each message, for producers and workers.

Payloads are msgspec structs turned into plain dicts; the message itself is Dramatiq's.
"""

import dramatiq
import msgspec

from schemas.messages import (
    AccountVideosTask,
    CancelHarvest,
    CommentTask,
    FollowTask,
    NewDaysTask,
    PageTask,
    PauseHarvest,
    PlaylistTask,
    RefreshTask,
    ResumeHarvest,
    SubmitHarvest,
    UserTask,
)

PAGES_QUEUE, PAGE_ACTOR = "pages", "fetch_page"
USERS_QUEUE, USER_ACTOR = "users", "fetch_user"
COMMENTS_QUEUE, COMMENTS_ACTOR = "comments", "fetch_comments"
LISTS_QUEUE, FOLLOWS_ACTOR = "lists", "fetch_follows"
ACCOUNT_VIDEOS_ACTOR = "fetch_account_videos"  # on the lists queue too
PLAYLIST_ACTOR = "fetch_playlist"  # and this one
REFRESH_ACTOR = "refresh_videos"  # and the compliance refresh's batches: few, one per 100 stored videos
NEW_DAYS_ACTOR = "add_new_days"  # on the pages queue: it starts windows' page chains
INTAKE_QUEUE, INTAKE_ACTOR = "intake", "submit_harvest"
PAUSE_ACTOR, RESUME_ACTOR, CANCEL_ACTOR = "pause_harvest", "resume_harvest", "cancel_harvest"  # intake too

ROUTES: dict[type[msgspec.Struct], tuple[str, str]] = {
    PageTask: (PAGES_QUEUE, PAGE_ACTOR),
    UserTask: (USERS_QUEUE, USER_ACTOR),
    CommentTask: (COMMENTS_QUEUE, COMMENTS_ACTOR),
    FollowTask: (LISTS_QUEUE, FOLLOWS_ACTOR),
    AccountVideosTask: (LISTS_QUEUE, ACCOUNT_VIDEOS_ACTOR),
    PlaylistTask: (LISTS_QUEUE, PLAYLIST_ACTOR),
    RefreshTask: (LISTS_QUEUE, REFRESH_ACTOR),
    NewDaysTask: (PAGES_QUEUE, NEW_DAYS_ACTOR),
    SubmitHarvest: (INTAKE_QUEUE, INTAKE_ACTOR),
    PauseHarvest: (INTAKE_QUEUE, PAUSE_ACTOR),
    ResumeHarvest: (INTAKE_QUEUE, RESUME_ACTOR),
    CancelHarvest: (INTAKE_QUEUE, CANCEL_ACTOR),
}


Task = (PageTask | UserTask | CommentTask | FollowTask | AccountVideosTask | PlaylistTask | RefreshTask
        | NewDaysTask | SubmitHarvest | PauseHarvest | ResumeHarvest | CancelHarvest)


def build(task: Task) -> dramatiq.Message:
    queue_name, actor_name = ROUTES[type(task)]
    return dramatiq.Message(
        queue_name=queue_name,
        actor_name=actor_name,
        args=(msgspec.to_builtins(task),),
        kwargs={},
        options={},
    )


def send(broker: dramatiq.Broker, task, *, delay_ms: int | None = None) -> dramatiq.Message:
    return broker.enqueue(build(task), delay=delay_ms)


def producer_broker(settings, client) -> dramatiq.Broker:
    """The broker of everything that only publishes (services, the CLI, a dead letter's
    replay): the fleet's namespace and none of the workers' middleware, as no message is
    processed here, but the scrubbing of options (a replayed message carries its traceback)."""
    from dramatiq.brokers.redis import RedisBroker

    from core.redaction import SecretRedaction

    return RedisBroker(client=client, namespace=settings.namespace, middleware=[SecretRedaction()])
