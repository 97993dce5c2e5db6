"""Hostile spec files, fuzzed specs and the command line: whatever arrives, a plan or a
refusal naming a field, and from `tiktok-harvest submit` exit 2 before Redis is contacted."""

import datetime as dt
import json

import pytest
import yaml
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

import core.config
from core.credentials import load_credentials
from producers.query_rules import ORDERED_FIELDS
from producers.region_codes import REGION_CODES
from producers.spec import EARLIEST_DAY, SpecRefused, read_spec_file, validate
from producers.spec_input import MAX_SPEC_BYTES
from tests.unit.spec_helpers import CREDS, FUZZ, NOW, planned_or_refused, spec

# --- the file ----------------------------------------------------------------------------------------


def write(tmp_path, name: str, content: bytes | str):
    path = tmp_path / name
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    return path


def refused_file(path) -> SpecRefused:
    with pytest.raises(SpecRefused) as caught:
        validate(read_spec_file(path), CREDS, now=NOW)
    assert f"`{caught.value.field}`" in str(caught.value)
    return caught.value


@pytest.mark.parametrize("content", [b"id: caf\xe9\n", b"\xff\xfe{}", "id: x\n".encode("utf-16")])
def test_a_spec_file_that_is_not_utf8_is_refused(tmp_path, content):
    assert refused_file(write(tmp_path, "spec.yaml", content)).field == "file"


def test_a_utf8_file_with_a_byte_order_mark_is_read(tmp_path):
    path = write(tmp_path, "spec.json", b"\xef\xbb\xbf" + json.dumps(spec()).encode())
    assert validate(read_spec_file(path), CREDS, now=NOW).id == "tiktok_query_0001"


@pytest.mark.parametrize("name, content", [
    ("spec.json", '{"id": ' + "[" * 100_000 + "]" * 100_000 + "}"),
    ("spec.yaml", "id: " + "[" * 50_000 + "]" * 50_000),
    ("spec.yaml", "id:\n" + "".join(" " * i + "- \n" for i in range(2_000))),
])
def test_deeply_nested_documents_are_refused(tmp_path, name, content):
    assert refused_file(write(tmp_path, name, content)).field == "file"


def test_a_file_larger_than_the_limit_is_refused_before_it_is_parsed(tmp_path):
    path = write(tmp_path, "spec.yaml", "id: x\nname: " + "n" * MAX_SPEC_BYTES + "\n")
    error = refused_file(path)
    assert error.field == "file" and "KiB" in error.problem


BILLION_LAUGHS = "\n".join(
    ['id: lol', 'project: climate', 'period: 20240101-20240131', 'a: &a ["lol","lol","lol","lol","lol","lol","lol"]']
    + [f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join([f'*{chr(97 + i)}'] * 7)}]" for i in range(8)]
    + ["keywords: *i"]
)


@pytest.mark.parametrize("content", [
    BILLION_LAUGHS,
    "id: &x tiktok_query_0001\nname: *x\nproject: climate\nperiod: 20240101-20240131\naccounts: [alice]\n",
    "base: &b {project: climate}\nspec:\n  <<: *b\n",
])
def test_yaml_anchors_and_aliases_are_refused_before_anything_is_expanded(tmp_path, content):
    error = refused_file(write(tmp_path, "spec.yaml", content))
    assert error.field == "file" and "alias" in error.problem


@pytest.mark.parametrize("content", [
    "period: 2024-13-45\n", "id: " + "9" * 5000 + "\n", "period: !!binary '@@@'\n", "a: !!python/object:os.system x\n",
    "? [a, b]\n: c\n", "id: x\n---\nid: y\n", "id: 'unclosed\n", "\x00", "period: !!timestamp nonsense\n",
])
def test_yaml_that_pyyaml_cannot_construct_is_refused(tmp_path, content):
    assert refused_file(write(tmp_path, "spec.yaml", content)).field in {"file", "period", "id", "spec"}


@pytest.mark.parametrize("content", ['{"id": ' + "9" * 5000 + "}", '{"id": "x", "id": NaN}', "[", '"\\ud800"'])
def test_json_that_python_cannot_read_is_refused(tmp_path, content):
    assert refused_file(write(tmp_path, "spec.json", content)).field in {"file", "id", "spec"}


def test_a_directory_or_a_missing_file_is_refused(tmp_path):
    assert refused_file(tmp_path).field == "file"
    assert refused_file(tmp_path / "missing.yaml").field == "file"


# --- fuzzing: whatever arrives, a plan or a refusal naming a field -----------------------------------

FIELD_NAMES = ["create_date", "username", "region_code", "video_id", "hashtag_name", "keyword", "music_id",
               "effect_id", "video_length", "view_count", "comment_count"]
OPERATIONS = ["EQ", "IN", "GT", "GTE", "LT", "LTE"]


def mostly(likely, odd):
    """Nine in ten values from `likely`, the rest from `odd`: a spec gets past its first
    fields often enough for the rules further on to be reached too."""
    return st.integers(0, 9).flatmap(lambda n: odd if n == 0 else likely)


def yyyymmdd(day: dt.date) -> str:
    return day.strftime("%Y%m%d").zfill(8)


scalars = (st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20)
           | st.dates() | st.binary(max_size=8))
printable = st.text(alphabet=st.characters(blacklist_categories=("Cc", "Cs")), min_size=1, max_size=30)
anything = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4)
                        | st.dictionaries(st.text(max_size=8) | st.integers(), inner, max_size=4), max_leaves=20)
any_days = st.dates(min_value=dt.date(1, 1, 1)).map(yyyymmdd)
real_days = st.dates(min_value=EARLIEST_DAY, max_value=dt.date(2025, 6, 15))
closed_periods = st.tuples(real_days, real_days).map(lambda pair: "-".join(yyyymmdd(day) for day in sorted(pair)))
periods = mostly(st.one_of(closed_periods, real_days.map(lambda day: f"{yyyymmdd(day)}-ongoing")),
                 st.one_of(st.tuples(any_days, any_days).map("-".join), st.text(max_size=20), anything))
ids = mostly(st.from_regex(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,30}", fullmatch=True),
             st.one_of(st.text(max_size=12), anything))
projects = mostly(st.just("climate"), st.one_of(st.text(max_size=12), anything))
names = mostly(printable, st.one_of(st.text(max_size=30), anything))
usernames = mostly(st.from_regex(r"@?[A-Za-z0-9_.]{2,30}", fullmatch=True),
                   st.one_of(st.sampled_from(["@", "", "a", "vrt nws", "ALICE", "alice"]), st.text(max_size=40)))
keywords = mostly(st.from_regex(r"#?[A-Za-z0-9_]{1,20}( [a-z]{1,8})?", fullmatch=True),
                  st.one_of(st.sampled_from(["#", "##x", " ", "# x"]), st.text(max_size=120),
                            st.text(max_size=30).map(lambda text: "#" + text)))
regions = mostly(st.sampled_from(sorted(REGION_CODES)), st.text(max_size=3))
collects = mostly(st.sampled_from([["videos"], ["videos", "users"], ["users", "videos"]]),
                  st.one_of(st.lists(st.sampled_from(["videos", "users", "comments"]), max_size=3), anything))
GOOD_VALUES = {
    "create_date": real_days.map(yyyymmdd), "username": st.from_regex(r"[a-z0-9_.]{2,30}", fullmatch=True),
    "region_code": st.sampled_from(sorted(REGION_CODES)), "video_length": st.sampled_from(["SHORT", "MID", "LONG"]),
    "hashtag_name": st.from_regex(r"[A-Za-z0-9_]{1,30}", fullmatch=True), "keyword": printable,
    **{name: st.from_regex(r"[0-9]{1,20}", fullmatch=True)
       for name in ("video_id", "music_id", "effect_id", "view_count", "comment_count")},
}


def good_condition(field_name: str):
    return st.one_of(
        st.lists(GOOD_VALUES[field_name], min_size=1, max_size=3).map(
            lambda values: {"field_name": field_name, "operation": "IN", "field_values": values}),
        st.tuples(st.sampled_from(["EQ", "GT", "LTE"] if field_name in ORDERED_FIELDS else ["EQ"]),
                  GOOD_VALUES[field_name]).map(
            lambda pair: {"field_name": field_name, "operation": pair[0], "field_values": [pair[1]]}))


odd_values = st.one_of(st.text(max_size=12), st.from_regex(r"[0-9]{1,22}", fullmatch=True), any_days,
                       st.sampled_from(["SHORT", "HUGE", "BE", "XX", "be", "@alice", "#tag"]), anything)
odd_conditions = st.one_of(st.fixed_dictionaries({
    "field_name": st.sampled_from([*FIELD_NAMES, "colour", ""]), "operation": st.sampled_from([*OPERATIONS, "LIKE"]),
    "field_values": st.lists(odd_values, max_size=4)}), anything)
conditions = mostly(st.sampled_from(FIELD_NAMES).flatmap(good_condition), odd_conditions)
queries = mostly(st.fixed_dictionaries({"or": st.lists(conditions, min_size=1, max_size=3)},
                                       optional={"and": st.lists(conditions, max_size=3),
                                                 "not": st.lists(conditions, max_size=2)}),
                 st.one_of(st.fixed_dictionaries({}, optional={key: st.lists(conditions, max_size=3)
                                                               for key in ("and", "or", "not")}), anything))
term_specs = st.fixed_dictionaries(
    {"id": ids, "project": projects, "period": periods, "keywords": st.lists(keywords, max_size=5)},
    optional={"name": names, "accounts": st.lists(usernames, max_size=5), "regions": st.lists(regions, max_size=4),
              "collect": collects, "refresh_every_days": st.one_of(st.integers(-1, 20), anything)},
)
query_specs = st.fixed_dictionaries({"id": ids, "project": projects, "period": periods, "query": queries},
                                    optional={"name": names, "collect": collects})
SPEC_KEYS = ["id", "project", "period", "name", "accounts", "keywords", "regions", "query", "collect", "colour"]
one_field_odd = st.tuples(term_specs | query_specs, st.sampled_from(SPEC_KEYS), anything).map(
    lambda found: {**found[0], found[1]: found[2]})
specs = st.one_of(term_specs, query_specs, one_field_odd)


@FUZZ
@given(data=st.one_of(specs, anything))
def test_any_plain_data_gives_a_plan_or_a_refusal_naming_a_field(data):
    planned_or_refused(data)


@FUZZ
@given(data=st.one_of(term_specs, query_specs))
def test_any_spec_with_terms_or_a_query_gives_a_plan_or_a_refusal_naming_a_field(data):
    planned_or_refused(data)


YAML_PIECES = [
    "id: tiktok_query_0001", "project: climate", "period: 20240101-20240131", "accounts: [alice, '@bob_2']",
    "keywords: [klimaat, '#klimaat']", "regions: [BE, nl]", "collect: [videos]", "id: &a x", "name: *a",
    "<<: *a", "period: 2024-13-45", "period: 20240101", "period: !!binary aGVsbG8=", "keywords: !!set {a, b}",
    "id: " + "9" * 4400, "? [a]\n: b", "query: {not: [{field_name: region_code, operation: IN, field_values: [US]}]}",
    "query: {or: [{field_name: keyword, operation: IN, field_values: []}]}", "name: \"\\ud800\"", "name: \"\\x1b[2J\"",
    "accounts: " + "[" * 40 + "]" * 40, "---", "...", "%YAML 1.1", "regions: [XX]", "  bad indent: [", "\t",
    "colour: red",
]


def as_yaml(data) -> str:
    try:
        return yaml.safe_dump(data, allow_unicode=True)
    except yaml.YAMLError:  # a value YAML cannot represent: the spec is bad anyway
        return "id: x"


yaml_texts = st.one_of(st.lists(st.sampled_from(YAML_PIECES), max_size=8).map("\n".join), st.text(max_size=200),
                       specs.map(as_yaml))
json_texts = st.one_of(st.text(max_size=200), specs.map(lambda data: json.dumps(data, default=str)))


@FUZZ
@given(name=st.sampled_from(["spec.yaml", "spec.json"]),
       content=st.one_of(yaml_texts.map(lambda text: text.encode("utf-8", "surrogatepass")),
                         json_texts.map(lambda text: text.encode("utf-8", "surrogatepass")),
                         st.binary(max_size=300)))
def test_any_spec_file_gives_a_plan_or_a_refusal_naming_a_field(tmp_path, name, content):
    path = write(tmp_path, name, content)
    try:
        data = read_spec_file(path)
    except SpecRefused as refusal:
        assert refusal.field == "file" and "`file`" in str(refusal) and str(refusal).isprintable()
        return
    planned_or_refused(data)


# --- the command line: refused before Redis, exit 2 ------------------------------------------------

UNREACHABLE_REDIS = "redis://127.0.0.1:1/0"  # nothing listens on port 1: a connection attempt would fail


@pytest.fixture
def cli(tmp_path, monkeypatch):
    """Runs `tiktok-harvest submit` in this process against a credentials file valid today, with
    Redis unreachable and every connection attempt recorded."""
    import harvest_cli.common
    import harvest_cli.main

    today = dt.datetime.now(dt.UTC).date()
    credentials = tmp_path / "credentials.toml"
    credentials.write_text(f'[credentials.climate-key]\nproject = "climate"\nclient_key = "k"\n'
                           f'client_secret = "S3CRET-cli"\naccess_start = {today - dt.timedelta(days=30)}\n'
                           f"access_end = {today + dt.timedelta(days=600)}\n")
    connections = []

    def connect(settings):
        connections.append(settings.redis_url)
        raise AssertionError("submit connected to Redis")

    monkeypatch.setattr(harvest_cli.main, "connect", connect)
    monkeypatch.setattr(harvest_cli.common, "configure_logging", lambda *args, **kwargs: None)
    monkeypatch.setattr(core.config, "_current", None)  # the command's settings stay in this test
    env = {"REDIS_URL": UNREACHABLE_REDIS, "HARVEST_CREDENTIALS_FILE": str(credentials)}

    def run(path):
        result = CliRunner().invoke(harvest_cli.main.app, ["submit", str(path)], env=env)
        return result, connections

    run.credentials_file = credentials  # type: ignore[attr-defined]  # read by a test: the file the command uses
    return run


def test_a_valid_spec_reaches_the_point_of_connecting_to_redis(cli, tmp_path):
    result, connections = cli(write(tmp_path, "spec.json", json.dumps(spec())))
    assert connections == [UNREACHABLE_REDIS]  # the recording works: an accepted spec does connect


@pytest.mark.parametrize("content", [
    b"\xff\xfe not utf-8", "id: " + "[" * 50_000, BILLION_LAUGHS, json.dumps(spec(period="00010101-00010131")),
    json.dumps(spec(period="21000101-21000131")), json.dumps(spec(**{"[/bold]": 1})),
])
def test_an_invalid_spec_exits_2_naming_the_field_and_never_connects(cli, tmp_path, content):
    result, connections = cli(write(tmp_path, "spec.json" if content[:1] in ("{", b"{") else "spec.yaml", content))
    assert result.exit_code == 2, (result.stdout, result.stderr, result.exception)
    assert "spec refused: field `" in result.stderr and result.stdout == ""
    assert "Traceback" not in result.stderr and connections == []


def test_markup_in_a_refused_spec_is_printed_as_written(cli, tmp_path):
    result, _ = cli(write(tmp_path, "spec.json", json.dumps(spec(**{"[red]colour[/red]": 1}))))
    assert result.exit_code == 2 and "[red]colour[/red]" in result.stderr


@settings(max_examples=40, deadline=None, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(content=st.one_of(st.lists(st.sampled_from(YAML_PIECES), min_size=1, max_size=6).map("\n".join),
                         st.binary(max_size=100)))
def test_generated_bad_files_exit_2_from_the_command_line_and_never_connect(cli, tmp_path, content):
    path = write(tmp_path, "spec.yaml", content)
    try:
        validate(read_spec_file(path), load_credentials(cli.credentials_file))  # as the command sees it
    except SpecRefused:
        pass
    else:
        assume(False)  # an acceptable spec is not what this test is about
    result, connections = cli(path)
    assert result.exit_code == 2, (result.stdout, result.stderr, result.exception)
    assert "spec refused: field `" in result.stderr and connections == []
