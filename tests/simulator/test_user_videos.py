"""Liked, pinned and reposted videos: made per account, paged (time cursor in milliseconds,
index cursor), hidden lists, statuses, fields, faults and ground truth."""

from collections import Counter

import msgspec
import pytest

from simulator.app import VIDEO_FIELDS, SimulatorApp
from simulator.corpus import Corpus
from simulator.faults import Faults, SimConfig
from simulator.follows import FollowBook, follow_graph
from simulator.user_videos import UserVideos
from tests.simulator.conftest import fresh_client

PATH = "/v2/research/user/{}/"
ALL_FIELDS = ",".join(sorted(VIDEO_FIELDS))
LIST_KEYS = {"liked_videos": "user_liked_videos", "reposted_videos": "user_reposted_videos",
             "pinned_videos": "pinned_videos_list"}


@pytest.fixture
def http(sim):
    with fresh_client(sim, SimConfig(daily_requests=10**6), client_key="user-videos") as client:
        yield client


def ask(http, kind, body, fields="id,username"):
    return http.post(PATH.format(kind), params={"fields": fields}, json=body)


def harvest(http, kind, username, max_count=100, list_key=None):
    """Every page of one list, passing the cursor on (one unit back when it did not move)."""
    body: dict = {"username": username, "max_count": max_count}
    found, pages = [], []
    while True:
        resp = ask(http, kind, body, "id,create_time")
        assert resp.status_code == 200, resp.text
        data = msgspec.json.decode(resp.content)["data"]
        pages.append(data)
        found += data[list_key or LIST_KEYS[kind]]
        if not data["has_more"]:
            return found, pages
        body["cursor"] = data["cursor"] - 1 if data["cursor"] == body.get("cursor") else data["cursor"]


def truth(http, kind, *usernames, **extra):
    resp = http.post(f"/_sim/ground_truth/{kind}", json={"usernames": list(usernames), **extra})
    assert resp.status_code == 200, resp.text
    return resp.json()["users"]


def configure(http, **switches):
    assert http.post("/_sim/config", json=switches).status_code == 200


def public_accounts(sim, count):
    return [a.username for a in sim.corpus.accounts if sim.corpus.user_status(a.username) == "ok"][:count]


def book(corpus):
    faults = Faults(corpus.seed)
    return UserVideos(corpus, faults, FollowBook(corpus, faults))


# -- the lists ------------------------------------------------------------------------------

def test_lists_are_the_same_for_the_same_seed_and_differ_for_another():
    a, b, c = (book(Corpus(seed=s, videos=3000)) for s in (3, 3, 4))
    for made in (lambda x: list(x.likes("vrtnws").items), lambda x: list(x.reposts("vrtnws")),
                 lambda x: x.pinned("vrtnws")):
        assert made(a) == made(b)
        assert made(a) != made(c)


def test_two_apps_on_one_corpus_serve_the_same_lists(sim):
    names = public_accounts(sim, 30)
    first, second = SimulatorApp(sim.corpus), SimulatorApp(sim.corpus)
    assert first.liked_videos_ground_truth(names) == second.liked_videos_ground_truth(names)
    assert first.reposted_videos_ground_truth(names) == second.reposted_videos_ground_truth(names)
    assert first.pinned_videos_ground_truth(names) == second.pinned_videos_ground_truth(names)


def test_likes_are_of_videos_posted_before_them_and_some_share_a_millisecond(sim):
    likes = book(sim.corpus).likes("vrtnws")
    assert 700 <= len(likes) <= 750
    videos = sim.corpus.videos
    assert all(videos[i].create_time * 1000 < t for t, i in zip(likes.times, likes.items, strict=True))
    assert list(likes.times) == sorted(likes.times, reverse=True) and len(set(likes.items)) == len(likes)
    assert len(likes) - len(set(likes.times)) > 20
    app = SimulatorApp(sim.corpus)  # at small pages, ties fall on page boundaries
    skipped = app.liked_videos_ground_truth(["vrtnws"], 7)["users"]["vrtnws"]["reachable"]
    app.set_config(time_cursor_ties="repeat")
    assert skipped < app.liked_videos_ground_truth(["vrtnws"], 7)["users"]["vrtnws"]["reachable"]


def test_shares_of_hidden_and_empty_lists(sim):
    names, app = public_accounts(sim, 400), SimulatorApp(sim.corpus)
    liked = Counter(v["status"] for v in app.liked_videos_ground_truth(names)["users"].values())
    assert 0.3 < liked["hidden"] / len(names) < 0.5
    reposted = app.reposted_videos_ground_truth(names)["users"].values()
    assert 0.08 < Counter(v["status"] for v in reposted)["hidden"] / len(names) < 0.22
    assert any(v["status"] == "ok" and not v["ids"] for v in reposted)
    pinned = Counter(len(v["ids"]) for v in app.pinned_videos_ground_truth(names)["users"].values())
    assert pinned[0] > pinned[1] > pinned[3] > 0 and max(pinned) == 3


# -- liked videos ---------------------------------------------------------------------------

def test_liked_videos_page_newest_first_and_ground_truth_equals_what_paging_collects(sim, http):
    found, pages = harvest(http, "liked_videos", "vrtnws")
    ids = [str(v["id"]) for v in found]
    assert len(ids) == len(set(ids)) > 650
    cursors = [p["cursor"] for p in pages]
    assert cursors == sorted(cursors, reverse=True) and cursors[0] > 1.7e12  # milliseconds
    assert any(len(p["user_liked_videos"]) < 100 for p in pages[:-1])  # videos no longer shown
    assert truth(http, "liked_videos", "vrtnws")["vrtnws"] == {"status": "ok", "ids": ids, "reachable": len(ids)}


@pytest.mark.parametrize("ties", ["skip", "repeat"])
def test_liked_ground_truth_follows_the_page_size_and_the_tie_switch(sim, http, ties):
    configure(http, time_cursor_ties=ties)
    for username in ("vrtnws", *[n for n in public_accounts(sim, 60) if not book(sim.corpus).likes_hidden(n)][:8]):
        found, _ = harvest(http, "liked_videos", username, max_count=7)
        ids = list(dict.fromkeys(str(v["id"]) for v in found))
        assert truth(http, "liked_videos", username, max_count=7)[username]["ids"] == ids


def test_hidden_likes_answer_400_information_cannot_be_returned(sim, http):
    resp = ask(http, "liked_videos", {"username": "hln_be"})
    assert resp.status_code == 400 and resp.json()["error"]["code"] == "invalid_params"
    assert "information cannot be returned" in resp.json()["error"]["message"]
    assert truth(http, "liked_videos", "hln_be")["hln_be"] == {"status": "hidden", "ids": [], "reachable": 0}


# -- pinned and reposted videos ---------------------------------------------------------------

def test_pinned_videos_are_up_to_three_of_the_accounts_own_shown_videos(sim, http):
    for username, count in (("vrtnws", 3), ("hln_be", 1)):
        data = ask(http, "pinned_videos", {"username": username}).json()["data"]
        assert set(data) == {"pinned_videos_list"} and len(data["pinned_videos_list"]) == count
        assert all(v["username"] == username for v in data["pinned_videos_list"])
        ids = [str(v["id"]) for v in data["pinned_videos_list"]]
        assert truth(http, "pinned_videos", username)[username] == {"status": "ok", "ids": ids, "reachable": count}
    for username, expected in truth(http, "pinned_videos", *public_accounts(sim, 50)).items():
        served = ask(http, "pinned_videos", {"username": username}).json()["data"]["pinned_videos_list"]
        assert [str(v["id"]) for v in served] == expected["ids"]
        assert all(v["username"] == username for v in served)


def test_reposted_videos_page_by_index_and_equal_the_ground_truth(sim, http):
    found, pages = harvest(http, "reposted_videos", "vrtnws", max_count=50)
    assert [p["cursor"] for p in pages] == [50, 100, 150, len(book(sim.corpus).reposts("vrtnws"))]
    ids = [str(v["id"]) for v in found]
    assert truth(http, "reposted_videos", "vrtnws")["vrtnws"] == {"status": "ok", "ids": ids, "reachable": len(ids)}
    owners = {sim.corpus.videos[sim.corpus.id_index[int(i)]].username for i in ids}
    assert "vrtnws" not in owners and len(owners) > 100
    past = ask(http, "reposted_videos", {"username": "vrtnws", "cursor": 500}).json()["data"]
    assert past == {"user_reposted_videos": [], "cursor": 500, "has_more": False}


def test_the_reposted_list_name_is_a_switch(sim, http):
    first = ask(http, "reposted_videos", {"username": "vrtnws", "max_count": 5}).json()["data"]
    configure(http, reposted_list_name="reposted_videos")
    second = ask(http, "reposted_videos", {"username": "vrtnws", "max_count": 5}).json()["data"]
    assert set(first) == {"user_reposted_videos", "cursor", "has_more"}
    assert set(second) == {"reposted_videos", "cursor", "has_more"}
    assert first["user_reposted_videos"] == second["reposted_videos"]
    found, _ = harvest(http, "reposted_videos", "vrtnws", list_key="reposted_videos")
    assert [str(v["id"]) for v in found] == truth(http, "reposted_videos", "vrtnws")["vrtnws"]["ids"]


def test_hidden_reposts_answer_400_like_hidden_likes(http):
    resp = ask(http, "reposted_videos", {"username": "hln_be"})
    assert resp.status_code == 400 and "information cannot be returned" in resp.json()["error"]["message"]
    assert truth(http, "reposted_videos", "hln_be")["hln_be"]["status"] == "hidden"


# -- what every one of them shares ------------------------------------------------------------

def test_videos_are_the_objects_the_video_query_serves(sim, http):
    liked = ask(http, "liked_videos", {"username": "vrtnws", "max_count": 5}, ALL_FIELDS).json()["data"][
        "user_liked_videos"][0]
    video = sim.corpus.videos[sim.corpus.id_index[liked["id"]]]
    day = str(video.create_date)
    query = {"query": {"and": [{"field_name": "video_id", "operation": "EQ", "field_values": [str(video.id)]}]},
             "start_date": day, "end_date": day}
    served = http.post("/v2/research/video/query/", params={"fields": ALL_FIELDS}, json=query).json()["data"]
    assert served["videos"] == [liked]


@pytest.mark.parametrize("kind", ["liked_videos", "pinned_videos", "reposted_videos"])
def test_fields_are_honoured_and_validated_like_the_video_querys(http, kind):
    data = ask(http, kind, {"username": "vrtnws"}, "id,view_count").json()["data"]
    assert data[LIST_KEYS[kind]] and all(set(v) == {"id", "view_count"} for v in data[LIST_KEYS[kind]])
    for fields in ("id,author", "", None):
        resp = http.post(PATH.format(kind), params={"fields": fields} if fields is not None else {},
                         json={"username": "vrtnws"})
        assert resp.status_code == 400 and resp.json()["error"]["code"] == "invalid_params"


@pytest.mark.parametrize("kind", ["liked_videos", "pinned_videos", "reposted_videos"])
def test_unknown_private_and_restricted_accounts_answer_400_as_user_info_does(sim, http, kind):
    private = next(a.username for a in sim.corpus.accounts if sim.corpus.user_status(a.username) == "private")
    restricted = next(a.username for a in sim.corpus.accounts if sim.corpus.user_status(a.username) == "restricted")
    cases = {"no_such_user_xyz": ("cannot find the user", "unknown"), private: ("is private", "private"),
             restricted: ("API cannot return this user's information", "restricted")}
    answer = truth(http, kind, *cases)
    for username, (message, status) in cases.items():
        resp = ask(http, kind, {"username": username})
        assert resp.status_code == 400 and message in resp.json()["error"]["message"]
        assert answer[username] == {"status": status, "ids": [], "reachable": 0}


def test_audience_accounts_have_likes_and_reposts_but_nothing_pinned(sim, http):
    graph = follow_graph(sim.corpus)
    vrtnws_followers = graph.followers[graph.node["vrtnws"]].items
    viewer = next(graph.names[n] for n in vrtnws_followers if graph.names[n] not in sim.corpus.by_username)
    assert ask(http, "pinned_videos", {"username": viewer}).json()["data"] == {"pinned_videos_list": []}
    for kind in ("liked_videos", "reposted_videos"):
        assert ask(http, kind, {"username": viewer}).status_code in (200, 400)  # 400: hidden
        assert truth(http, kind, viewer)[viewer]["status"] in ("ok", "hidden")


@pytest.mark.parametrize("body", [{}, {"username": ""}, {"username": "vrtnws", "max_count": 101},
                                  {"username": "vrtnws", "cursor": -1}, {"username": "vrtnws", "cursor": 1.5}])
@pytest.mark.parametrize("kind", ["liked_videos", "reposted_videos"])
def test_bad_bodies_are_refused(http, kind, body):
    resp = ask(http, kind, body)
    assert resp.status_code == 400 and resp.json()["error"]["code"] == "invalid_params"


def test_ground_truth_refuses_what_it_cannot_use(http):
    for kind in ("liked_videos", "pinned_videos", "reposted_videos"):
        for body in ({}, {"usernames": "vrtnws"}, {"usernames": [5]}):
            assert http.post(f"/_sim/ground_truth/{kind}", json=body).status_code == 400
    assert http.post("/_sim/ground_truth/liked_videos", json={"usernames": [], "max_count": 0}).status_code == 400


def test_requests_are_charged_to_the_research_budget_and_videos_counted_as_records(sim):
    with fresh_client(sim, SimConfig(daily_requests=3), client_key="user-videos-budget") as client:
        sizes = [len(ask(client, kind, {"username": "vrtnws", "max_count": 10}).json()["data"][LIST_KEYS[kind]])
                 for kind in ("liked_videos", "pinned_videos", "reposted_videos")]
        assert ask(client, "pinned_videos", {"username": "vrtnws"}).status_code == 429
        stats = client.get("/_sim/stats").json()["clients"]["user-videos-budget"]
        assert stats["requests"] == 3 and stats["records"] == sum(sizes)
        assert stats["budgets"]["follows"] == {"requests": 0, "records": 0}
        assert stats["by_endpoint"] == {"user_liked_videos": 1, "user_pinned_videos": 1, "user_reposted_videos": 1}


@pytest.mark.parametrize("switches, kind, status", [
    ({"user_500_rate": 1.0}, "user_500", 500),
    ({"comment_500_rate": 1.0, "playlist_500_rate": 1.0, "error_500_rate": 1.0}, None, 200),
    ({"throttle_429_rate": 1.0}, "throttle_429", 429),
    ({"error_504_rate": 1.0}, "error_504", 504),
    ({"malformed_rate": 1.0}, "malformed", 200),
    ({"outage_status": 502}, "outage", 502),
])
@pytest.mark.parametrize("endpoint", ["liked_videos", "pinned_videos", "reposted_videos"])
def test_faults_apply_and_are_counted_under_their_kind(http, switches, kind, status, endpoint):
    configure(http, **switches)
    resp = ask(http, endpoint, {"username": "vrtnws"})
    configure(http, outage_status=0)
    assert resp.status_code == status
    if kind == "malformed":
        with pytest.raises(ValueError):
            resp.json()
    if kind == "user_500":
        assert resp.json()["error"] == {**resp.json()["error"], "code": "internal_error", "message": ""}
    counts = http.get("/_sim/stats").json()["faults"]
    assert counts == dict.fromkeys(counts, 0) | ({kind: 1} if kind else {})
