"""Followers and following: the seeded graph, paging by time cursor with its ties, the cap,
statuses, the budget of their own, faults, and ground truth."""

from collections import Counter

import pytest

from simulator.app import SimulatorApp
from simulator.corpus import Corpus
from simulator.faults import Faults, SimConfig
from simulator.follows import LIST_KEYS, FollowBook, follow_graph
from tests.simulator.conftest import fresh_client


@pytest.fixture
def http(sim):
    with fresh_client(sim, SimConfig(daily_requests=10**6), client_key="follows") as client:
        yield client


def follows(http, direction, body):
    return http.post(f"/v2/research/user/{direction}/", json=body)


def harvest(http, direction, username, max_count=100):
    """Every page of one list, passing the cursor on and stepping one second back when it
    did not move: (entries met, pages)."""
    body: dict = {"username": username, "max_count": max_count}
    found, pages = [], []
    while True:
        resp = follows(http, direction, body)
        assert resp.status_code == 200, resp.text
        data = resp.json()["data"]
        pages.append(data)
        found += data[LIST_KEYS[direction]]
        if not data["has_more"]:
            return found, pages
        body["cursor"] = data["cursor"] - 1 if data["cursor"] == body.get("cursor") else data["cursor"]


def unique(entries):
    return list(dict.fromkeys(e["username"] for e in entries))


def truth(http, direction, *usernames, max_count=100):
    resp = http.post("/_sim/ground_truth/follows",
                     json={"usernames": list(usernames), "direction": direction, "max_count": max_count})
    assert resp.status_code == 200, resp.text
    return resp.json()["users"]


def configure(http, **switches):
    assert http.post("/_sim/config", json=switches).status_code == 200


def followers_of(sim, username):
    """The account's whole follower list (simulator.paging.TimeList: times and graph nodes)."""
    graph = follow_graph(sim.corpus)
    return graph.followers[graph.node[username]]


def account_with(corpus, status):
    return next(a.username for a in corpus.accounts if corpus.user_status(a.username) == status)


# -- the graph ------------------------------------------------------------------------------

def test_the_graph_is_the_same_for_the_same_seed_and_differs_for_another():
    books = [FollowBook(Corpus(seed=s, videos=3000), Faults(s)) for s in (3, 3, 4)]
    first, second, other = (b.timeline("vrtnws", "followers") for b in books)
    assert list(first.times) == list(second.times) and list(first.items) == list(second.items)
    assert books[0].graph.names == books[1].graph.names
    assert list(first.times) != list(other.times)


def test_featured_accounts_have_thousands_of_followers_and_others_fewer(sim):
    graph, corpus = follow_graph(sim.corpus), sim.corpus
    sizes = {a.username: len(graph.followers[i]) for i, a in enumerate(corpus.accounts)}
    assert 6000 <= sizes["vrtnws"] <= 9000 and 6000 <= sizes["hln_be"] <= 9000
    others = sorted(n for name, n in sizes.items() if name not in ("vrtnws", "hln_be"))
    assert others[len(others) // 2] < 50 and 300 < others[-1] < 5000
    for i, a in enumerate(corpus.accounts):  # lists never say more than the profile's counts
        assert len(graph.followers[i]) <= a.follower_count and len(graph.following[i]) <= a.following_count


def test_lists_hold_public_accounts_only_and_agree_in_both_directions(sim):
    graph, book = follow_graph(sim.corpus), FollowBook(sim.corpus, Faults(7))
    statuses = Counter(book.status(graph.names[node]) for timeline in graph.followers for node in timeline.items)
    assert set(statuses) == {"ok"}
    for account in ("vrtnws", "hln_be", sim.corpus.accounts[500].username):
        node = graph.node[account]
        for when, follower in zip(graph.followers[node].times, graph.followers[node].items, strict=True):
            theirs = graph.following[follower]
            assert (when, node) in zip(theirs.times, theirs.items, strict=True)


def test_two_follows_of_one_account_can_share_a_second(sim):
    graph = follow_graph(sim.corpus)
    for name in ("vrtnws", "hln_be"):
        newest = Counter(graph.followers[graph.node[name]].times[:5000])
        assert sum(n for n in newest.values() if n > 1) > 300
        assert 120 <= max(newest.values()) <= 160  # a burst larger than any page
    shared = sum(len(t) > len(set(t.times)) for t in graph.following)
    assert shared > 1000


# -- the endpoints --------------------------------------------------------------------------

def test_paging_returns_every_reachable_follower_once_newest_first(sim, http):
    found, pages = harvest(http, "followers", "vrtnws")
    names = [e["username"] for e in found]
    assert len(names) == len(set(names)) and 4800 < len(names) <= 5000
    assert all(len(p["user_followers"]) == 100 for p in pages[:-1])
    cursors = [p["cursor"] for p in pages]
    assert cursors == sorted(cursors, reverse=True) and len(set(cursors)) == len(cursors)
    assert [p["has_more"] for p in pages] == [True] * (len(pages) - 1) + [False]
    expected = truth(http, "followers", "vrtnws")["vrtnws"]
    assert expected["usernames"] == names and expected["reachable"] == len(names)
    assert expected["listed"] == len(followers_of(sim, "vrtnws")) > 5000
    assert all(set(e) == {"display_name", "username"} for e in found)


def test_skipped_ties_are_exactly_those_sharing_a_pages_last_second(sim, http):
    timeline = followers_of(sim, "vrtnws")
    found, pages = harvest(http, "followers", "vrtnws")
    served = {e["username"] for e in found}
    names = follow_graph(sim.corpus).names
    lost = [p for p in range(5000) if names[timeline.items[p]] not in served]
    page_ends = {p["cursor"] + 1 for p in pages}  # skip mode: one second before the last one served
    assert lost and all(timeline.times[p] in page_ends for p in lost)
    smaller = truth(http, "followers", "vrtnws", max_count=20)["vrtnws"]
    found20, _ = harvest(http, "followers", "vrtnws", max_count=20)
    assert smaller["usernames"] == [e["username"] for e in found20] != [e["username"] for e in found]


def test_repeat_mode_serves_ties_again_and_stalls_on_a_burst_larger_than_a_page(sim, http):
    configure(http, time_cursor_ties="repeat")
    found, pages = harvest(http, "followers", "vrtnws")
    names = unique(found)
    assert len(found) > len(names)  # the boundary seconds' entries came again
    stalled = [a for a, b in zip(pages, pages[1:], strict=False) if a["cursor"] == b["cursor"]]
    assert stalled  # the burst: the client had to step one second back
    expected = truth(http, "followers", "vrtnws")["vrtnws"]
    assert expected["usernames"] == names
    configure(http, time_cursor_ties="skip")
    assert truth(http, "followers", "vrtnws")["vrtnws"]["reachable"] < len(names)


def test_the_cap_is_a_switch(sim, http):
    configure(http, follow_cap=250)
    found, _ = harvest(http, "followers", "hln_be")
    graph = follow_graph(sim.corpus)
    newest = {graph.names[node] for node in followers_of(sim, "hln_be").items[:250]}
    assert 150 < len(found) <= 250 and {e["username"] for e in found} <= newest
    assert truth(http, "followers", "hln_be")["hln_be"]["usernames"] == [e["username"] for e in found]
    configure(http, follow_cap=10**6, time_cursor_ties="repeat")
    found, _ = harvest(http, "followers", "hln_be", max_count=100)
    listed = len(followers_of(sim, "hln_be"))
    assert listed - 60 < len(unique(found)) < listed  # only the burst's excess is lost


def test_following_lists_page_the_same_way(sim, http):
    graph = follow_graph(sim.corpus)
    node = max(range(len(sim.corpus.accounts)), key=lambda i: len(graph.following[i]))
    name = graph.names[node]
    found, pages = harvest(http, "following", name, max_count=3)
    assert len(pages) > 3 and all(len(p["user_following"]) <= 3 for p in pages)
    assert truth(http, "following", name, max_count=3)[name]["usernames"] == [e["username"] for e in found]
    newest_follower = graph.names[followers_of(sim, "vrtnws").items[0]]
    assert "vrtnws" in [e["username"] for e in harvest(http, "following", newest_follower)[0]]


def test_a_cursor_asks_for_those_who_followed_at_or_before_it_within_the_cap(sim, http):
    data = follows(http, "followers", {"username": "vrtnws"}).json()["data"]
    assert len(data["user_followers"]) == 20 and data["has_more"]  # 20 by default
    timeline, names = followers_of(sim, "vrtnws"), follow_graph(sim.corpus).names
    when = timeline.times[3000]
    first = timeline.times.tolist().index(when)
    page = follows(http, "followers", {"username": "vrtnws", "cursor": when}).json()["data"]
    assert [e["username"] for e in page["user_followers"]] == [names[n] for n in timeline.items[first:first + 20]]
    early = {"username": "vrtnws", "cursor": 1704067200 + 86400 * 10}  # ten days in: past the newest 5,000
    assert follows(http, "followers", early).json()["data"] == {"user_followers": [], "cursor": early["cursor"],
                                                                "has_more": False}
    configure(http, follow_cap=10**6)
    assert follows(http, "followers", early).json()["data"]["user_followers"]


def test_unknown_private_and_restricted_accounts_answer_400_as_user_info_does(sim, http):
    private, restricted = account_with(sim.corpus, "private"), account_with(sim.corpus, "restricted")
    cases = {"no_such_user_xyz": "cannot find the user", private: "is private",
             restricted: "API cannot return this user's information"}
    for direction in ("followers", "following"):
        for username, message in cases.items():
            resp = follows(http, direction, {"username": username})
            assert resp.status_code == 400 and resp.json()["error"]["code"] == "invalid_params"
            assert message in resp.json()["error"]["message"]
    answer = truth(http, "followers", *cases)
    assert {name: answer[name]["status"] for name in cases} == {
        "no_such_user_xyz": "unknown", private: "private", restricted: "restricted"}
    assert all(answer[name]["usernames"] == [] for name in cases)


def test_audience_accounts_are_public_accounts_with_profiles_and_lists(sim, http):
    graph = follow_graph(sim.corpus)
    viewer = next(graph.names[n] for n in followers_of(sim, "vrtnws").items if graph.names[n].startswith("user"))
    info = http.post("/v2/research/user/info/", params={"fields": "display_name,video_count,following_count"},
                     json={"username": viewer})
    assert info.status_code == 200
    data = info.json()["data"]
    assert data["video_count"] == 0 and data["following_count"] >= len(graph.following[graph.node[viewer]])
    assert "vrtnws" in [e["username"] for e in harvest(http, "following", viewer)[0]]
    assert harvest(http, "followers", viewer)[0] == []


@pytest.mark.parametrize("body", [
    {}, {"username": ""}, {"username": 5}, {"username": "vrtnws", "max_count": 0},
    {"username": "vrtnws", "max_count": 101}, {"username": "vrtnws", "cursor": -1},
    {"username": "vrtnws", "cursor": "1700000000"},
])
def test_bad_bodies_are_refused(http, body):
    resp = follows(http, "followers", body)
    assert resp.status_code == 400 and resp.json()["error"]["code"] == "invalid_params"


def test_ground_truth_refuses_what_it_cannot_use(http):
    for body in ({"usernames": "vrtnws", "direction": "followers"}, {"usernames": ["vrtnws"]},
                 {"usernames": ["vrtnws"], "direction": "fans"},
                 {"usernames": ["vrtnws"], "direction": "following", "max_count": 0}):
        assert http.post("/_sim/ground_truth/follows", json=body).status_code == 400


def test_the_apps_ground_truth_equals_the_endpoints(sim, http):
    names = ["vrtnws", sim.corpus.accounts[700].username, "no_such_user_xyz"]
    for direction in ("followers", "following"):
        over_http = truth(http, direction, *names, max_count=50)
        in_process = SimulatorApp(sim.corpus).follow_ground_truth(names, direction, 50)
        assert in_process == {"direction": direction, "max_count": 50, "users": over_http}


# -- budget and faults ----------------------------------------------------------------------

def test_the_follow_budget_is_separate_from_the_research_budget(sim):
    config = SimConfig(daily_requests=2, daily_follow_requests=3)
    with fresh_client(sim, config, client_key="follow-budget") as client:
        query = {"username": "vrtnws", "max_count": 100}
        info = {"params": {"fields": "display_name"}, "json": {"username": "vrtnws"}}
        assert [client.post("/v2/research/user/info/", **info).status_code for _ in range(3)] == [200, 200, 429]
        assert [follows(client, "followers", query).status_code for _ in range(3)] == [200, 200, 200]
        assert follows(client, "following", query).status_code == 429
        assert client.post("/v2/research/user/info/", **info).status_code == 429
        stats = client.get("/_sim/stats").json()["clients"]["follow-budget"]
        assert stats["budgets"] == {"research": {"requests": 2, "records": 2},
                                    "follows": {"requests": 3, "records": 300}}
        assert (stats["requests"], stats["records"], stats["rejected_over_quota"]) == (2, 2, 3)
        (today,) = stats["days"].values()
        assert today["budgets"] == stats["budgets"]
        assert stats["by_endpoint"] == {"user_info": 2, "user_followers": 3}
        assert client.get("/_sim/stats").json()["faults"]["daily_429"] == 3


def test_follow_records_have_a_daily_limit_of_their_own(sim):
    with fresh_client(sim, SimConfig(daily_follow_records=150), client_key="follow-records") as client:
        query = {"username": "hln_be", "max_count": 100}
        assert [follows(client, "followers", query).status_code for _ in range(3)] == [200, 200, 429]
        resp = follows(client, "followers", query)
        assert resp.json()["error"]["code"] == "rate_limit_exceeded"
        assert client.post("/v2/research/user/info/", params={"fields": "display_name"},
                           json={"username": "vrtnws"}).status_code == 200


@pytest.mark.parametrize("switches, kind, status", [
    ({"user_500_rate": 1.0}, "user_500", 500),
    ({"comment_500_rate": 1.0, "playlist_500_rate": 1.0, "error_500_rate": 1.0}, None, 200),
    ({"throttle_429_rate": 1.0}, "throttle_429", 429),
    ({"error_504_rate": 1.0}, "error_504", 504),
    ({"malformed_rate": 1.0}, "malformed", 200),
    ({"outage_status": 503}, "outage", 503),
])
@pytest.mark.parametrize("direction", ["followers", "following"])
def test_faults_apply_to_follows_and_are_counted_under_their_kind(http, switches, kind, status, direction):
    configure(http, **switches)
    resp = follows(http, direction, {"username": "vrtnws"})
    configure(http, outage_status=0)
    assert resp.status_code == status
    if kind == "malformed":
        with pytest.raises(ValueError):
            resp.json()
    if kind == "user_500":
        assert resp.json()["error"]["code"] == "internal_error" and resp.json()["error"]["message"] == ""
    counts = http.get("/_sim/stats").json()["faults"]
    assert counts == dict.fromkeys(counts, 0) | ({kind: 1} if kind else {})
    stats = http.get("/_sim/stats").json()["clients"]["follows"]
    assert stats["budgets"]["follows"]["requests"] == 1 and stats["requests"] == 0
