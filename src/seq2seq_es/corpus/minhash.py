"""datatrove's MinHash signature step, bit-identical, with its two hot loops compiled by numba.

Why: ``MinhashDedupSignature`` was 40% of the corpus chain (benchmarks/RESULTS.md): a
per-character Python generator strips diacritics, a Python loop joins and hashes every
word 5-gram, and numpy builds an (n-grams × 112) uint64 matrix to take its minimum. Here
the text goes through the same transforms without per-character Python, and numba hashes
the n-grams (XXH64, as the ``xxhash`` package) and takes the minimum over the 112
permutations in one pass. The signatures are datatrove's, bit for bit
(``tests/corpus/test_minhash.py``), so datatrove's bucket, cluster and filter stages run
unchanged after this step and make the same near-duplicate decisions.
"""

from __future__ import annotations

import re
import unicodedata
from functools import cache

import numba
import numpy as np
from datatrove.io import DataFolderLike
from datatrove.pipeline.dedup import MinhashConfig, MinhashDedupSignature
from datatrove.utils.hashing import HashConfig
from datatrove.utils.text import NUMBERS_PATTERN, PUNCTUATION_TRANS, TextNormConfig

from seq2seq_es.corpus.spanish import RegexWordTokenizer
from seq2seq_es.errors import ConfigError

# The characters a ``\w+`` split may see differently after datatrove's ``simplify_text``:
# "_" (a word character, but punctuation there) and everything outside ASCII.
_MAY_CHANGE = re.compile(r"[^\x00-\x5e\x60-\x7f]")
_NON_WORD = re.compile(r"\W+")

_MERSENNE_PRIME = np.uint64((1 << 61) - 1)
_P1, _P2, _P3 = (
    np.uint64(11400714785074694791),
    np.uint64(14029467366897019727),
    np.uint64(1609587929392839161),
)
_P4, _P5 = np.uint64(9650029242287828579), np.uint64(2870177450012600261)


@cache
def _simplify_char(char: str) -> str:
    """``simplify_text`` of one character (punctuation → space, NFD without ``Mn`` marks),
    non-words → space."""
    if ord(char) in PUNCTUATION_TRANS:
        return " "
    decomposed = "".join(
        c for c in unicodedata.normalize("NFD", char) if unicodedata.category(c) != "Mn"
    )
    return _NON_WORD.sub(" ", decomposed)


def simplify_for_words(text: str) -> bytes:
    """UTF-8 text whose word-byte runs are the words of datatrove's
    ``word_tokenize(simplify_text(text))``.

    Word bytes are ASCII word characters and every byte >= 0x80 (``ngram_hashes``).
    datatrove lower-cases, maps numbers to "0", punctuation to spaces, collapses
    whitespace, then decomposes (NFD) and drops combining marks (``Mn``), in Python per
    character; then the ``\\w+`` split. Here the first two steps are datatrove's, the
    rest is done per distinct non-ASCII character (cached), and only non-ASCII characters
    that are word characters are left. This gives the same words because (1) whitespace
    is never a word character, so collapsing it changes no ``\\w+`` run, and (2) NFD of a
    text is the per-character decomposition followed by a reordering of runs of
    combining characters (canonical class > 0), none of which is a word character, so
    the reordering changes no ``\\w+`` run either (both checked over all of Unicode in
    ``tests/corpus/test_minhash.py``).
    """
    text = NUMBERS_PATTERN.sub("0", text.lower())
    return _MAY_CHANGE.sub(lambda match: _simplify_char(match.group()), text).encode("utf-8")


@numba.njit(inline="always")
def _rotl(x: np.uint64, bits: int) -> np.uint64:
    return (x << np.uint64(bits)) | (x >> np.uint64(64 - bits))


@numba.njit(inline="always")
def _read64(data: np.ndarray, at: int) -> np.uint64:
    value = np.uint64(0)
    for k in range(8):
        value |= np.uint64(data[at + k]) << np.uint64(8 * k)
    return value


@numba.njit(inline="always")
def _round(acc: np.uint64, lane: np.uint64) -> np.uint64:
    return _rotl(acc + lane * _P2, 31) * _P1


@numba.njit(inline="always")
def _merge_round(acc: np.uint64, lane: np.uint64) -> np.uint64:
    return (acc ^ _round(np.uint64(0), lane)) * _P1 + _P4


@numba.njit(cache=True)
def xxh64(data: np.ndarray, start: int, end: int) -> np.uint64:
    """XXH64 (seed 0) of ``data[start:end]`` (uint8), as ``xxhash.xxh64_intdigest``; spec:
    xxhash.com."""
    length, at = end - start, start
    if length >= 32:
        v1, v2, v3, v4 = _P1 + _P2, _P2, np.uint64(0), np.uint64(0) - _P1
        while at + 32 <= end:
            v1 = _round(v1, _read64(data, at))
            v2 = _round(v2, _read64(data, at + 8))
            v3 = _round(v3, _read64(data, at + 16))
            v4 = _round(v4, _read64(data, at + 24))
            at += 32
        h = _rotl(v1, 1) + _rotl(v2, 7) + _rotl(v3, 12) + _rotl(v4, 18)
        h = _merge_round(_merge_round(_merge_round(_merge_round(h, v1), v2), v3), v4)
    else:
        h = _P5
    h += np.uint64(length)
    while at + 8 <= end:
        h = _rotl(h ^ _round(np.uint64(0), _read64(data, at)), 27) * _P1 + _P4
        at += 8
    if at + 4 <= end:
        word = np.uint64(0)
        for k in range(4):
            word |= np.uint64(data[at + k]) << np.uint64(8 * k)
        h = _rotl(h ^ (word * _P1), 23) * _P2 + _P3
        at += 4
    while at < end:
        h = _rotl(h ^ (np.uint64(data[at]) * _P5), 11) * _P1
        at += 1
    h ^= h >> np.uint64(33)
    h *= _P2
    h ^= h >> np.uint64(29)
    h *= _P3
    return h ^ (h >> np.uint64(32))


@numba.njit(cache=True)
def ngram_hashes(data: np.ndarray, n: int) -> np.ndarray:
    """XXH64 of every ``n`` consecutive words joined by single spaces, as datatrove hashes its
    shingles.

    ``data`` is UTF-8 (uint8) whose words are the runs of ASCII word characters (letters,
    digits, "_") and bytes >= 0x80 (``simplify_for_words``); they are copied, one space
    apart, to a buffer first.
    """
    joined = np.empty(len(data), dtype=np.uint8)
    starts = np.empty(len(data) // 2 + 1, dtype=np.int64)
    ends = np.empty_like(starts)
    size = words = 0
    in_word = False
    for byte in data:
        if (
            byte >= 0x80
            or 0x30 <= byte <= 0x39
            or 0x41 <= byte <= 0x5A
            or 0x61 <= byte <= 0x7A
            or byte == 0x5F
        ):
            if not in_word:
                if words:
                    joined[size] = 0x20
                    size += 1
                starts[words], in_word = size, True
            joined[size] = byte
            size += 1
        elif in_word:
            ends[words], in_word = size, False
            words += 1
    if in_word:
        ends[words] = size
        words += 1
    hashes = np.empty(max(0, words - n + 1), dtype=np.uint64)
    for i in range(len(hashes)):
        hashes[i] = xxh64(joined, starts[i], ends[i + n - 1])
    return hashes


@numba.njit(cache=True)
def min_permuted(shingles: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``np.min((shingles * a + b) % (2**61 - 1), axis=0)`` in wrapping uint64, without the matrix.

    The modulus by the Mersenne prime is a fold: x = hi·2^61 + lo ≡ hi + lo, and hi + lo
    < 2·(2^61 - 1), so one conditional subtraction gives exactly ``x % (2**61 - 1)``
    (6x faster than the division here).
    """
    mins = np.full(len(a), np.iinfo(np.uint64).max, dtype=np.uint64)
    for shingle in shingles:
        for j in range(len(a)):
            product = shingle * a[j] + b[j]
            value = (product & _MERSENNE_PRIME) + (product >> np.uint64(61))
            if value >= _MERSENNE_PRIME:
                value -= _MERSENNE_PRIME
            mins[j] = min(mins[j], value)
    return mins


class CompiledMinhashSignature(MinhashDedupSignature):
    """``MinhashDedupSignature`` with a ``\\w+`` word split, its shingles and signature compiled.

    Writes datatrove's signature files (its ``run`` is inherited): the same bytes as
    ``MinhashDedupSignature(..., language=RegexWordTokenizer())`` with datatrove's default
    text normalization and 64-bit XXH64 hashes, the only settings reimplemented here.
    """

    def __init__(self, output_folder: DataFolderLike, config: MinhashConfig | None = None) -> None:
        config = config or MinhashConfig()
        if config.norm_config != TextNormConfig() or config.hash_config != HashConfig():
            raise ConfigError(
                "CompiledMinhashSignature implements datatrove's default text normalization and "
                "64-bit xxhash only; use datatrove's MinhashDedupSignature for other settings."
            )
        super().__init__(output_folder, config=config, language=RegexWordTokenizer())

    def get_shingles(self, text: str) -> np.ndarray:
        data = np.frombuffer(simplify_for_words(text), dtype=np.uint8)
        return ngram_hashes(data, self.config.n_grams).reshape((-1, 1))

    def get_signature(self, shingles: np.ndarray) -> list[list[int]]:
        a, b = self.parameters
        mins = min_permuted(shingles.ravel(), a.ravel(), b.ravel())
        return mins.reshape(self.config.num_buckets, -1).tolist()
