"""Reads the credentials file (TOML). Secrets stay in the returned objects, whose repr hides
them; errors name the file and the field, never a value."""

import datetime as dt
import tomllib
from pathlib import Path

import msgspec

from schemas.credentials import Credential, CredentialsFile


class CredentialsError(Exception):
    pass


def load_credentials(path: Path) -> dict[str, Credential]:
    try:
        raw = tomllib.loads(Path(path).read_text())
    except FileNotFoundError:
        raise CredentialsError(f"credentials file {path} does not exist") from None
    except tomllib.TOMLDecodeError as error:
        raise CredentialsError(f"credentials file {path} is not valid TOML: {error}") from None
    try:
        parsed = msgspec.convert(raw, CredentialsFile)
    except msgspec.ValidationError as error:
        raise CredentialsError(f"credentials file {path}: {error}") from None
    for name, credential in parsed.credentials.items():
        if credential.access_end < credential.access_start:
            raise CredentialsError(f"credentials file {path}: `{name}` access_end is before access_start")
        if credential.access_end - credential.access_start > dt.timedelta(days=2 * 366):
            raise CredentialsError(f"credentials file {path}: `{name}` access period exceeds two years")
        if not credential.client_key or not credential.client_secret:
            raise CredentialsError(f"credentials file {path}: `{name}` has an empty client key or secret")
    return parsed.credentials


class CredentialStore:
    """Credentials by name, re-read when the file changes (keys are rotated without restarts)."""

    def __init__(self, path: Path):
        self._path = Path(path)
        self._mtime: float | None = None
        self._credentials: dict[str, Credential] = {}

    def get(self, name: str) -> Credential:
        mtime = self._path.stat().st_mtime if self._path.exists() else None
        if mtime != self._mtime:
            self._credentials = load_credentials(self._path)
            self._mtime = mtime
        try:
            return self._credentials[name]
        except KeyError:
            raise CredentialsError(f"credential `{name}` is not in {self._path}") from None
