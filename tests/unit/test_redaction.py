"""core/redaction.py: what `scrub` masks, the credentials it learns when a credentials
file is loaded, `mask_url`, and the command line's "Redis does not answer" error."""

import datetime as dt
import logging
from collections import namedtuple
from types import SimpleNamespace

import pytest
import structlog
from typer.testing import CliRunner

from core import config
from core.credentials import load_credentials, read_credentials
from core.redaction import MASK, mask_url, register_credentials, scrub, scrub_data

# Values no other test uses: the registry is process-wide.
SECRET = "rdx-Secret+with/odd chars=9f3a"
KEY = "rdx-client-key-4242"
TOKEN = "clt.rdx-token-0123456789abcdefXYZ"


@pytest.fixture(autouse=True, scope="module")
def registered():
    register_credentials([SimpleNamespace(client_key=KEY, client_secret=SECRET)])


# --- scrub ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("text", [
    f"upstream said {SECRET}!",
    f"client_key={KEY}&client_secret=rdx-Secret%2Bwith%2Fodd+chars%3D9f3a&grant_type=client_credentials",
    f"{{'client_secret': {SECRET!r}}}",
    f'{{"key": "{KEY}"}}',
])
def test_registered_client_secrets_and_keys_are_masked_as_is_url_encoded_and_quoted(text):
    scrubbed = scrub(text)
    assert SECRET not in scrubbed and KEY not in scrubbed
    assert "rdx-Secret" not in scrubbed and "9f3a" not in scrubbed
    assert MASK in scrubbed


@pytest.mark.parametrize("text", [
    f"token {TOKEN} expired",
    f'{{"access_token": "{TOKEN}", "expires_in": 7200}}',
    f"Illegal header value b'Bearer {TOKEN}\\r\\nX-Injected: 1'",
    f"Authorization: Bearer {TOKEN} sent",
    f"{{'Authorization': 'Bearer {TOKEN}'}}",
    f"(b'authorization', b'Bearer {TOKEN}')",
])
def test_anything_shaped_like_an_access_token_or_a_bearer_value_is_masked(text):
    scrubbed = scrub(text)
    assert "rdx-token" not in scrubbed and "X-Injected" not in scrubbed
    assert MASK in scrubbed


def test_a_bearer_value_is_masked_even_when_it_is_not_a_tiktok_token():
    assert scrub("Illegal header value b'Bearer opaque\\r\\nvalue'") == f"Illegal header value b'Bearer {MASK}'"
    assert scrub("client_secret=unregistered-value&x=1") == f"client_secret={MASK}&x=1"


def test_credentials_in_urls_inside_a_text_are_masked():
    assert (scrub("cannot reach redis://:hunter2@redis.test:6379/0 now")
            == f"cannot reach redis://{MASK}@redis.test:6379/0 now")


@pytest.mark.parametrize("text", [
    "Invalid field: bogus http=400 code=invalid_params log_id=20240601123456ABCDEF",
    "access token rejected http=401 code=access_token_invalid",
    '{"token_type": "Bearer", "expires_in": 7200}',
    "waiting for quota (day_spent) for 3600s",
    "redis://127.0.0.1:6379/0",
])
def test_text_without_secrets_is_left_as_it_is(text):
    assert scrub(text) == text


def test_scrubbing_twice_changes_nothing_more():
    text = f"Bearer {TOKEN} {SECRET} redis://u:p@h/0 client_secret=x Authorization: y"
    assert scrub(scrub(text)) == scrub(text)


def test_structured_data_is_scrubbed_through_dicts_lists_and_tuples_and_other_values_kept():
    data = {"traceback": f"boom {TOKEN}", SECRET: [1, (f"x {SECRET}", None)], "retries": 3}
    assert scrub_data(data) == {"traceback": f"boom {MASK}", MASK: [1, (f"x {MASK}", None)], "retries": 3}


def test_a_named_tuple_is_scrubbed_into_a_plain_one():
    Pair = namedtuple("Pair", "left right")
    assert scrub_data(Pair(f"x {TOKEN}", 2)) == (f"x {MASK}", 2)


def test_registering_never_fails_whatever_a_value_holds():
    register_credentials([SimpleNamespace(client_key="\ud800rdx-surrogate-key",
                                          client_secret="rdx-\u00e9\u0000-secret")])
    assert scrub("got rdx-\u00e9\u0000-secret and rdx-%C3%A9%00-secret") == f"got {MASK} and {MASK}"


# --- registration when credentials are loaded ------------------------------------------------------


def _credentials_file(path, secret: str, key: str = "rdx-loaded-key-0001", access_end: dt.date = dt.date(2026, 1, 1)):
    path.write_text(
        "[credentials.rdx]\n"
        'project = "climate"\n'
        f'client_key = "{key}"\n'
        f'client_secret = "{secret}"\n'
        f"access_start = 2025-01-01\n"
        f"access_end = {access_end}\n"
    )
    return path


def test_loading_a_credentials_file_registers_its_secret_and_key(tmp_path):
    secret = "rdx-loaded-secret-7e1d0c"
    load_credentials(_credentials_file(tmp_path / "c.toml", secret))
    assert scrub(f"echo {secret} rdx-loaded-key-0001") == f"echo {MASK} {MASK}"


def test_a_credential_left_out_still_registers_its_secret(tmp_path):
    secret = "rdx-refused-secret-55aa"
    read = read_credentials(_credentials_file(tmp_path / "c.toml", secret, access_end=dt.date(2024, 1, 1)))
    assert not read.usable and secret not in str(read.refused["rdx"])
    assert scrub(secret) == MASK


def test_a_credential_left_out_before_its_types_are_checked_still_registers_its_secret(tmp_path):
    secret = "rdx-untyped-secret-93bd"
    path = _credentials_file(tmp_path / "c.toml", secret)
    path.write_text(path.read_text() + "daily_requests = true\n")
    assert read_credentials(path).refused["rdx"].field == "daily_requests"
    assert scrub(secret) == MASK


def test_an_empty_secret_masks_nothing():
    register_credentials([SimpleNamespace(client_key="", client_secret="")])
    assert scrub("nothing secret here") == "nothing secret here"


def test_values_too_short_to_mask_without_garbling_ordinary_text_are_not_registered():
    register_credentials([SimpleNamespace(client_key="rdxkey", client_secret="rdxsec")])
    assert scrub("rdxkey rdxsec") == "rdxkey rdxsec"
    assert scrub("client_key=rdxkey&client_secret=rdxsec") == f"client_key={MASK}&client_secret={MASK}"


# --- URLs ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("url, masked", [
    ("redis://:hunter2@redis.test:6379/0", f"redis://{MASK}@redis.test:6379/0"),
    ("redis://harvest:hunter2@redis.test", f"redis://{MASK}@redis.test"),
    ("rediss://harvest:hunter2@redis.test:6380/2", f"rediss://{MASK}@redis.test:6380/2"),
    ("redis://hunter2@redis.test:6379", f"redis://{MASK}@redis.test:6379"),
    ("redis://redis.test:6379/0?password=hunter2&db=1", f"redis://redis.test:6379/0?password={MASK}&db=1"),
    ("redis://redis.test/0?username=harvest&password=hunter2",
     f"redis://redis.test/0?username={MASK}&password={MASK}"),
    ("unix:///run/redis.sock?db=0&password=hunter2", f"unix:///run/redis.sock?db=0&password={MASK}"),
    ("redis://:hun@ter2@redis.test:6379/0", f"redis://{MASK}@redis.test:6379/0"),
    ("redis://:hun/ter2@redis.test:6379/0", f"redis://{MASK}@redis.test:6379/0"),
])
def test_mask_url_hides_user_info_and_password_parameters(url, masked):
    assert mask_url(url) == masked
    assert "hunter2" not in mask_url(url) and "hun" not in mask_url(url)


@pytest.mark.parametrize("url", [
    "redis://127.0.0.1:6379/0", "rediss://redis.test:6380/3", "redis://[::1]:6379/0",
    "https://open.tiktokapis.com", "http://127.0.0.1:8901",
])
def test_mask_url_keeps_an_address_without_credentials_as_it_is(url):
    assert mask_url(url) == url


@pytest.fixture
def restore_logging(monkeypatch):
    """The command configures logging for the whole process: put it back afterwards."""
    root = logging.getLogger()
    saved = [(handler, handler.formatter) for handler in root.handlers], root.level
    yield
    for handler, formatter in saved[0]:
        handler.setFormatter(formatter)
    root.setLevel(saved[1])
    structlog.reset_defaults()


def test_status_names_the_redis_that_does_not_answer_without_its_password(monkeypatch, restore_logging):
    from harvest_cli.main import app

    monkeypatch.setattr(config, "_current", None)  # settings from this environment
    monkeypatch.setenv("REDIS_URL", "redis://:hunter2@127.0.0.1:1/0")
    result = CliRunner().invoke(app, ["status"])
    said = result.output + (getattr(result, "stderr", "") or "")
    assert result.exit_code == 1
    assert f"Redis at redis://{MASK}@127.0.0.1:1/0 does not answer (ConnectionError)" in said
    assert "hunter2" not in said


def test_the_mask_survives_rich_markup():
    # The command line prints through rich, which drops anything that parses as a markup tag.
    from rich.console import Console

    console = Console(record=True, width=200)
    console.print(f"Redis at {mask_url('redis://:pw@h:1/0')}")
    assert MASK in console.export_text()
