"""Reads the credentials file (TOML). Secrets stay in the returned objects, whose repr hides
them; an error names the file, the credential and the field, never a value from the file.

A file that cannot be read, parsed or is not shaped as credential tables is refused as a
whole. A credential table that is wrong on its own (a missing field, an end before the start)
is left out and reported by name: the other projects' keys go on working."""

import datetime as dt
import re
import tomllib
from pathlib import Path
from types import SimpleNamespace
from typing import NamedTuple

import msgspec
import structlog

from core import redaction
from schemas.credentials import Credential

log = structlog.get_logger(__name__)

MAX_CREDENTIALS_BYTES = 1024 * 1024  # a credential takes about 250 bytes
MAX_NAME_CHARS = 100  # a credential's name ends up in Redis keys, metrics and logs

_FIELD_IN_ERROR = re.compile(r"at `\$\.([A-Za-z_]+)|unknown field `([^`]+)`|missing required field `([^`]+)`")
_LINE_IN_ERROR = re.compile(r"at line (\d+)")
_TABLE_LINE = re.compile(r"\s*\[\s*credentials\s*\.\s*(\"[^\"]*\"|'[^']*'|[A-Za-z0-9_-]+)\s*\]")
_KEY_LINE = re.compile(r"\s*([A-Za-z0-9_-]+)\s*=")


class CredentialsError(Exception):
    """A credentials file that cannot be used. `credential` and `field` say where, and
    `problem` what is wrong there, when the problem is inside a credential's table."""

    def __init__(self, message: str, *, credential: str | None = None, field: str | None = None,
                 problem: str | None = None):
        self.credential = credential
        self.field = field
        self.problem = _printable(problem) if problem else None
        super().__init__(_printable(message))


class CredentialsRead(NamedTuple):
    usable: dict[str, Credential]  # by name
    refused: dict[str, CredentialsError]  # by name (escaped when not printable): what is wrong


def read_credentials(path: Path) -> CredentialsRead:
    """Every well-formed credential, and why each of the others was left out. Raises
    CredentialsError only when the file as a whole cannot be used."""
    path = Path(path)
    usable: dict[str, Credential] = {}
    refused: dict[str, CredentialsError] = {}
    for name, table in _parse_toml(path, _read_text(path)).items():
        try:
            usable[name] = _credential(path, name, table)
        except CredentialsError as error:
            refused[_printable(name)] = error
    return CredentialsRead(usable, refused)


def load_credentials(path: Path) -> dict[str, Credential]:
    """The well-formed credentials by name; each malformed one is left out with a warning
    that names it and its field (never a value)."""
    return _warned(read_credentials(path)).usable


def _warned(read: CredentialsRead) -> CredentialsRead:
    for name, error in read.refused.items():
        log.warning("credential_left_out", credential=name, field=error.field, error=str(error))
    return read


def _read_text(path: Path) -> str:
    try:
        with path.open("rb") as handle:
            raw = handle.read(MAX_CREDENTIALS_BYTES + 1)
    except FileNotFoundError:
        raise CredentialsError(f"credentials file {path} does not exist") from None
    except OSError as error:
        raise CredentialsError(f"credentials file {path} cannot be read: {error.strerror}") from None
    if len(raw) > MAX_CREDENTIALS_BYTES:
        raise CredentialsError(f"credentials file {path} is larger than {MAX_CREDENTIALS_BYTES // 1024} KiB")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise CredentialsError(f"credentials file {path} is not UTF-8 text (byte {error.start})") from None


def _parse_toml(path: Path, text: str) -> dict[str, object]:
    """The file's credential tables by name (each one's shape still to check)."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        # tomllib's messages name keys and positions, never values: safe to repeat.
        credential, field = _located(text, str(error))
        named = [f"credential `{credential}`"] * bool(credential) + [f"field `{field}`"] * bool(credential and field)
        where = f" ({', '.join(named)})" if named else ""
        raise CredentialsError(f"credentials file {path} is not valid TOML{where}: {error}",
                               credential=credential, field=field) from None
    except RecursionError:
        raise CredentialsError(f"credentials file {path} is not valid TOML: it nests too deeply") from None
    except ValueError:  # not repeated: its message could quote the value
        raise CredentialsError(f"credentials file {path} is not valid TOML: it holds a value Python cannot "
                               "read (e.g. an integer of more than 4,300 digits)") from None
    return _credential_tables(path, data)


def _located(text: str, message: str) -> tuple[str | None, str | None]:
    """The credential table and the key a TOML error's line falls in, from the lines up to it."""
    found = _LINE_IN_ERROR.search(message)
    if not found:
        return None, None
    lines = text.split("\n")[: int(found.group(1))]
    key = _KEY_LINE.match(lines[-1]) if lines else None
    for line in reversed(lines):
        if table := _TABLE_LINE.match(line):
            return table.group(1).strip("\"'"), key.group(1) if key else None
        if line.lstrip().startswith("["):
            break  # the line is in some other table
    return None, None


def _credential_tables(path: Path, data: dict) -> dict[str, object]:
    for key in data:
        if key != "credentials":
            raise CredentialsError(f"credentials file {path}: unknown key `{key}` (only [credentials.<name>] "
                                   "tables belong here)")
    tables = data.get("credentials", {})
    if not isinstance(tables, dict):
        raise CredentialsError(f"credentials file {path}: `credentials` must hold tables ([credentials.<name>])")
    return tables


def _credential(path: Path, name: str, table: object) -> Credential:
    if not 0 < len(name) <= MAX_NAME_CHARS or not name.isprintable():
        raise _about(path, name, "name", f"must be 1 to {MAX_NAME_CHARS} printable characters")
    if not isinstance(table, dict):
        raise _about(path, name, "name", f"must be a table ([credentials.{name}])")
    # Before any check: a table left out still holds a secret that some later message (another
    # library's, a traceback) could quote. Only string values are registered.
    redaction.register_credentials([SimpleNamespace(client_key=table.get("client_key"),
                                                    client_secret=table.get("client_secret"))])
    try:
        credential = msgspec.convert(table, Credential)
    except msgspec.ValidationError as error:
        # msgspec's messages name the field and the expected type, not the value.
        found = _FIELD_IN_ERROR.search(str(error))
        field = next((group for group in found.groups() if group), "table") if found else "table"
        raise _about(path, name, field, str(error).split(" - at ")[0]) from None
    if problem := _problem(credential):
        raise _about(path, name, *problem)
    return credential


def _problem(credential: Credential) -> tuple[str, str] | None:
    """What is wrong with a well-typed credential, as (field, problem)."""
    if credential.access_end < credential.access_start:
        return "access_end", "is before access_start"
    if credential.access_end - credential.access_start > dt.timedelta(days=2 * 366):
        return "access_end", "is more than two years after access_start (TikTok grants at most two)"
    for field in ("project", "client_key", "client_secret"):
        value = getattr(credential, field)
        if not value:
            return field, "is empty"
        if value != value.strip() or not value.isprintable():
            # A key pasted with its line break: TikTok would refuse it, at every token request.
            return field, "has spaces around it or characters that cannot be printed"
    return None


def _about(path: Path, name: str, field: str, problem: str) -> CredentialsError:
    return CredentialsError(f"credentials file {path}: credential `{name}`, field `{field}`: {problem}",
                            credential=name, field=field, problem=problem)


def _printable(text: str) -> str:
    """Control characters escaped: a message must not act on the terminal that shows it."""
    return text if text.isprintable() else repr(text)[1:-1]


class CredentialStore:
    """Credentials by name, re-read when the file changes (keys are rotated without restarts)."""

    def __init__(self, path: Path):
        self._path = Path(path)
        self._mtime: float | None = None
        self._read = CredentialsRead({}, {})

    def get(self, name: str) -> Credential:
        credentials = self.all()
        if name in credentials:
            return credentials[name]
        if name in self._read.refused:
            raise self._read.refused[name]  # the field and what is wrong with it
        raise CredentialsError(f"credential `{name}` is not in {self._path}")

    def all(self) -> dict[str, Credential]:
        """Every well-formed credential in the file, by name (read again when the file changed)."""
        mtime = self._path.stat().st_mtime if self._path.exists() else None
        if mtime != self._mtime:
            self._read, self._mtime = _warned(read_credentials(self._path)), mtime
        return self._read.usable
