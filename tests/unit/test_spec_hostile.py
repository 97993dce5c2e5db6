"""Specs written to break the producer: every one is refused with SpecRefused naming its field
(exit 2 from `tiktok-harvest submit`, Redis never contacted), never another exception. The
files, the fuzzing and the command line: tests/unit/test_spec_fuzz.py."""


import pytest

from producers.query_rules import MAX_CONDITIONS
from producers.region_codes import REGION_CODES
from producers.spec import validate
from schemas.spec import MAX_TERM_CHARS, MAX_TERMS
from tests.unit.spec_helpers import CREDS, NOW, condition, query_spec, refused, spec

# --- the period ----------------------------------------------------------------------------------


def test_a_period_in_year_one_is_refused_rather_than_overflowing_the_window_planner():
    assert refused(spec(period="00010101-00010131")).field == "period"


@pytest.mark.parametrize("period", ["19000101-20240131", "20160831-20160930", "20000101-20000131"])
def test_a_period_starting_before_tiktok_held_any_videos_is_refused(period):
    assert refused(spec(period=period)).field == "period"


def test_a_period_starting_on_the_earliest_day_is_accepted():
    assert validate(spec(period="20160901-20160930"), CREDS, now=NOW).windows == ["20160901-20160930"]


@pytest.mark.parametrize("period", ["20250616-20250630", "20260101-20260131", "99991201-99991231"])
def test_a_period_starting_after_today_is_refused(period):
    error = refused(spec(period=period))
    assert error.field == "period" and "future" in error.problem


def test_a_period_starting_today_or_reaching_past_today_is_accepted():
    assert validate(spec(period="20250615-20250615"), CREDS, now=NOW).windows == ["20250615-20250615"]
    assert validate(spec(period="20250601-20250630"), CREDS, now=NOW).period_end == "20250630"


@pytest.mark.parametrize("period", ["20240101-20240131\n", "٢٠٢٤٠١٠١-٢٠٢٤٠١٣١", "20240101-20240131-20240201"])
def test_a_period_that_only_looks_like_yyyymmdd_is_refused(period):
    assert refused(spec(period=period)).field == "period"


# --- the id, name and project ----------------------------------------------------------------------


@pytest.mark.parametrize("bad", ["tiktok_query_0001\n", "a\nb", "x\x00", "é_query"])
def test_an_id_with_anything_after_or_inside_it_but_the_allowed_characters_is_refused(bad):
    assert refused(spec(id=bad)).field == "id"


@pytest.mark.parametrize("field, value", [
    ("name", "two\nlines"), ("name", "x" * 201), ("name", "bell\x07"),
    ("project", "climate\x1b[2J"), ("project", "p" * 101),
])
def test_a_name_or_project_with_control_characters_or_too_long_is_refused(field, value):
    assert refused(spec(**{field: value})).field == field


# --- accounts, keywords, regions -----------------------------------------------------------------


@pytest.mark.parametrize("accounts", [["ab", "@ab"], ["Alice", "@alice"], [" @bob_2 ", "bob_2"]])
def test_the_same_account_twice_after_dropping_the_at_and_ignoring_case_is_refused(accounts):
    error = refused(spec(accounts=accounts))
    assert error.field == "accounts" and "twice" in error.problem


def test_accounts_are_asked_for_in_lower_case_as_tiktok_keeps_them():
    assert validate(spec(accounts=["@VRTNWS", "Hln_BE"]), CREDS, now=NOW).query.or_[0].field_values == [
        "vrtnws", "hln_be"]


@pytest.mark.parametrize("keywords", [["klimaat", " klimaat "], ["#Klimaat", "#klimaat"]])
def test_the_same_keyword_or_hashtag_twice_is_refused(keywords):
    assert refused(spec(keywords=keywords)).field == "keywords"


def test_the_same_region_twice_is_refused():
    assert refused(spec(regions=["BE", "be"])).field == "regions"


def test_a_word_and_a_hashtag_with_the_same_text_are_different_terms():
    assert validate(spec(keywords=["klimaat", "#klimaat", "Klimaat"]), CREDS, now=NOW)


@pytest.mark.parametrize("account", ["a", "@a", "x" * 31, "vrt-nws", "vrt nws", "émile", "@@vrtnws", "vrtnws\n"])
def test_accounts_follow_tiktoks_username_rules(account):
    assert refused(spec(accounts=[account])).field == "accounts"


@pytest.mark.parametrize("account", ["ab", "x" * 30, "vrt.nws", "_hln_be_", "User123"])
def test_usernames_tiktok_allows_are_accepted(account):
    assert validate(spec(accounts=[account]), CREDS, now=NOW)


@pytest.mark.parametrize("region", ["XX", "UK", "EU", "ZZ", "AA", "ß", "B E"])
def test_region_codes_that_are_not_assigned_are_refused(region):
    assert refused(spec(regions=[region])).field == "regions"


@pytest.mark.parametrize("region", ["BE", "nl", " US ", "SS", "XK"])
def test_assigned_region_codes_are_accepted_in_any_case(region):
    assert validate(spec(regions=[region]), CREDS, now=NOW)


def test_the_region_list_holds_every_assigned_iso_code_and_kosovo():
    assert len(REGION_CODES) == 250 and {"BE", "NL", "GB", "US", "XK"} <= REGION_CODES
    assert all(len(code) == 2 and code.isascii() and code.isupper() for code in REGION_CODES)


@pytest.mark.parametrize("field, values", [
    ("accounts", [f"user{i:03d}" for i in range(MAX_TERMS + 1)]),
    ("keywords", [f"word{i}" for i in range(MAX_TERMS + 1)]),
    ("keywords", [f"word{i}" for i in range(60)] + [f"#tag{i}" for i in range(41)]),
    ("regions", sorted(REGION_CODES)[:MAX_TERMS + 1]),
    ("collect", ["videos", "users", "videos"]),
])
def test_lists_longer_than_the_limits_are_refused(field, values):
    assert refused(spec(**{field: values})).field == field


def test_lists_at_the_limits_are_accepted():
    plan = validate(spec(accounts=[f"user{i:03d}" for i in range(MAX_TERMS)],
                         keywords=[f"word{i}" for i in range(MAX_TERMS)],
                         regions=sorted(REGION_CODES)[:MAX_TERMS]), CREDS, now=NOW)
    assert [len(c.field_values) for c in plan.query.or_] == [MAX_TERMS, MAX_TERMS]


@pytest.mark.parametrize("keyword", ["k" * (MAX_TERM_CHARS + 1), "#" + "h" * MAX_TERM_CHARS, "tab\there", "nul\x00"])
def test_a_keyword_too_long_or_with_control_characters_is_refused(keyword):
    assert refused(spec(keywords=[keyword])).field == "keywords"


def test_ten_thousand_keywords_are_refused_at_once():
    assert refused(spec(keywords=[f"w{i}" for i in range(10_000)])).field == "keywords"


def test_keywords_whose_query_is_too_large_to_send_are_refused():
    long_words = [f"{i:03d}" + "🌍" * 97 for i in range(MAX_TERMS)]  # 100 characters, 391 bytes each
    error = refused(spec(accounts=[f"user{i:03d}" for i in range(MAX_TERMS)], keywords=long_words))
    assert error.field == "keywords" and "bytes" in error.problem


# --- a power user's own query ----------------------------------------------------------------------


def test_a_query_using_every_documented_field_well_formed_is_accepted():
    query = query_spec(
        and_=[condition("create_date", "20240105", operation="GTE"), condition("region_code", "BE", "XK"),
              condition("video_length", "SHORT", "EXTRA_LONG"), condition("view_count", "1000", operation="GT")],
        or_=[condition("username", "vrtnws", "hln_be"), condition("keyword", "klimaat op tiktok"),
             condition("hashtag_name", "klimaatzaak"), condition("music_id", "7354321098765432123", operation="EQ"),
             condition("effect_id", "123"), condition("video_id", "7354321098765432100")],
        not_=[condition("comment_count", "5", operation="LT")],
    )
    assert validate(query, CREDS, now=NOW).query.or_[0].field_values == ["vrtnws", "hln_be"]


@pytest.mark.parametrize("lists", [
    {"not_": [condition("region_code", "US")]},
    {"and_": [], "or_": [], "not_": [condition("keyword", "x")]},
    {"or_": [condition("keyword")]},
    {"or_": [condition("keyword", "a", "b", operation="EQ")]},
    {"and_": [condition("create_date", "20240101", "20240102", operation="GT")]},
    {"or_": [condition("username", "alice", operation="GT")]},
    {"and_": [condition("create_date", "20240230")]},
    {"and_": [condition("create_date", "2024-01-01")]},
    {"and_": [condition("region_code", "XX")]},
    {"and_": [condition("region_code", "be")]},
    {"or_": [condition("username", "@alice")]},
    {"or_": [condition("hashtag_name", "#klimaat")]},
    {"or_": [condition("keyword", "  ")]},
    {"and_": [condition("video_length", "HUGE")]},
    {"and_": [condition("view_count", "-5", operation="GT")]},
    {"or_": [condition("video_id", "73543e21")]},
    {"or_": [condition("music_id", "1" * 21)]},
    {"or_": [condition("keyword", "a", "a")]},
    {"or_": [condition("keyword", "k" * (MAX_TERM_CHARS + 1))]},
    {"or_": [condition("keyword", *[f"w{i}" for i in range(MAX_TERMS + 1)])]},
    {"or_": [condition("keyword", f"w{i}") for i in range(MAX_CONDITIONS + 1)]},
    {"or_": [{"field_name": "keyword", "operation": "IN", "field_values": [5]}]},
    {"or_": [{"field_name": "keyword", "operation": "IN"}]},
])
def test_a_power_user_query_that_tiktok_would_refuse_or_that_asks_for_everything_is_refused(lists):
    assert refused(query_spec(**lists)).field == "query"


def test_a_power_user_query_too_large_to_send_is_refused():
    words = [[f"{j}-{i:03d}" + "q" * 90 for i in range(MAX_TERMS)] for j in range(4)]
    error = refused(query_spec(or_=[condition("keyword", *values) for values in words]))
    assert error.field == "query" and "bytes" in error.problem


# --- text that is not text ---------------------------------------------------------------------------


@pytest.mark.parametrize("data, field", [
    (spec(name="\ud800"), "name"),
    (spec(keywords=["ok", "\udfff"]), "keywords"),
    (query_spec(or_=[condition("keyword", "\ud83d")]), "query"),
    ({**spec(), "colour\ud800": 1}, "spec"),
    ({**spec(), 7: "seven"}, "spec"),
    ({**spec(), None: "none"}, "spec"),
    (spec(query={"and": [{("tuple",): 1}]}, accounts=None), "query"),
])
def test_strings_that_cannot_be_encoded_and_keys_that_are_not_strings_are_refused(data, field):
    assert refused(data).field == field


def test_what_a_refusal_repeats_from_the_spec_is_escaped_and_cut_short():
    error = refused({**spec(), "\x1b[2J" + "k" * 5000: 1})
    assert "\x1b" not in str(error) and len(str(error)) < 1000
    error = refused(spec(keywords=["#bad tag\x1b]0;pwned\x07"]))
    assert "\x1b" not in str(error) and "\x07" not in str(error)


def test_a_spec_that_is_not_a_mapping_is_refused():
    for data in ([1, 2], "text", None, 5):
        assert refused(data).field == "spec"
