"""Spanish sentence boundaries, on text and on token ids (for BART sentence permutation).

Why our own rules: fairseq's BART permutes "sentences" cut at every full-stop token
(``DenoisingDataset.permute_sentences`` with ``full_stop_index`` = the GPT-2 id of
``.``), so "el Sr. Pérez", "EE. UU." or "3.5" are cut mid-sentence and ``?``/``!``
never end one. Spanish needs more: ``¿…?`` and ``¡…!`` end sentences, a sentence may
start with ``¿``, ``¡``, ``«`` or a dash, and many abbreviations end in a period.

One set of rules serves two callers:

* :func:`split_sentences` / :func:`sentence_spans` cut raw text (used to check the
  rules against the UD Spanish-GSD gold segmentation, see benchmarks/RESULTS.md);
* :class:`TokenSentenceSplitter` finds the same boundaries directly in a block of
  token ids, with per-vocabulary tables, so the pretraining data needs no extra
  boundary annotation and packed blocks can start mid-sentence.

A boundary follows a run of ``.``, ``?``, ``!`` or ``…`` (plus closing quotes or
brackets) when whitespace and a sentence opener follow (an upper-case letter, a digit,
``¿``, ``¡``, an opening quote, bracket or dash), unless the run is a single ``.``
after an abbreviation or a one-letter initial ("J. R. R. Tolkien", "a. C."). A line
break always ends a sentence (corpus paragraphs are separated by ``\\n``).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np

# Words after which a period does not end the sentence (lower case, without the period).
# Titles, address and reference abbreviations that are normally followed by more text.
# Abbreviations that usually end a sentence anyway ("etc.") are not listed: for them
# the opener rule decides ("etc. y" continues, "etc. Luego" starts a new sentence).
ABBREVIATIONS: frozenset[str] = frozenset(
    {
        "sr",
        "sra",
        "srta",
        "sres",
        "sras",
        "srs",
        "dr",
        "dra",
        "dres",
        "dras",
        "d",
        "dña",
        "dn",
        "lic",
        "lcdo",
        "lcda",
        "ing",
        "arq",
        "prof",
        "profa",
        "gral",
        "cnel",
        "tte",
        "cap",
        "cmdt",
        "sgto",
        "sto",
        "sta",
        "sn",
        "mons",
        "pbro",
        "fr",
        "excmo",
        "excma",
        "ilmo",
        "ilma",
        "ud",
        "uds",
        "vd",
        "vds",
        "av",
        "avda",
        "c",
        "cl",
        "pza",
        "pl",
        "plza",
        "ctra",
        "apdo",
        "dpto",
        "depto",
        "tel",
        "tfno",
        "núm",
        "nro",
        "nº",
        "pág",
        "págs",
        "pp",
        "art",
        "arts",
        "vol",
        "vols",
        "ed",
        "eds",
        "fig",
        "figs",
        "cf",
        "cfr",
        "ej",
        "vs",
        "aprox",
        "máx",
        "mín",
        "cía",
        "ee",
        "uu",
        "ss",
        "hnos",
        "ltda",
        "ca",
        "op",
        "cit",
        "ibíd",
        "col",
        "cols",
        "coord",
        "trad",
        "comp",
        "dir",
        "vda",
        "mr",
        "mrs",
        "ms",
        "st",
        "jr",
        "ene",
        "feb",
        "abr",
        "jun",
        "jul",
        "ago",
        "sept",
        "sep",
        "oct",
        "nov",
        "dic",
    }
)

TERMINALS = ".?!…"
CLOSERS = "\"'»”’)]"
OPENING_PUNCTUATION = "¿¡«\"“‘'([—–-"

_CANDIDATE = re.compile(
    rf"(?P<end>[{re.escape(TERMINALS)}]+[{re.escape(CLOSERS)}]*)?(?P<space>\s+)"
)
_LAST_WORD = re.compile(r"(\w+)\Z")
_TERMINAL_TOKEN = re.compile(rf"\s*[^\w\s]*[{re.escape(TERMINALS)}][{re.escape(CLOSERS)}]*\s*\Z")


def is_abbreviation(word: str) -> bool:
    """True for a word after which ``.`` does not end a sentence (``Sr``, ``EE``, ``J``)."""
    return word.lower() in ABBREVIATIONS or (len(word) == 1 and word.isalpha())


def opens_sentence(text: str) -> bool:
    """True when ``text`` (after leading whitespace) may begin a Spanish sentence."""
    text = text.lstrip()
    return bool(text) and (text[0].isupper() or text[0].isdigit() or text[0] in OPENING_PUNCTUATION)


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """``(start, end)`` character offsets of the sentences of ``text``, whitespace excluded."""
    spans: list[tuple[int, int]] = []
    start = 0
    for match in _CANDIDATE.finditer(text):
        end_run = match.group("end")
        if "\n" not in match.group("space"):
            if end_run is None or not opens_sentence(text[match.end() : match.end() + 1]):
                continue
            if end_run == "." and _follows_abbreviation(text, match.start()):
                continue
        end = match.start("space")
        if text[start:end].strip():
            spans.append(_strip(text, start, end))
        start = match.end()
    if text[start:].strip():
        spans.append(_strip(text, start, len(text)))
    return spans


def split_sentences(text: str) -> list[str]:
    """The sentences of ``text`` (see :func:`sentence_spans`)."""
    return [text[a:b] for a, b in sentence_spans(text)]


def _follows_abbreviation(text: str, period: int) -> bool:
    word = _LAST_WORD.search(text, max(0, period - 30), period)
    return word is not None and is_abbreviation(word.group(1))


def _strip(text: str, start: int, end: int) -> tuple[int, int]:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


class TokenSentenceSplitter:
    """The same rules on token ids: which tokens of a block begin a sentence.

    Built once per vocabulary from the decoded text of every token id; picklable (only
    numpy tables and a tuple of strings), so it runs inside DataLoader workers.
    Vectorized: table look-ups over the whole block; only the few ``.`` tokens that
    are followed by a sentence opener go through the abbreviation check (one small
    Python step per candidate sentence end, never per token).
    """

    def __init__(self, token_texts: Sequence[str], special: np.ndarray) -> None:
        self.texts = tuple(token_texts)
        self.special = np.asarray(special, dtype=bool)
        self.terminal = np.array(
            [bool(_TERMINAL_TOKEN.match(t)) and bool(t.strip()) for t in self.texts]
        )
        self.period = np.array([t.strip() == "." for t in self.texts])
        self.opener = np.array([opens_sentence(t) for t in self.texts]) & ~self.special
        self.line_break = np.array(["\n" in t for t in self.texts]) & ~self.special
        self.blank = (
            np.array([not t.strip() for t in self.texts]) & ~self.special & ~self.line_break
        )

    def sentence_starts(self, ids: np.ndarray, word_start: np.ndarray) -> np.ndarray:
        """Boolean array: ``True`` where a sentence begins (always at position 0).

        ``word_start`` marks tokens that begin a word (see ``TokenTables.word_starts``):
        a sentence opener counts only at a word start, so "3.5" and "S.A." never split.
        A special token (the ``</s>`` between packed documents) ends a sentence.
        """
        starts = np.zeros(len(ids), dtype=bool)
        if len(ids) == 0:
            return starts
        starts[0] = True
        prev = ids[:-1]
        opener = self.opener[ids]  # a lone space token before the opener counts with it
        opener[:-1] |= self.blank[prev] & self.opener[ids[1:]]
        ends = self.terminal[prev] & opener[1:] & word_start[1:]
        check = np.flatnonzero(ends & self.period[prev])
        if check.size:
            positions = np.arange(len(ids))
            word_begin = np.maximum.accumulate(np.where(word_start, positions, 0))
            for period in check[check > 0]:
                word = _LAST_WORD.search(
                    "".join([self.texts[i] for i in ids[word_begin[period - 1] : period].tolist()])
                )
                if word is not None and is_abbreviation(word.group(1)):
                    ends[period] = False
        starts[1:] = ends | self.line_break[prev] | self.special[prev]
        return starts
