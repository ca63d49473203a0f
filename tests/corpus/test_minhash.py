"""The fast MinHash signature step must write exactly datatrove's signatures."""

from __future__ import annotations

import random

import numpy as np
import pytest
from datatrove.pipeline.dedup import MinhashConfig, MinhashDedupSignature
from datatrove.utils.hashing import HashConfig
from datatrove.utils.text import TextNormConfig, simplify_text
from tests.corpus.conftest import spanish_doc

from seq2seq_es.corpus.minhash import FastMinhashSignature, fast_simplify_text
from seq2seq_es.corpus.spanish import RegexWordTokenizer

ODD_TEXTS = [
    "Ñandú, pingüino y cigüeña: ¡qué año más raro! ¿Verdad, señor Muñoz?",
    "Él dijo «adiós» — y se fue a Cádiz en 1.999, con 3,5 € en el bolsillo.",
    "Ἀθῆναι, naïve café, e\u0301 combinado, ﬁn, Ⅻ, 東京, emoji 🙂 y tabs\tfinales  ",
    "",
]


def _texts(count: int = 40) -> list[str]:
    rng = random.Random(7)
    return [spanish_doc(rng, paragraphs=rng.randint(1, 2), sentences=rng.randint(2, 5)) for _ in range(count)] + ODD_TEXTS


@pytest.mark.parametrize("norm", [TextNormConfig(), TextNormConfig(norm_unicode_diacritics=False),
                                  TextNormConfig(lowercase=False, norm_numbers=False)])
def test_simplify_text_equals_datatrove(norm: TextNormConfig) -> None:
    for text in _texts():
        assert fast_simplify_text(text, norm) == simplify_text(text, norm)


@pytest.mark.parametrize("precision", [64, 32])
def test_signatures_equal_datatrove(tmp_path, precision: int) -> None:
    config = MinhashConfig(hash_config=HashConfig(precision=precision), n_grams=5, num_buckets=14,
                           hashes_per_bucket=8, seed=3)
    stock = MinhashDedupSignature(str(tmp_path / "a"), config=config, language=RegexWordTokenizer())
    fast = FastMinhashSignature(str(tmp_path / "b"), config=config, language=RegexWordTokenizer())
    compared = 0
    for text in _texts():
        shingles = stock.get_shingles(text)
        assert np.array_equal(fast.get_shingles(text), shingles)
        if shingles.size:
            assert fast.get_signature(shingles) == stock.get_signature(shingles)
            compared += 1
    assert compared >= 40


def test_signature_of_many_shingles_crosses_chunks(tmp_path) -> None:
    """More shingles than one chunk, and hash values near 2**64: the running minimum stays exact."""
    config = MinhashConfig(num_buckets=4, hashes_per_bucket=4)
    stock = MinhashDedupSignature(str(tmp_path / "a"), config=config, language=RegexWordTokenizer())
    fast = FastMinhashSignature(str(tmp_path / "b"), config=config, language=RegexWordTokenizer())
    shingles = np.random.default_rng(0).integers(0, 2**64, size=(5000, 1), dtype=np.uint64)
    shingles[:3, 0] = [0, 2**64 - 1, 2**61 - 1]
    assert fast.get_signature(shingles) == stock.get_signature(shingles)
