"""Authors expanded in the video records once their profiles are in.

A page's video records are written as soon as the page arrives, with each author as a
reference (`@id`, username, profile URL): the profile itself is fetched later, beside the
page chains. When the harvest has answered every author, each page's records are rewritten
with `author`, `creator` and `sender` expanded from the author's Person record (display
name, bio, avatar, verified flag, counts), as iCANDID's record model asks.

Safe to repeat: the same files give the same bytes, and a file whose bytes would not change
is not written again, so its modification time (which iCANDID's loader watches) stays.
"""

from functools import lru_cache
from pathlib import Path

import msgspec

from schemas.records import Person, PersonRecord, VideoRecord
from schemas.spec import HarvestPlan
from workers.records import encode_records, username_of
from workers.storage import Storage

# Profiles kept decoded while the pages are rewritten (the benchmark: 20,000 of them and a
# 100,000-video harvest peak at about 67 MiB); beyond it a profile is read again.
PROFILE_CACHE = 20_000

_decode_page = msgspec.json.Decoder(list[VideoRecord]).decode
_decode_profile = msgspec.json.Decoder(list[PersonRecord]).decode
_PERSON_FIELDS = Person.__struct_fields__


def expand_authors(storage: Storage, plan: HarvestPlan) -> int:
    """Rewrite the harvest's video records with their authors' profiles; returns how many
    page files changed."""
    folder = storage.records_dir(plan)
    profile = _profile_reader(folder)
    changed = 0
    for path in sorted(folder.glob(Storage.PAGE_FILES)):
        body = path.read_bytes()
        records = _decode_page(body)
        for record in records:
            # Matched by @id, which holds the whole normalised name (alternateName may not:
            # it is shown without the characters a record cannot carry).
            if record.author is None or (username := username_of(record.author.id)) is None:
                continue
            if (expanded := profile(username)) is not None:
                record.author = record.creator = record.sender = expanded
        rewritten = encode_records(records)
        if rewritten != body:
            storage.write_records(plan, path.name, rewritten)
            changed += 1
    return changed


def _profile_reader(folder: Path):
    @lru_cache(maxsize=PROFILE_CACHE)
    def profile(username: str) -> Person | None:
        try:
            (record,) = _decode_profile((folder / Storage.user_name(username)).read_bytes())
        except FileNotFoundError:
            return None  # not answered in this harvest (e.g. the name did not resolve)
        return Person(**{field: getattr(record, field) for field in _PERSON_FIELDS})

    return profile
