"""Usernames as keys (workers/usernames.py): one normalised form, file names that are one per
account and always valid on Linux, and record @ids that lead back to the name."""

import os
from fnmatch import fnmatch

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from schemas.messages import UserTask
from schemas.usernames import (
    BLANK,
    could_exist,
    escape,
    escape_within,
    normalise,
    shown,
    unescape,
)
from tests.unit.record_helpers import PLAN
from workers.records import person_id, person_ref, username_of
from workers.storage import NAME_MAX, Storage

# Any text, lone surrogates included (they cannot come out of a JSON decoder, but the
# functions must not break on them either).
ANY_TEXT = st.text(st.one_of(st.characters(), st.characters(codec=None, categories=["Cs"])))
# Characters that make names collide if anything is off: escape look-alikes, case and
# composition pairs, the blank and control characters, path characters.
TRICKY = ["a", "A", "é", "e", "\u0301", "😀", "\u1f60", "0", "1", "f", "6", "F", "%", "~", "@", " ",
          "\x00", "\x1f", "/", ".", "_", "-", "K", "\u212a", "H", "\u0331", "ß", "İ"]
TRICKY_NAMES = st.one_of(
    st.text(st.sampled_from(TRICKY), max_size=8),
    st.text(st.sampled_from(TRICKY), min_size=40, max_size=90),  # long enough to be shortened
)


# --- the normalised form ---------------------------------------------------------------------


@pytest.mark.parametrize("raw", ["alice", "@alice", " alice ", "@@ alice\n", "Alice", "ALICE", "@Alice\t"])
def test_spellings_of_one_account_normalise_to_one_name(raw):
    assert normalise(raw) == "alice"


def test_normalising_composes_unicode_but_leaves_the_case_of_other_letters():
    assert normalise("Jose\u0301") == "josé"
    assert normalise("\u212a") == "k"  # the Kelvin sign is a K once composed, then lower-cased
    assert normalise("H\u0331") == "\u1e96"  # lower-cased, h and the macron below compose
    assert normalise("Élan") == "Élan" and normalise("ß") == "ß" and normalise("İ") == "İ"


@pytest.mark.parametrize("raw", ["", "@", " ", "@@", " @ @ ", "\t\n"])
def test_a_name_with_nothing_left_normalises_to_the_blank_name(raw):
    assert normalise(raw) == BLANK == "@"


def test_a_name_with_nul_is_not_the_name_without_it():
    assert normalise("a\x00b") == "a\x00b" != normalise("ab")
    assert normalise("\x00") == "\x00"


@settings(max_examples=500, deadline=None)
@given(st.one_of(ANY_TEXT, TRICKY_NAMES))
def test_normalising_twice_changes_nothing(raw):
    name = normalise(raw)
    assert normalise(name) == name
    assert name == BLANK or not (name[0].isspace() or name[0] == "@" or name[-1].isspace())


def test_a_user_task_is_keyed_on_the_normalised_name():
    assert UserTask("h", "@Alice ").unit == UserTask("h", "alice").unit == "user:alice"
    assert UserTask("h", "a\x00b").unit != UserTask("h", "ab").unit


# --- which names are asked about -----------------------------------------------------------


@pytest.mark.parametrize("raw", ["@", " ", "a\x00b", "\x00", "line\nbreak", "bell\x07", "\ud800"])
def test_blank_names_and_names_with_control_characters_or_lone_surrogates_could_not_be_accounts(raw):
    assert not could_exist(normalise(raw))


@pytest.mark.parametrize("raw", ["alice", "kiesraad_be", "vrt.nws", "é" * 60, "😀", "../evil", "with space"])
def test_odd_but_printable_names_are_still_asked_about(raw):
    assert could_exist(normalise(raw))


# --- the escaped spelling --------------------------------------------------------------------


def test_ordinary_tiktok_names_read_as_they_are():
    for name in ("kiesraad_be", "vrt.nws", "user.name_01"):
        assert escape(name) == name
        assert Storage.user_name(name) == f"tiktok_user_{name}.json"
        assert person_id(name) == f"iCANDID_tiktok_user_{name}"
    assert Storage.user_name("@Kiesraad_BE") == "tiktok_user_kiesraad_be.json"


def test_everything_else_is_escaped_as_utf8_bytes():
    assert escape("é") == "%C3%A9"
    assert escape("😀") == "%F0%9F%98%80"
    assert escape("%~/ \x00") == "%25%7E%2F%20%00"


@settings(max_examples=500, deadline=None)
@given(st.one_of(ANY_TEXT, TRICKY_NAMES))
def test_escaping_is_reversible_so_two_names_never_share_a_spelling(name):
    spelled = escape(name)
    assert unescape(spelled) == name
    assert spelled.isascii() and not {"/", "\x00", " ", "~"} & set(spelled)


@pytest.mark.parametrize("text", ["%e9", "%", "%C3", "a~b", "a/b", "%2", "%ZZ", "é"])
def test_unescaping_refuses_what_escaping_never_writes(text):
    assert unescape(text) is None


# --- file names ------------------------------------------------------------------------------


def test_an_emoji_and_the_text_its_escape_looks_like_get_two_files():
    names = ["😀", "\u1f600", "%1f600", "%F0%9F%98%80"]  # the second is ὠ followed by 0
    files = {Storage.user_name(name) for name in names}
    assert len(files) == len(names)
    assert Storage.user_name("😀") == "tiktok_user_%F0%9F%98%80.json"


def test_a_name_too_long_for_a_file_gets_a_readable_prefix_and_a_digest():
    long = "é" * 60
    name = Storage.user_name(long)
    assert len(name) <= NAME_MAX and len(Storage.temporary_name(name)) <= NAME_MAX
    stem = name.removeprefix("tiktok_user_").removesuffix(".json")
    prefix, digest = stem.split("~")
    assert prefix == "%C3%A9" * (len(prefix) // 6) and len(prefix) > 100
    assert len(digest) == 32
    # Two long names that differ only past the prefix still get two files.
    assert Storage.user_name(long + "x") != name
    assert Storage.user_name("é" * 61) != name


def test_a_name_that_just_fits_is_not_shortened():
    limit = 200
    exactly = "a" * limit
    assert escape_within(exactly, limit) == exactly
    assert "~" in escape_within(exactly + "a", limit)


def test_a_limit_with_no_room_for_the_digest_is_refused():
    with pytest.raises(ValueError):
        escape_within("a" * 50, 10)


@settings(max_examples=500, deadline=None)
@given(st.one_of(ANY_TEXT, TRICKY_NAMES, st.text(min_size=100, max_size=400)))
def test_every_username_gets_a_valid_linux_file_name(raw):
    name = Storage.user_name(raw)
    for candidate in (name, Storage.temporary_name(name)):
        assert len(os.fsencode(candidate)) <= NAME_MAX
        assert "/" not in candidate and "\x00" not in candidate
    assert not name.startswith(".")  # never taken for a temporary file
    assert fnmatch(name, Storage.USER_FILES) and not fnmatch(name, Storage.PAGE_FILES)
    assert name == Storage.user_name(normalise(raw))


@settings(max_examples=500, deadline=None)
@given(st.lists(TRICKY_NAMES, max_size=30))
def test_different_usernames_never_share_a_file_name(raws):
    accounts_by_file: dict[str, set[str]] = {}
    for raw in raws:
        accounts_by_file.setdefault(Storage.user_name(raw), set()).add(normalise(raw))
    assert all(len(accounts) == 1 for accounts in accounts_by_file.values())


@settings(max_examples=200, deadline=None)
@given(st.text(st.sampled_from(TRICKY), min_size=200, max_size=260),
       st.lists(ANY_TEXT, min_size=2, max_size=6, unique=True))
def test_long_names_that_start_alike_never_share_a_file_name(start, endings):
    accounts = {normalise(f"x{start}{ending}") for ending in endings}  # all long enough to be shortened
    assert len({Storage.user_name(account) for account in accounts}) == len(accounts)


def test_a_long_name_can_be_written_and_read_back(tmp_path):
    name = Storage.user_name("é" * 60)
    storage = Storage(tmp_path, fsync=False)
    path = storage.write_records(PLAN, name, b"[]")
    assert path.read_bytes() == b"[]" and os.listdir(storage.records_dir(PLAN)) == [name]


# --- record ids ------------------------------------------------------------------------------


@settings(max_examples=500, deadline=None)
@given(st.one_of(ANY_TEXT, TRICKY_NAMES))
def test_a_person_id_leads_back_to_the_normalised_name(raw):
    ref = person_ref(raw)
    assert ref.id == person_id(raw)
    assert username_of(ref.id) == normalise(raw)
    assert "\x00" not in ref.id and "\x00" not in ref.alternateName and ref.alternateName
    assert b"\\u0000" not in msgspec.json.encode(ref)  # any name makes a writable reference


def test_a_person_id_not_made_from_a_username_leads_nowhere():
    assert username_of("iCANDID_tiktok_1234") is None
    assert username_of("iCANDID_tiktok_user_%e9") is None


def test_names_no_account_can_have_are_shown_escaped_and_link_nowhere():
    assert shown("a\x00b") == "a%00b" and shown(BLANK) == "@" and shown("josé") == "josé"
    assert person_ref("a\x00b").url is None and person_ref("@").url is None
    assert person_ref("../evil").url == "https://www.tiktok.com/@..%2Fevil"
    assert person_ref("@Alice").url == "https://www.tiktok.com/@alice"
