"""The writing system (ISO 15924 script) of a record's text: the second half of its
`@language` tag (workers/language.py), and what a language is checked against."""

import functools
import unicodedata

# First word of a letter's Unicode name -> ISO 15924 code. Letters only: emoji, digits and
# punctuation say nothing about the script.
_SCRIPTS = {
    "LATIN": "Latn", "CYRILLIC": "Cyrl", "GREEK": "Grek", "ARMENIAN": "Armn",
    "GEORGIAN": "Geor", "HEBREW": "Hebr", "ARABIC": "Arab", "SYRIAC": "Syrc",
    "THAANA": "Thaa", "DEVANAGARI": "Deva", "BENGALI": "Beng", "GURMUKHI": "Guru",
    "GUJARATI": "Gujr", "ORIYA": "Orya", "TAMIL": "Taml", "TELUGU": "Telu",
    "KANNADA": "Knda", "MALAYALAM": "Mlym", "SINHALA": "Sinh", "THAI": "Thai",
    "LAO": "Laoo", "TIBETAN": "Tibt", "MYANMAR": "Mymr", "KHMER": "Khmr",
    "MONGOLIAN": "Mong", "ETHIOPIC": "Ethi", "CHEROKEE": "Cher", "HANGUL": "Hang",
    "HIRAGANA": "Hira", "KATAKANA": "Kana", "KATAKANA-HIRAGANA": "Kana", "CJK": "Hani",
    "BOPOMOFO": "Bopo", "YI": "Yiii", "TIFINAGH": "Tfng", "NKO": "Nkoo",
}


@functools.lru_cache(maxsize=8192)
def _letter_script(char: str) -> str | None:
    if not unicodedata.category(char).startswith("L"):
        return None
    try:
        name = unicodedata.name(char)
    except ValueError:
        return None
    return _SCRIPTS.get(name.split(" ", 1)[0])


def detect_script(*texts: str | None) -> str:
    """The ISO 15924 script of the first text that has letters; 'Latn' when none does.

    The most frequent script wins (a Latin hashtag in Arabic text stays Arab). Kana mixed
    with kanji is Japanese (Jpan); Hangul, with or without hanja, is Korean (Hang).
    NFKC first, so the styled letters common in bios (fullwidth, mathematical bold) count
    as the letters they stand for.
    """
    for text in texts:
        if not text:
            continue
        if text.isascii():  # the common case, without a look-up per character
            if any(char.isalpha() for char in text):
                return "Latn"
            continue
        counts: dict[str, int] = {}
        for char in unicodedata.normalize("NFKC", text):
            script = _letter_script(char)
            if script:
                counts[script] = counts.get(script, 0) + 1
        if not counts:
            continue
        if "Hang" in counts:
            counts["Hang"] += counts.pop("Hani", 0)
        elif "Hira" in counts or "Kana" in counts:
            counts["Jpan"] = sum(counts.pop(s, 0) for s in ("Hira", "Kana", "Hani"))
        # max keeps the first script seen on a tie: dicts keep insertion order.
        return max(counts, key=counts.__getitem__)
    return "Latn"
