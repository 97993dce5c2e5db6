"""TikTok Research API request and response bodies.

Decoding is lenient on purpose: unknown fields are ignored, optional fields may be missing
and loosely typed fields are taken as they come (`Any`), so a surprise in a field we only
pass through never costs a page. The raw body is stored as received anyway.
"""

from typing import Any

import msgspec

from schemas.query import Query

VIDEO_FIELDS = (
    "id,video_description,create_time,region_code,share_count,view_count,like_count,"
    "comment_count,music_id,hashtag_names,username,effect_ids,playlist_id,voice_to_text,"
    "is_stem_verified,favorites_count,video_duration,hashtag_info_list,sticker_info_list,"
    "effect_info_list,video_mention_list,video_label,video_tag"
)
COMMENT_FIELDS = "id,video_id,text,like_count,reply_count,parent_comment_id,create_time"
PLAYLIST_FIELDS = "playlist_id,playlist_name,playlist_item_total,playlist_last_updated"
USER_FIELDS = (
    "display_name,bio_description,avatar_url,is_verified,follower_count,following_count,"
    "likes_count,video_count,bio_url"
)


class VideoQueryBody(msgspec.Struct, omit_defaults=True):
    query: Query
    start_date: str
    end_date: str
    max_count: int  # always sent: TikTok's default is 20
    cursor: int | None = None
    search_id: str | None = None


class UserInfoBody(msgspec.Struct):
    username: str


class CommentListBody(msgspec.Struct):
    video_id: int  # TikTok's ids are integers; sent as a JSON number, exact (msgspec keeps 64 bits)
    max_count: int
    cursor: int = 0


class ApiError(msgspec.Struct):
    code: str = ""
    message: str = ""
    log_id: str = ""


class Video(msgspec.Struct):
    id: int | str
    video_description: str | None = None
    create_time: int | float | None = None
    region_code: str | None = None
    username: str | None = None
    share_count: int | None = None
    view_count: int | None = None
    like_count: int | None = None
    comment_count: int | None = None
    favorites_count: int | None = None
    music_id: Any = None
    hashtag_names: list[str] | None = None
    voice_to_text: str | None = None
    video_duration: int | float | None = None
    video_mention_list: list[str] | None = None
    effect_ids: Any = None
    playlist_id: Any = None
    is_stem_verified: Any = None
    hashtag_info_list: Any = None
    sticker_info_list: Any = None
    effect_info_list: Any = None
    video_label: Any = None
    video_tag: Any = None


class VideoPage(msgspec.Struct):
    videos: list[Video] = msgspec.field(default_factory=list)
    cursor: int | None = None
    has_more: bool = False
    search_id: str | int | None = None


class VideoQueryResponse(msgspec.Struct):
    data: VideoPage | None = None
    error: ApiError = msgspec.field(default_factory=ApiError)


class UserInfo(msgspec.Struct):
    display_name: str | None = None
    bio_description: str | None = None
    avatar_url: str | None = None
    is_verified: bool | None = None
    follower_count: int | None = None
    following_count: int | None = None
    likes_count: int | None = None
    video_count: int | None = None
    bio_url: str | None = None


class UserInfoResponse(msgspec.Struct):
    data: UserInfo | None = None
    error: ApiError = msgspec.field(default_factory=ApiError)


class FollowBody(msgspec.Struct, omit_defaults=True):
    username: str
    max_count: int
    cursor: int | None = None


class Follow(msgspec.Struct):
    username: str | None = None
    display_name: str | None = None


class FollowPage(msgspec.Struct):
    """Followers under `user_followers`, followed accounts under `user_following`."""

    user_followers: list[Follow] = msgspec.field(default_factory=list)
    user_following: list[Follow] = msgspec.field(default_factory=list)
    cursor: int | None = None  # a Unix time: the next page holds follows at or before it
    has_more: bool = False


class FollowResponse(msgspec.Struct):
    data: FollowPage | None = None
    error: ApiError = msgspec.field(default_factory=ApiError)


class AccountVideosBody(msgspec.Struct, omit_defaults=True):
    username: str
    max_count: int | None = None  # not for pinned videos (at most three)
    cursor: int | None = None  # liked: a time in ms going back; reposted: an index going forward


class AccountVideosPage(msgspec.Struct):
    """An account's liked, pinned or reposted videos, under whichever name TikTok uses."""

    user_liked_videos: list[Video] | None = None
    pinned_videos_list: list[Video] | None = None
    user_reposted_videos: list[Video] | None = None
    reposted_videos: list[Video] | None = None  # TikTok's docs use both names for reposts
    cursor: int | None = None
    has_more: bool = False

    @property
    def videos(self) -> list[Video]:
        for listed in (self.user_liked_videos, self.pinned_videos_list, self.user_reposted_videos,
                       self.reposted_videos):
            if listed is not None:
                return listed
        return []


class AccountVideosResponse(msgspec.Struct):
    data: AccountVideosPage | None = None
    error: ApiError = msgspec.field(default_factory=ApiError)


class PlaylistBody(msgspec.Struct, omit_defaults=True):
    playlist_id: int  # an integer above 2^53, exact
    max_count: int
    cursor: int | None = None


class Playlist(msgspec.Struct):
    playlist_id: int | str | None = None
    playlist_name: str | None = None
    playlist_item_total: int | None = None
    playlist_last_updated: int | float | None = None  # Unix seconds
    playlist_video_ids: list[int | str] = msgspec.field(default_factory=list)
    cursor: int | None = None  # an index going forward
    has_more: bool = False


class PlaylistResponse(msgspec.Struct):
    data: Playlist | None = None
    error: ApiError = msgspec.field(default_factory=ApiError)


class Comment(msgspec.Struct):
    id: int | str
    video_id: int | str | None = None
    text: str | None = None
    like_count: int | None = None
    reply_count: int | None = None
    parent_comment_id: int | str | None = None  # the video's id for a top-level comment
    create_time: int | float | None = None


class CommentPage(msgspec.Struct):
    comments: list[Comment] = msgspec.field(default_factory=list)
    cursor: int | None = None  # advances by the number of comments returned
    has_more: bool = False


class CommentListResponse(msgspec.Struct):
    data: CommentPage | None = None
    error: ApiError = msgspec.field(default_factory=ApiError)


class ErrorResponse(msgspec.Struct):
    """Any research response read only for its error (failures may have no usable data)."""

    error: ApiError = msgspec.field(default_factory=ApiError)


class TokenResponse(msgspec.Struct):
    """OAuth answer: success has access_token, failure has error (both shapes, one type)."""

    access_token: str | None = None
    expires_in: int | float | None = None
    token_type: str | None = None
    error: str | None = None
    error_description: str | None = None
    log_id: str | None = None
