"""The credentials file (core/credentials.py) read from hostile or careless TOML: every
problem is a CredentialsError naming the credential and the field, and never the secret. A
file that cannot be used is refused whole; a credential table wrong on its own is left out,
and the others load."""

import datetime as dt
import tomllib

import pytest
import structlog
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.credentials import (
    MAX_CREDENTIALS_BYTES,
    CredentialsError,
    CredentialStore,
    load_credentials,
    read_credentials,
)
from schemas.credentials import Credential

SECRET = "S3CRET-never-shown-5f1d"
KEY = "KEY-never-shown-a9c2"
FIELDS = {
    "project": '"climate"',
    "client_key": f'"{KEY}"',
    "client_secret": f'"{SECRET}"',
    "access_start": "2025-01-01",
    "access_end": "2026-12-31",
    "daily_requests": "1000",
    "daily_records": "100000",
}


def toml(name: str = "climate-key", /, **changes) -> str:
    fields = {**FIELDS, **changes}
    lines = [f"[credentials.{name}]"] + [f"{key} = {value}" for key, value in fields.items() if value is not None]
    return "\n".join(lines) + "\n"


def write(tmp_path, content: str | bytes):
    path = tmp_path / "credentials.toml"
    path.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8", "surrogatepass"))
    return path


def refusal(tmp_path, content) -> CredentialsError:
    """The error that refuses the whole file."""
    with pytest.raises(CredentialsError) as caught:
        load_credentials(write(tmp_path, content))
    message = str(caught.value)
    assert SECRET not in message and KEY not in message
    return caught.value


def left_out(tmp_path, content, name: str = "climate-key") -> CredentialsError:
    """Why the credential `name` was left out of a file that loads otherwise."""
    read = read_credentials(write(tmp_path, content))
    assert name not in read.usable and name not in load_credentials(write(tmp_path, content))
    error = read.refused[name]
    assert SECRET not in str(error) and KEY not in str(error)
    return error


def test_a_well_formed_file_loads_every_credential(tmp_path):
    loaded = load_credentials(write(tmp_path, toml() + toml("other", project='"elections"')))
    assert loaded["climate-key"] == Credential(project="climate", client_key=KEY, client_secret=SECRET,
                                               access_start=dt.date(2025, 1, 1), access_end=dt.date(2026, 12, 31))
    assert loaded["other"].project == "elections"


def test_the_daily_limits_default_to_tiktoks(tmp_path):
    loaded = load_credentials(write(tmp_path, toml(daily_requests=None, daily_records=None)))
    assert (loaded["climate-key"].daily_requests, loaded["climate-key"].daily_records) == (1000, 100_000)


@pytest.mark.parametrize("field, value", [
    ("project", "5"),
    ("project", '""'),
    ("client_key", '""'),
    ("client_secret", '""'),
    ("client_secret", "42"),
    ("client_secret", f'" {SECRET}"'),
    ("client_secret", f'"{SECRET}\\n"'),
    ("client_key", f'"{KEY}\\u0000"'),
    ("access_start", '"first of January"'),
    ("access_start", "2025-01-01T00:00:00Z"),
    ("access_start", "2025-01-01T08:00:00"),
    ("access_end", "12:00:00"),
    ("access_end", "2024-12-31"),  # before access_start
    ("access_end", "2027-02-01"),  # more than the two years TikTok grants
    ("daily_requests", "0"),
    ("daily_requests", "-5"),
    ("daily_requests", "true"),
    ("daily_requests", "1.5"),
    ("daily_records", "99999999999999999999999"),
    ("colour", '"blue"'),
])
def test_a_wrong_value_names_the_credential_and_the_field(tmp_path, field, value):
    error = left_out(tmp_path, toml(**{field: value}))
    assert (error.credential, error.field) == ("climate-key", field)
    assert "`climate-key`" in str(error) and f"`{field}`" in str(error)


@pytest.mark.parametrize("field", ["project", "client_key", "client_secret", "access_start", "access_end"])
def test_a_missing_field_names_the_credential_and_the_field(tmp_path, field):
    error = left_out(tmp_path, toml(**{field: None}))
    assert (error.credential, error.field) == ("climate-key", field)


@pytest.mark.parametrize("content", [
    b"[credentials.k]\nproject = \"caf\xe9\"\n",
    b"\xff\xfe[\x00c\x00",
])
def test_a_file_that_is_not_utf8_is_refused(tmp_path, content):
    assert "UTF-8" in str(refusal(tmp_path, content))


@pytest.mark.parametrize("content", [
    toml().replace("2026-12-31", "2026-02-30"),  # not a real day
    toml().replace(f'"{SECRET}"', f'"{SECRET}'),  # unclosed string
    toml() + "access_end = 2026-12-30\n",  # the same key twice
])
def test_malformed_toml_is_refused_with_where_it_went_wrong(tmp_path, content):
    message = str(refusal(tmp_path, content))
    assert "not valid TOML" in message and "line" in message and "`climate-key`" in message


@pytest.mark.parametrize("content", [
    "x = " + "[" * 5000 + "]" * 5000 + "\n",  # nesting past Python's recursion limit
    "n = " + "9" * 5000 + "\n",  # an integer too long for Python to read
])
def test_toml_that_python_cannot_read_is_refused(tmp_path, content):
    assert "not valid TOML" in str(refusal(tmp_path, content))


def test_malformed_toml_inside_a_credential_names_its_table(tmp_path):
    error = refusal(tmp_path, toml() + toml("broken").replace("2025-01-01", "2025-13-01"))
    assert error.credential == "broken" and "`broken`" in str(error)


@pytest.mark.parametrize("content, problem", [
    ("credentials = 5\n", "credentials"),
    ("[other]\nx = 1\n", "other"),
])
def test_a_file_not_shaped_as_credentials_tables_is_refused(tmp_path, content, problem):
    assert problem in str(refusal(tmp_path, content))


@pytest.mark.parametrize("content, name", [
    ("[credentials]\nname = 5\n", "name"),
    ('[credentials."\\u001b[2J"]\nproject = "x"\n', "\\x1b[2J"),
    (f'[credentials."{"n" * 101}"]\nproject = "x"\n', "n" * 101),
])
def test_a_credential_that_is_not_a_table_or_badly_named_is_left_out(tmp_path, content, name):
    error = left_out(tmp_path, toml("good") + content, name)
    assert error.field == "name" and "\x1b" not in str(error)
    assert list(read_credentials(write(tmp_path, toml("good") + content)).usable) == ["good"]


def test_one_malformed_credential_leaves_the_others_loaded(tmp_path):
    content = toml("first") + toml("broken", access_end="2024-12-31") + toml("last", project='"elections"')
    read = read_credentials(write(tmp_path, content))
    assert sorted(read.usable) == ["first", "last"]
    assert list(read.refused) == ["broken"] and read.refused["broken"].field == "access_end"


def test_a_credential_left_out_is_logged_by_name_and_field_without_its_values(tmp_path):
    path = write(tmp_path, toml() + toml("broken", daily_requests="0"))
    with structlog.testing.capture_logs() as lines:
        assert list(load_credentials(path)) == ["climate-key"]
    assert [(line["event"], line["log_level"], line["credential"], line["field"]) for line in lines] == [
        ("credential_left_out", "warning", "broken", "daily_requests")]
    assert SECRET not in repr(lines) and KEY not in repr(lines)


def test_the_store_says_what_is_wrong_with_a_credential_left_out(tmp_path):
    store = CredentialStore(write(tmp_path, toml() + toml("broken", client_secret='""')))
    assert store.get("climate-key").project == "climate"
    with pytest.raises(CredentialsError, match="`broken`, field `client_secret`: is empty"):
        store.get("broken")
    with pytest.raises(CredentialsError, match="`unknown` is not in"):
        store.get("unknown")


def test_a_file_larger_than_the_limit_is_refused(tmp_path):
    assert "KiB" in str(refusal(tmp_path, toml() + "#" * MAX_CREDENTIALS_BYTES))


def test_a_missing_file_or_a_directory_is_refused(tmp_path):
    with pytest.raises(CredentialsError, match="does not exist"):
        load_credentials(tmp_path / "missing.toml")
    with pytest.raises(CredentialsError, match="cannot be read"):
        load_credentials(tmp_path)


# --- fuzzing ---------------------------------------------------------------------------------------

TOML_VALUES = [
    '"climate"', '""', '" padded "', '"tab\\there"', '"\\u0007"', "1", "0", "-1", "1000", "10000000000",
    "99999999999999999999999", "1.5", "nan", "inf", "true", "2025-01-01", "2026-12-31", "2024-02-29", "2025-02-30",
    "2025-01-01T00:00:00", "2025-01-01T00:00:00Z", "12:00:00", "[1, 2]", "[]", "{a = 1}", '"unclosed', "[[[[",
    "[" * 2000 + "]" * 2000, "9" * 5000, "'literal'", '"""multi\nline"""', "0x1F", "1_000", "+1",
]
NAMES = ["climate-key", "k", '"a.b"', '"with space"', '"\\u001b[31m"', '""', "a.b"]
FIELD_KEYS = [*FIELDS, "colour", "client_secret"]


@st.composite
def credential_files(draw) -> str:
    tables = []
    for _ in range(draw(st.integers(0, 2))):
        name = draw(st.sampled_from(NAMES))
        fields = draw(st.dictionaries(st.sampled_from(FIELD_KEYS), st.sampled_from(TOML_VALUES), max_size=8))
        if draw(st.booleans()):
            fields = {**FIELDS, **fields}
        if draw(st.booleans()):
            fields["client_secret"] = f'"{SECRET}"'  # the secret is always there to leak
        tables.append(f"[credentials.{name}]\n" + "".join(f"{key} = {value}\n" for key, value in fields.items()))
    prefix = draw(st.sampled_from(["", "credentials = 5\n", "title = 'x'\n", "[credentials]\n"]))
    return prefix + "".join(tables)


def shape(text: str) -> dict | None:
    """The one credential table a file holds when it parses as TOML, else None."""
    try:
        data = tomllib.loads(text)
    except (tomllib.TOMLDecodeError, ValueError, RecursionError):
        return None
    tables = data.get("credentials") if set(data) == {"credentials"} else None
    if isinstance(tables, dict) and len(tables) == 1 and isinstance(next(iter(tables.values())), dict):
        return tables
    return None


@settings(max_examples=200, deadline=None, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(content=st.one_of(credential_files(), st.text(max_size=300), st.binary(max_size=300)))
def test_any_credentials_file_loads_or_is_refused_naming_the_credential_without_the_secret(tmp_path, content):
    path = write(tmp_path, content)
    try:
        read = read_credentials(path)
    except CredentialsError as error:
        message = str(error)
        assert SECRET not in message and KEY not in message and message.isprintable()
        assert shape(content if isinstance(content, str) else "") is None  # a well-shaped file is never refused
        return
    for name, why in read.refused.items():  # a credential table left out: the error is about it, and names a field
        message = str(why)
        assert SECRET not in message and KEY not in message and message.isprintable()
        assert why.field and f"`{why.field}`" in message and name not in read.usable
    for credential in read.usable.values():
        assert isinstance(credential, Credential)
        assert credential.access_start <= credential.access_end and credential.daily_requests >= 1
