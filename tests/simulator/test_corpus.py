"""The corpus and its ground truth, without HTTP."""

import pytest

from simulator.corpus import FEATURED_QUERY as FEATURED
from simulator.corpus import Corpus, get_corpus
from simulator.query import QueryError, compile_query, parse_window


@pytest.fixture(scope="module")
def corpus() -> Corpus:
    return get_corpus(7, 60000)


def cond(field, op, *values):
    return {"field_name": field, "operation": op, "field_values": list(values)}


def test_same_seed_same_corpus_other_seed_differs():
    a, b, c = Corpus(seed=3, videos=3000), Corpus(seed=3, videos=3000), Corpus(seed=4, videos=3000)
    assert [v.id for v in a.videos] == [v.id for v in b.videos]
    assert [v.id for v in a.videos] != [v.id for v in c.videos]


def test_featured_query_density(corpus):
    half = corpus.matching_ids(FEATURED, "20240101", "20240630")
    year = corpus.matching_ids(FEATURED, "20240101", "20241231")
    assert 5000 <= len(half) <= 9000
    assert 1.7 * len(half) <= len(year) <= 2.5 * len(half)
    authors = {corpus.videos[corpus.id_index[i]].username for i in half}
    assert 200 <= len(authors) < 2000
    # The exact numbers documented in simulator/corpus.py: update both together.
    assert (len(corpus.videos), len(half), len(year), len(authors)) == (59992, 6101, 13782, 957)
    for name in ("vrtnws", "hln_be"):
        per_day = len(corpus.matching_ids({"and": [cond("username", "EQ", name)]}, "20240101", "20241231")) / 366
        assert 1.9 <= per_day <= 4.1


def test_ids_are_big_ascending_and_tied_to_create_time(corpus):
    ids = [v.id for v in corpus.videos]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)
    assert min(ids) > 2**53 and max(ids) < 2**63
    assert all(v.id >> 32 == v.create_time for v in corpus.videos[:1000])


def test_matching_ids_newest_first_and_hidden_excluded(corpus):
    ids = corpus.matching_ids({"and": [cond("region_code", "EQ", "FR")]}, "20240301", "20240331")
    assert ids == sorted(ids, reverse=True)
    hidden = [v for v in corpus.videos if v.hidden]
    assert 0.02 < len(hidden) / len(corpus.videos) < 0.04
    assert not set(ids) & {v.id for v in hidden}


def test_end_date_is_inclusive(corpus):
    one_day = corpus.matching_ids({"and": [cond("region_code", "IN", "BE")]}, "20240105", "20240105")
    assert one_day
    assert all(corpus.videos[corpus.id_index[i]].create_date == 20240105 for i in one_day)


def test_operators(corpus):
    video = next(v for v in corpus.videos if v.music_id and v.effect_ids and not v.hidden)
    day = str(video.create_date)
    for query in ({"and": [cond("video_id", "EQ", str(video.id))]},
                  {"and": [cond("music_id", "IN", str(video.music_id)), cond("username", "EQ", video.username)]},
                  {"and": [cond("effect_id", "IN", video.effect_ids[0]), cond("create_date", "EQ", day)]}):
        assert video.id in corpus.matching_ids(query, day, day)
    gte = corpus.matching_ids({"and": [cond("view_count", "GTE", "100000")]}, "20240101", "20240131")
    assert gte and all(corpus.videos[corpus.id_index[i]].view_count >= 100000 for i in gte)
    not_be = corpus.matching_ids({"not": [cond("region_code", "IN", "BE", "NL")]}, "20240101", "20240110")
    assert not_be and all(corpus.videos[corpus.id_index[i]].region_code not in ("BE", "NL") for i in not_be)
    short = corpus.matching_ids({"and": [cond("video_length", "EQ", "SHORT")]}, "20240101", "20240110")
    assert short and all(corpus.videos[corpus.id_index[i]].video_duration < 15 for i in short)
    upper = corpus.matching_ids({"and": [cond("keyword", "EQ", "KLIMAAT")]}, "20240101", "20240110")
    assert upper == corpus.matching_ids({"and": [cond("keyword", "EQ", "klimaat")]}, "20240101", "20240110")


def test_descriptions_have_nul_and_non_latin_text_and_optional_fields_missing(corpus):
    descriptions = [v.video_description for v in corpus.videos]
    assert any("\u0000" in d for d in descriptions)
    assert any(any(ord(ch) > 0x3000 for ch in d) for d in descriptions)
    for field in ("voice_to_text", "music_id", "effect_ids", "playlist_id"):
        present = sum(getattr(v, field) is not None for v in corpus.videos)
        assert 0 < present < len(corpus.videos), field


@pytest.mark.parametrize("query", [
    None, {}, {"and": []}, {"and": [cond("colour", "EQ", "red")]},
    {"and": [cond("username", "GT", "a")]}, {"and": [cond("username", "LIKE", "a")]},
    {"and": [{"field_name": "username", "operation": "EQ", "field_values": []}]},
    {"and": [cond("create_date", "EQ", "2024-01-01")]}, {"and": [cond("video_length", "EQ", "TINY")]},
    {"maybe": [cond("username", "EQ", "a")]},
])
def test_bad_queries_are_rejected(query):
    with pytest.raises(QueryError):
        compile_query(query)


def test_window_rule():
    assert parse_window({"start_date": "20240101", "end_date": "20240131"})  # 30 days after: allowed
    for body in ({"start_date": "20240101", "end_date": "20240201"}, {"start_date": "20240102", "end_date": "20240101"},
                 {"start_date": "2024011", "end_date": "20240101"}, {"start_date": "20240101"}):
        with pytest.raises(QueryError):
            parse_window(body)


def test_user_status(corpus):
    statuses = [corpus.user_status(a.username) for a in corpus.accounts]
    assert 0.02 < statuses.count("private") / len(statuses) < 0.045
    assert 0.004 < statuses.count("restricted") / len(statuses) < 0.02
    assert corpus.user_status("vrtnws") == corpus.user_status("hln_be") == "ok"
    assert corpus.user_status("no_such_user_xyz") == "unknown"
