"""Which incident categories are sensitive: matched on words, whatever the spelling.

A feed may write the same offence as ``SEX OFFENCE``, ``ＳＥＸ ＯＦＦＥＮＣＥ`` (full-width),
``SE<zero-width space>X OFFENCE``, ``Sexual assault`` or ``Agresión sexual``. A category name
and every term are folded the same way before they are compared:

1. Unicode NFKC (full-width and compatibility letters become plain ones);
2. zero-width and other invisible format characters removed (``Cf``), so a hidden
   character inside a word does not split it;
3. accents folded (NFKD, combining marks dropped: ``doméstica`` → ``domestica``);
4. case folded (``casefold``: ``ß`` → ``ss``);
5. split into words on anything that is not a letter or digit.

A term matches when each of its words, reduced to a stem, begins a word of the category,
in order and next to each other (``sex`` matches ``SEXUAL``, ``child`` matches
``CHILDREN``, ``domestic`` matches ``doméstica``), so ``Essex Road theft`` does not match
``sex``. Names close to a term but not matching (a word one or two letters off, or a term
inside a longer word) are *near misses*, for an admin to look at.

Pure functions: no database, no web framework.
"""

from __future__ import annotations

import difflib
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass

# Shipped terms, English and Spanish, with the Caribbean (St Kitts and Nevis, Jamaica,
# Trinidad and Tobago) legal names of sexual offences and offences against children.
SHIPPED_TERMS: tuple[str, ...] = (
    # English
    "sex", "rape", "raping", "domestic", "child", "juvenile victim", "indecent", "indecency", "incest",
    "trafficking", "abuse", "molest", "paedophil", "pedophil", "grooming", "buggery", "sodomy",
    "unlawful carnal knowledge", "carnal knowledge", "serious indecency", "indecent assault", "gross indecency",
    "sexual intercourse with a minor", "sexual intercourse with a girl", "procuration", "brothel",
    "prostitution", "pornograph", "voyeur", "intimate partner", "family violence", "spousal",
    "stalking", "protection order", "restraining order", "female genital", "forced marriage",
    # Spanish
    "violacion", "abuso", "violencia domestica", "violencia intrafamiliar", "violencia familiar",
    "violencia de genero", "trata de personas", "incesto", "estupro", "menores de edad", "infantil",
    "acoso sexual", "agresion sexual", "pornografia", "proxenetismo", "prostitucion", "feminicidio", "femicidio",
)

_SUFFIXES = ("ings", "ing", "ies", "es", "s", "ed", "iones", "ion", "a", "o", "e")
_WORD = re.compile(r"[^\W_]+", re.UNICODE)


def fold(text: str | None) -> str:
    """A name as compared: NFKC, invisible characters dropped, accents folded, case folded."""
    value = unicodedata.normalize("NFKC", text or "")
    value = "".join(ch for ch in value if unicodedata.category(ch) != "Cf")
    value = unicodedata.normalize("NFKD", value)
    value = "".join(ch for ch in value if not unicodedata.combining(ch))
    return unicodedata.normalize("NFKC", value).casefold()


def words(text: str | None) -> list[str]:
    """The folded words of a name."""
    return _WORD.findall(fold(text))


def stem(word: str) -> str:
    """A light stem (English and Spanish endings), never shorter than four letters (so ``rape``
    stays ``rape`` and cannot match ``rapid``)."""
    for suffix in _SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= 4:
            return word[: -len(suffix)]
    return word


def _term_words(term: str) -> list[str]:
    # Little words ("a", "de", "with") carry no meaning of their own and may be left out or
    # translated in a feed's wording, so a term matches without them.
    found = [w for w in words(term) if len(w) > 2 or len(words(term)) == 1]
    return [stem(w) for w in found]


def _matches(name_words: list[str], term_stems: list[str]) -> bool:
    if not term_stems:
        return False
    wanted = len(term_stems)
    for start in range(len(name_words)):
        position, matched = start, 0
        while position < len(name_words) and matched < wanted:
            if name_words[position].startswith(term_stems[matched]):
                matched += 1
            elif len(name_words[position]) > 2 or matched == 0:
                break  # little words between the term's words are skipped
            position += 1
        if matched == wanted:
            return True
    return False


@dataclass(frozen=True)
class Classification:
    """What one category name is: sensitive (and the term that matched), or a near miss to review."""

    category: str
    sensitive: bool
    matched_term: str | None = None
    near_miss: str | None = None  # the term it nearly matched, when not sensitive


def classify(category: str | None, terms: Iterable[str]) -> Classification:
    """Whether ``category`` is sensitive under ``terms`` (shipped and admin-added alike)."""
    name = category or ""
    name_words = words(name)
    folded = fold(name)
    term_list = sorted({t for t in terms if words(t)}, key=lambda t: (-len(words(t)), t))
    for term in term_list:
        if _matches(name_words, _term_words(term)):
            return Classification(name, True, matched_term=term)
    for term in term_list:
        near = _near_miss(folded, name_words, term)
        if near:
            return Classification(name, False, near_miss=term)
    return Classification(name, False)


def _near_miss(folded: str, name_words: list[str], term: str) -> bool:
    joined = " ".join(words(term))
    if len(joined) >= 4 and joined.replace(" ", "") in folded.replace(" ", ""):
        return True  # the term hidden inside a longer word ("ESSEX", "MISRAPED")
    for term_word in words(term):
        if len(term_word) < 5:
            continue
        for word in name_words:
            if word.startswith(stem(term_word)):
                continue  # one word of a longer term ("assault" of "indecent assault") is no near miss
            if abs(len(word) - len(term_word)) <= 2 and difflib.SequenceMatcher(None, word, term_word).ratio() >= 0.8:
                return True  # one or two letters off ("BUGERY", "INCESTE", "DOMESTC")
    return False


def classify_all(categories: Iterable[str | None], terms: Iterable[str]) -> list[Classification]:
    """Each distinct category classified once."""
    term_list = list(terms)
    return [classify(c, term_list) for c in sorted({c or "" for c in categories})]


def normalise_term(term: str) -> str:
    """A term as stored: its folded words joined by single spaces ('' when it has none)."""
    return " ".join(words(term))
