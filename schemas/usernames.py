"""TikTok usernames as keys: one normalised form, and a reversible ASCII spelling of it.

Usernames reach us in TikTok's answers (the `username` of each video) and are not to be
trusted: they may be blank, carry NUL or other control characters, be very long, or use
any Unicode. Every place that keys on an account — the user task's unit, the requested
and done sets in Redis, the file names, the Person `@id` — goes through `normalise`, so
one account is one key everywhere.
"""

import hashlib
import re
import string
import unicodedata
import urllib.parse

# What a name with nothing left after normalising becomes. TikTok did name an account
# (the field was not empty), so it is recorded like any other; "@" is what such a handle
# reads as, and no other name normalises to it (leading @s are always stripped).
BLANK = "@"

# Characters that stay as they are in the escaped spelling: everything a TikTok username
# can hold (letters, digits, `_`, `.`), and `-`, which is as harmless in a file name.
_PLAIN = frozenset(string.ascii_letters + string.digits + "_.-")
# Separates a shortened spelling from its digest. `escape` never writes it (it is not
# plain, so it is always escaped), so a shortened spelling never equals a full one.
_SHORTENED = "~"
_DIGEST_HEX = 32  # 128 bits of SHA-256: a collision between two names is not a concern

_PLAIN_NAME = re.compile(r"[A-Za-z0-9_.-]*")
_LEADING = re.compile(r"^[\s@]+")
_ASCII_LOWER = str.maketrans(string.ascii_uppercase, string.ascii_lowercase)


def normalise(raw: str) -> str:
    """The one form of a username that every key is made from.

    - Unicode NFC, so two encodings of the same text are one name (again at the end:
      lower-casing `H` before U+0331 makes a pair that composes).
    - Surrounding whitespace and any leading `@` go: `@name` is how a handle is written,
      and TikTok's own fields carry the bare name.
    - ASCII letters are lower-cased. TikTok usernames are ASCII letters, digits, `_` and
      `.`, and TikTok treats them without regard to case (it shows and stores them in lower
      case, and tiktok.com/@Name is the account @name), so `Alice` and `alice` are one
      account and cost one profile call. Other letters keep their case: no TikTok
      username holds them, and Unicode case rules (ß, dotted İ) could merge names that
      TikTok would answer for separately.
    - NUL and other control characters are kept: `a\\x00b` is not the account `ab`.
    - A name with nothing left is BLANK.

    normalise(normalise(x)) == normalise(x) for every x.
    """
    if raw.isascii():  # the common case: NFC changes no ASCII text
        return _trim(raw).lower() or BLANK
    name = _trim(unicodedata.normalize("NFC", raw))
    name = unicodedata.normalize("NFC", name.translate(_ASCII_LOWER))
    return name or BLANK


def could_exist(name: str) -> bool:
    """False for a normalised name no TikTok account can have: the blank name, or one
    with control characters (NUL among them) or lone surrogates (not even sendable). Such
    a name is recorded as an unknown account without a request: TikTok could only answer
    "cannot find the user", and each request spends quota. Anything else is asked about,
    however odd it looks — a wrong guess here would record a real account as unknown."""
    return name != BLANK and not _has_unwritable(name)


def shown(name: str) -> str:
    """A normalised name as record text: itself, or escaped when it holds characters a
    record never carries (control characters; lone surrogates). Never empty."""
    return escape(name) if _has_unwritable(name) else name


def escape(name: str) -> str:
    """A reversible ASCII spelling: plain characters as they are, every other character
    as `%XX` escapes of its UTF-8 bytes (as in URLs; `%` itself is `%25`). Ordinary TikTok
    names are unchanged, and no spelling holds `/`, NUL, spaces or `~`."""
    if _PLAIN_NAME.fullmatch(name):  # the common case, without a look at each character
        return name
    return "".join(char if char in _PLAIN else _percent(char) for char in name)


def unescape(text: str) -> str | None:
    """The name `escape` spelled as `text`; None when `text` is not such a spelling."""
    try:
        name = urllib.parse.unquote_to_bytes(text).decode("utf-8", "surrogatepass")
    except UnicodeDecodeError:
        return None
    return name if escape(name) == text else None


def escape_within(name: str, limit: int) -> str:
    """The escaped spelling when it fits in `limit` characters; otherwise as much of it as
    fits, whole characters only, then `~` and a digest of the full name, so two long
    names that start alike still get two spellings."""
    full = escape(name)
    if len(full) <= limit:
        return full
    digest = hashlib.sha256(name.encode("utf-8", "surrogatepass")).hexdigest()[:_DIGEST_HEX]
    room = limit - len(_SHORTENED) - len(digest)
    if room < 0:
        raise ValueError(f"a limit of {limit} leaves no room for the digest")
    kept: list[str] = []
    for char in name:
        piece = escape(char)
        if len(piece) > room:
            break
        kept.append(piece)
        room -= len(piece)
    return f"{''.join(kept)}{_SHORTENED}{digest}"


def _trim(name: str) -> str:
    name = name.strip()
    # `@ @name` too: whitespace and @s in any order, until the name starts.
    return _LEADING.sub("", name) if name.startswith("@") else name


def _percent(char: str) -> str:
    # surrogatepass: a lone surrogate gets an escape too instead of failing the caller.
    return "".join(f"%{byte:02X}" for byte in char.encode("utf-8", "surrogatepass"))


# Control characters are kept out of records by rule (workers/records.py); lone surrogates
# cannot be written as UTF-8 at all.
_UNWRITABLE = frozenset({"Cc", "Cs"})


def _has_unwritable(name: str) -> bool:
    if name.isascii():  # ASCII's only unprintable characters are its control characters
        return not name.isprintable()
    return any(unicodedata.category(char) in _UNWRITABLE for char in name)
