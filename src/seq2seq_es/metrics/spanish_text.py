"""Spanish word tokens, stems and answer normalisation shared by the metrics.

Why this module: ``rouge-score`` lower-cases and then keeps only ``[a-z0-9]``, so
"niño" becomes "ni" + "o" and "acción" becomes "acci" + "n"; its stemmer is the
English Porter stemmer. Every metric that looks at Spanish words (ROUGE, METEOR,
unigram F1, QA F1) goes through the functions here instead, so they agree on what
a word is:

* text is NFC-normalised first, so a decomposed "n" + U+0303 is the same word as "ñ";
* a word is a maximal run of Unicode letters or digits (``[^\\W_]+``): on ASCII text
  this is exactly ``rouge-score``'s ``[a-z0-9]+`` after lower-casing, which is what
  makes the ASCII parity with ``rouge-score`` hold;
* the optional stemmer is Snowball's Spanish stemmer (``snowballstemmer``), applied
  like ``rouge-score`` applies Porter: only to words longer than 3 characters.
"""

from __future__ import annotations

import functools
import re
import string
import unicodedata

import snowballstemmer

_WORD = re.compile(r"[^\W_]+")
SPANISH_ARTICLES = ("el", "la", "los", "las", "un", "una", "unos", "unas")
_ARTICLE = re.compile(r"\b(?:" + "|".join(SPANISH_ARTICLES) + r")\b")
_ASCII_PUNCTUATION = frozenset(string.punctuation)


def is_punctuation(char: str) -> bool:
    """Unicode punctuation (categories P*: ``¿ ¡ « » — …``) or ASCII punctuation.

    The ASCII set adds the symbols ``$+<=>^`|~`` that Unicode files under S*; the
    MLQA evaluation script uses the same union.
    """
    return char in _ASCII_PUNCTUATION or unicodedata.category(char).startswith("P")


def words(text: str) -> list[str]:
    """Lower-cased Unicode words of ``text`` (NFC first); punctuation and symbols dropped."""
    return _WORD.findall(unicodedata.normalize("NFC", text).lower())


class SpanishStemmer:
    """Snowball Spanish stemmer with a per-word cache; words of <= 3 characters are kept.

    The length rule mirrors ``rouge_score.tokenize`` (and ``multilingual-rouge``'s
    ``min_char_length=3``), so the only difference from the paper's setting is the
    language of the stemmer. Snowball Spanish also removes the acute accents of the
    vowels it keeps ("canción" → "cancion"), which is the intended conflation.
    """

    name = "snowball-es"

    def __init__(self) -> None:
        self._stemmer = snowballstemmer.stemmer("spanish")
        self._stem_cached = functools.lru_cache(maxsize=200_000)(self._stem_uncached)

    def _stem_uncached(self, word: str) -> str:
        return str(self._stemmer.stemWord(word)) if len(word) > 3 else word

    def stem(self, word: str) -> str:
        """The ``nltk.stem.api.StemmerI`` interface (used by nltk's METEOR)."""
        return self._stem_cached(word)

    def __call__(self, word: str) -> str:
        return self._stem_cached(word)


def normalize_answer(text: str) -> str:
    """SQuAD-style answer normalisation with Spanish articles (as in MLQA's ``es`` script).

    Lower-case, drop every punctuation character (Unicode P* and ASCII), drop the
    articles el/la/los/las/un/una/unos/unas as whole words, collapse whitespace.
    Accents are kept: "sí" and "si" are different words in Spanish.
    """
    text = "".join(c for c in unicodedata.normalize("NFC", text).lower() if not is_punctuation(c))
    return " ".join(_ARTICLE.sub(" ", text).split())
