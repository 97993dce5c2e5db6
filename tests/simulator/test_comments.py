"""The video comment list: generated comments, paging up to the cap, replies by comment id,
fields, ids above 2^53, the research request path's budget and faults, and ground truth."""

import re
from collections import Counter

import msgspec
import pytest

from simulator.app import SimulatorApp
from simulator.comments import COMMENT_FIELDS, CommentBook
from simulator.corpus import Corpus, Video
from simulator.faults import Faults, SimConfig
from tests.simulator.conftest import fresh_client

COMMENTS_PATH = "/v2/research/video/comment/list/"
ALL_FIELDS = ",".join(sorted(COMMENT_FIELDS))
POPULAR_VIDEO = 7322334465285577716  # vrtnws, 2024-01-10: 67,279 comments with seed 7


@pytest.fixture
def http(sim):
    with fresh_client(sim, SimConfig(daily_requests=10**6), client_key="comments") as client:
        yield client


def video_with(corpus: Corpus, low: int, high: int, hidden: bool = False) -> Video:
    """The first video with low..high comments (hidden or not)."""
    return next(v for v in corpus.videos if low <= v.comment_count <= high and v.hidden == hidden)


def comments(http, body, fields=ALL_FIELDS):
    return http.post(COMMENTS_PATH, params={"fields": fields}, json=body)


def harvest(http, body):
    """Every page of one listing: (comments in order, the pages' data)."""
    body, found, pages = dict(body), [], []
    while True:
        resp = comments(http, body)
        assert resp.status_code == 200, resp.text
        data = msgspec.json.decode(resp.content)["data"]
        pages.append(data)
        found += data["comments"]
        if not data["has_more"]:
            return found, pages
        body["cursor"] = data["cursor"]


def truth(http, *video_ids):
    resp = http.post("/_sim/ground_truth/comments", json={"video_ids": [str(i) for i in video_ids]})
    assert resp.status_code == 200, resp.text
    return resp.json()["videos"]


def configure(http, **switches):
    assert http.post("/_sim/config", json=switches).status_code == 200


# -- the generated comments ---------------------------------------------------------------

def test_comments_are_the_same_for_the_same_seed_and_differ_for_another():
    corpora = [Corpus(seed=3, videos=3000), Corpus(seed=3, videos=3000), Corpus(seed=4, videos=3000)]
    books = [CommentBook(corpus, Faults(3)) for corpus in corpora]
    video = video_with(corpora[0], 50, 500)
    first, second = (book.video_comments(video.id) for book in books[:2])
    assert first == second and len(first) == video.comment_count
    other = books[2].video_comments(video_with(corpora[2], 50, 500).id)
    assert [c.text for c in other][:20] != [c.text for c in first][:20]
    assert {c.id for c in other}.isdisjoint({c.id for c in first})


def test_two_apps_on_one_corpus_serve_the_same_comments(sim):
    video = video_with(sim.corpus, 1500, 3000)
    apps = [SimulatorApp(sim.corpus), SimulatorApp(sim.corpus)]
    assert apps[0].comments.video_comments(video.id) == apps[1].comments.video_comments(video.id)
    assert apps[0].comment_ground_truth([str(video.id)]) == apps[1].comment_ground_truth([video.id])


def test_a_videos_comments_number_its_comment_count_and_reply_counts_add_up(sim):
    book = CommentBook(sim.corpus, Faults(7))
    for video in (video_with(sim.corpus, 0, 0), video_with(sim.corpus, 1, 1), video_with(sim.corpus, 2000, 4000)):
        made = book.video_comments(video.id)
        assert len(made) == video.comment_count
        by_id = {c.id: c for c in made}
        assert len(by_id) == len(made)
        replies = Counter(c.parent_comment_id for c in made)
        assert all(c.reply_count == replies[c.id] for c in made)
        assert all(c.video_id == video.id for c in made)
        assert all(c.parent_comment_id == video.id or c.parent_comment_id in by_id for c in made)
    answers = [c for c in made if c.parent_comment_id != video.id]
    nested = [c for c in answers if by_id[c.parent_comment_id].parent_comment_id != video.id]
    assert 0 < len(nested) < len(answers) / 3  # replies to replies: a few


def test_order_is_newest_thread_first_each_followed_by_its_replies(sim):
    video = video_with(sim.corpus, 2000, 4000)
    made = CommentBook(sim.corpus, Faults(7)).video_comments(video.id)
    by_id = {c.id: c for c in made}
    top_times = [c.create_time for c in made if c.parent_comment_id == video.id]
    assert top_times == sorted(top_times, reverse=True)
    assert all(c.create_time >= video.create_time for c in made)
    assert all(c.create_time > by_id[c.parent_comment_id].create_time for c in made if c.parent_comment_id in by_id)
    thread_root = None
    for c in made:  # every reply sits in its top-level comment's thread, after it
        if c.parent_comment_id == video.id:
            thread_root = c.id
        else:
            root = by_id[c.parent_comment_id]
            while root.parent_comment_id != video.id:
                root = by_id[root.parent_comment_id]
            assert root.id == thread_root


def test_ids_are_above_2_53_unique_across_videos_and_never_video_ids(sim):
    book = CommentBook(sim.corpus, Faults(7))
    videos = [v for v in sim.corpus.videos if 20 <= v.comment_count <= 400][:200]
    ids = [c.id for v in videos for c in book.video_comments(v.id)]
    assert len(ids) == len(set(ids)) == sum(v.comment_count for v in videos)
    assert min(ids) > 2**53 and max(ids) < 2**63
    assert not set(ids) & set(sim.corpus.id_index)


def test_texts_mix_languages_emoji_nul_and_masked_contact_details(sim):
    texts = [c.text for c in CommentBook(sim.corpus, Faults(7)).video_comments(video_with(sim.corpus, 5000, 9000).id)]
    joined = "\n".join(texts)
    for word in ("de", "les", "the"):
        assert f" {word} " in joined
    assert "\u0000" in joined and any(ord(ch) > 0x1F000 for ch in joined)
    assert re.search(r"\+3[123] \*\*\* \*\* \*\* \d\d\b", joined)  # only the last two digits show
    assert re.search(r"\b[a-z]\*\*\*@\*\*\*\.(be|nl|com|fr)\b", joined)
    assert not re.search(r"\d{6}|[a-z]{2}@", joined)  # nothing unmasked


def test_the_cache_keeps_few_comments_and_makes_the_same_ones_again(sim):
    book = CommentBook(sim.corpus, Faults(7), max_held=500)
    videos = [v for v in sim.corpus.videos if 100 <= v.comment_count <= 300][:30]
    first = {v.id: book.video_comments(v.id) for v in videos}
    assert book.held() <= 500 + 300 * 2  # the bound, plus the video in use
    assert all(book.video_comments(v.id) == first[v.id] for v in videos)


# -- the endpoint ---------------------------------------------------------------------------

def test_paging_returns_every_reachable_comment_once_up_to_the_cap(sim, http):
    video = video_with(sim.corpus, 1500, 3000)
    found, pages = harvest(http, {"video_id": video.id, "max_count": 100})
    assert len(found) == 1000 and len({c["id"] for c in found}) == 1000
    assert [p["cursor"] for p in pages] == [100 * (i + 1) for i in range(10)]
    assert [p["has_more"] for p in pages] == [True] * 9 + [False]
    expected = CommentBook(sim.corpus, Faults(7)).video_comments(video.id, 1000)
    assert found == [msgspec.structs.asdict(c) for c in expected]
    past = comments(http, {"video_id": video.id, "cursor": 1000}).json()["data"]
    assert past == {"comments": [], "cursor": 1000, "has_more": False}


def test_a_small_video_pages_by_ten_and_the_cursor_counts_what_was_returned(sim, http):
    video = video_with(sim.corpus, 25, 25)
    found, pages = harvest(http, {"video_id": str(video.id)})
    assert [len(p["comments"]) for p in pages] == [10, 10, 5]
    assert [(p["cursor"], p["has_more"]) for p in pages] == [(10, True), (20, True), (25, False)]
    assert [c["id"] for c in found] == [int(i) for i in truth(http, video.id)[str(video.id)]["ids"]]


def test_the_cap_is_a_switch(sim, http):
    popular = truth(http, POPULAR_VIDEO)[str(POPULAR_VIDEO)]
    assert (popular["reachable"], popular["comment_count"]) == (1000, 67279)
    video = video_with(sim.corpus, 1500, 3000)
    configure(http, comment_cap=150)
    found, _ = harvest(http, {"video_id": video.id, "max_count": 100})
    assert len(found) == 150 and truth(http, video.id)[str(video.id)]["reachable"] == 150
    configure(http, comment_cap=5000)
    found, _ = harvest(http, {"video_id": video.id, "max_count": 100})
    assert len(found) == video.comment_count


def test_ground_truth_equals_what_paging_collects(sim, http):
    videos = [video_with(sim.corpus, 1500, 3000), video_with(sim.corpus, 40, 90), video_with(sim.corpus, 0, 0)]
    answer = truth(http, *(v.id for v in videos))
    for video in videos:
        found, _ = harvest(http, {"video_id": video.id, "max_count": 100})
        assert answer[str(video.id)] == {"ids": [str(c["id"]) for c in found], "reachable": len(found),
                                         "comment_count": video.comment_count}
    app = SimulatorApp(sim.corpus)
    assert app.comment_ground_truth([str(v.id) for v in videos]) == {"videos": answer}


def test_comment_id_lists_only_that_comments_replies(sim, http):
    video = video_with(sim.corpus, 1500, 3000)
    made = CommentBook(sim.corpus, Faults(7)).video_comments(video.id, 1000)
    # A thread has at most 401 comments: one starting in the first 500 ends before the cap.
    parent = next(c for c in made[:500] if c.parent_comment_id == video.id and c.reply_count >= 5)
    as_string, _ = harvest(http, {"comment_id": str(parent.id), "max_count": 2})
    as_integer, pages = harvest(http, {"comment_id": parent.id, "max_count": 2})
    assert as_string == as_integer
    assert [c["id"] for c in as_integer] == [c.id for c in made if c.parent_comment_id == parent.id]
    assert len(as_integer) == parent.reply_count and all(c["parent_comment_id"] == parent.id for c in as_integer)
    assert [p["cursor"] for p in pages] == [min(2 * (i + 1), parent.reply_count) for i in range(len(pages))]
    lonely = next(c for c in made if c.reply_count == 0)
    assert comments(http, {"comment_id": lonely.id}).json()["data"] == {"comments": [], "cursor": 0, "has_more": False}


def test_replies_past_the_cap_are_not_served_by_comment_id_either(sim, http):
    video = video_with(sim.corpus, 1500, 3000)
    made = CommentBook(sim.corpus, Faults(7)).video_comments(video.id, 400)
    parent = next(c for c in made[:300] if c.parent_comment_id == video.id and c.reply_count >= 4)
    position = made.index(parent)
    configure(http, comment_cap=position + 3)  # the comment and two of its thread's next ones
    found, _ = harvest(http, {"comment_id": parent.id, "max_count": 100})
    reachable = [c.id for c in made[position + 1:position + 3] if c.parent_comment_id == parent.id]
    assert [c["id"] for c in found] == reachable and len(reachable) < parent.reply_count


def test_fields_are_honoured_and_validated(sim, http):
    video = video_with(sim.corpus, 20, 40)
    data = comments(http, {"video_id": video.id}, fields="id,text").json()["data"]
    assert data["comments"] and all(set(c) == {"id", "text"} for c in data["comments"])
    full = comments(http, {"video_id": video.id}).json()["data"]["comments"]
    assert all(set(c) == COMMENT_FIELDS for c in full)
    for fields in ("id,author", "", None):
        resp = http.post(COMMENTS_PATH, params={"fields": fields} if fields is not None else {},
                         json={"video_id": video.id})
        assert resp.status_code == 400 and resp.json()["error"]["code"] == "invalid_params"


@pytest.mark.parametrize("body", [
    {"video_id": POPULAR_VIDEO, "comment_id": 4611686018427387905},
    {}, {"max_count": 10},
    {"video_id": POPULAR_VIDEO, "max_count": 0}, {"video_id": POPULAR_VIDEO, "max_count": 101},
    {"video_id": POPULAR_VIDEO, "cursor": -1}, {"video_id": POPULAR_VIDEO, "cursor": "10"},
    {"video_id": "73223x"}, {"video_id": -5}, {"video_id": True}, {"comment_id": 1.5},
])
def test_bad_bodies_are_refused(http, body):
    resp = comments(http, body)
    assert resp.status_code == 400 and resp.json()["error"]["code"] == "invalid_params"


def test_ids_above_2_53_stay_exact_in_the_json(sim, http):
    video = video_with(sim.corpus, 20, 40)
    resp = comments(http, {"video_id": str(video.id), "max_count": 100})
    decoded = msgspec.json.decode(resp.content)["data"]["comments"]
    expected = CommentBook(sim.corpus, Faults(7)).video_comments(video.id)
    assert [c["id"] for c in decoded] == [c.id for c in expected] and all(c.id > 2**53 for c in expected)
    for c in expected:
        assert b'"id":%d' % c.id in resp.content
        assert b'"video_id":%d' % video.id in resp.content


def test_unknown_and_hidden_videos_answer_no_comments_or_400_by_switch(sim, http):
    hidden = video_with(sim.corpus, 5, 500, hidden=True)
    unknown = max(sim.corpus.id_index) + 1
    for asked in ({"video_id": unknown}, {"video_id": hidden.id}, {"comment_id": 4611686018427387904 + 12345}):
        resp = comments(http, dict(asked, cursor=3))
        assert resp.status_code == 200
        assert resp.json()["data"] == {"comments": [], "cursor": 3, "has_more": False}
    assert truth(http, unknown, hidden.id) == {
        str(unknown): {"ids": [], "reachable": 0, "comment_count": 0},
        str(hidden.id): {"ids": [], "reachable": 0, "comment_count": hidden.comment_count}}
    configure(http, comment_unknown_video="invalid_params")
    resp = comments(http, {"video_id": unknown})
    assert resp.status_code == 400 and resp.json()["error"]["code"] == "invalid_params"
    assert str(unknown) in resp.json()["error"]["message"]


def test_ground_truth_refuses_what_is_not_a_list_of_ids(http):
    for body in ({}, {"video_ids": str(POPULAR_VIDEO)}, {"video_ids": ["abc"]}):
        assert http.post("/_sim/ground_truth/comments", json=body).status_code == 400


# -- the research request path ------------------------------------------------------------

def test_each_request_is_charged_and_its_comments_counted_as_records(sim):
    video = video_with(sim.corpus, 25, 25)
    with fresh_client(sim, SimConfig(daily_requests=3), client_key="comment-budget") as client:
        sizes = [len(comments(client, {"video_id": video.id, "cursor": c}).json()["data"]["comments"])
                 for c in (0, 20, 25)]
        assert sizes == [10, 5, 0]
        assert comments(client, {"video_id": video.id}).status_code == 429
        stats = client.get("/_sim/stats").json()["clients"]["comment-budget"]
        assert stats["requests"] == 3 and stats["records"] == 15
        assert stats["by_endpoint"] == {"comment_list": 3} and stats["by_status"] == {"200": 3, "429": 1}


def test_no_token_is_a_401(sim):
    with fresh_client(sim) as client:
        resp = comments(client, {"video_id": 1})
        assert resp.status_code == 401 and resp.json()["error"]["code"] == "access_token_invalid"


@pytest.mark.parametrize("switches, kind, status", [
    ({"comment_500_rate": 1.0}, "comment_500", 500),
    ({"error_500_rate": 1.0}, None, 200),  # the video query's 500s leave comments alone
    ({"throttle_429_rate": 1.0}, "throttle_429", 429),
    ({"error_504_rate": 1.0}, "error_504", 504),
    ({"malformed_rate": 1.0}, "malformed", 200),
    ({"outage_status": 503}, "outage", 503),
])
def test_faults_apply_to_comments_and_are_counted_under_their_kind(sim, http, switches, kind, status):
    configure(http, **switches)
    resp = comments(http, {"video_id": video_with(sim.corpus, 20, 40).id})
    configure(http, outage_status=0)
    assert resp.status_code == status
    if kind == "malformed":
        with pytest.raises(ValueError):
            resp.json()
    if status == 500:
        assert resp.json()["error"] == {**resp.json()["error"], "code": "internal_error"}
    counts = http.get("/_sim/stats").json()["faults"]
    assert counts == dict.fromkeys(counts, 0) | ({kind: 1} if kind else {})
    stats = http.get("/_sim/stats").json()["clients"]["comments"]
    assert stats["requests"] == 1 and stats["by_endpoint"] == {"comment_list": 1}
