"""The compiled MinHash signature step gives datatrove's signatures and signature files, bit for
bit."""

from __future__ import annotations

import gzip
import json
import random
import re
import sys
import unicodedata
from pathlib import Path

import numpy as np
import pytest
import xxhash
from datatrove.data import Document
from datatrove.pipeline.dedup import MinhashConfig, MinhashDedupSignature
from datatrove.utils.text import PUNCTUATION_TRANS
from hypothesis import given, settings
from hypothesis import strategies as st

from seq2seq_es.corpus.minhash import CompiledMinhashSignature, xxh64
from seq2seq_es.corpus.spanish import RegexWordTokenizer
from seq2seq_es.errors import ConfigError

from .conftest import spanish_doc

TRICKY = [
    "",
    "una dos tres cuatro",  # fewer words than the 5-gram: no shingle, no signature
    (
        "El Niño comió 3,5 kilos de piñones el 12/10/2024, ¿verdad? ¡Sí! «Claro» —dijo— … "
        "fin_de_línea."
    ),
    (
        "cafe\u0301 decomposed, a \u0301 lone accent, 'ﬁ' ligature, ½ half, ２０２４ fullwidth, ٣ "
        "arabic digit."
    ),
    "ΟΔΥΣΣΕΥΣ ΚΑΙ ΠΗΝΕΛΟΠΗ ΣΤΗΝ ΙΘΑΚΗ ΜΕ ΤΟΝ ΤΗΛΕΜΑΧΟ ΣΑΣ",  # final sigma depends on context
    "한국어 문장은 음절로 분해됩니다 그리고 다시 결합하지 않습니다 끝",  # Hangul decomposes to jamo
    (
        "tab\tseparated\u00a0nbsp\u2003em-space\u3000ideographic \u200bzero-width joiners "
        "a\u0308\u0301b x"
    ),
    "straße øre æble ŀl ĳ ǆ Ǆ ﬀ ª º ° § µ ¿por qué? ¡ay! _under_score_ __init__ done",
]


def _datatrove(tmp_path: Path) -> MinhashDedupSignature:
    return MinhashDedupSignature(
        str(tmp_path / "datatrove"), config=MinhashConfig(), language=RegexWordTokenizer()
    )


def test_shingles_and_signatures_match_datatrove(tmp_path: Path) -> None:
    rng = random.Random(5)
    texts = TRICKY + [spanish_doc(rng, paragraphs=3, sentences=3) for _ in range(10)]
    reference, ours = _datatrove(tmp_path), CompiledMinhashSignature(str(tmp_path / "ours"))
    for text in texts:
        expected, shingles = reference.get_shingles(text), ours.get_shingles(text)
        assert shingles.shape == expected.shape and np.array_equal(shingles, expected), text
        if expected.size:
            assert ours.get_signature(shingles) == reference.get_signature(expected), text


@pytest.mark.shared_data
def test_signatures_match_datatrove_on_the_shared_sample(shared_data: Path, tmp_path: Path) -> None:
    with gzip.open(shared_data / "pretrain" / "sample.jsonl.gz", "rt", encoding="utf-8") as handle:
        texts = [json.loads(line)["text"] for line in handle][::10]
    reference, ours = _datatrove(tmp_path), CompiledMinhashSignature(str(tmp_path / "ours"))
    for text in texts:
        assert ours.get_signature(ours.get_shingles(text)) == reference.get_signature(
            reference.get_shingles(text)
        )


def test_signature_files_are_datatroves(tmp_path: Path) -> None:
    """The files datatrove's bucket stage reads are byte-identical (the ``run`` is datatrove's)."""
    rng = random.Random(6)
    docs = [spanish_doc(rng) for _ in range(12)] + TRICKY
    for step in (_datatrove(tmp_path), CompiledMinhashSignature(str(tmp_path / "ours"))):
        step.run(iter(Document(text=t, id=str(i)) for i, t in enumerate(docs)), rank=3)
    expected = sorted(
        p.relative_to(tmp_path / "datatrove")
        for p in (tmp_path / "datatrove").rglob("*")
        if p.is_file()
    )
    assert len(expected) == MinhashConfig().num_buckets
    for relative in expected:
        assert (tmp_path / "ours" / relative).read_bytes() == (
            tmp_path / "datatrove" / relative
        ).read_bytes()


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=120), st.integers(0, 40))
def test_xxh64_matches_xxhash(data: bytes, offset: int) -> None:
    buffer = np.frombuffer(bytes(offset) + data, dtype=np.uint8)
    assert int(xxh64(buffer, offset, len(buffer))) == xxhash.xxh64_intdigest(data)


def test_unicode_facts_the_shortcut_relies_on() -> None:
    """Over all of Unicode: combining characters are never word characters, whitespace maps to
    non-words.

    ``simplify_for_words`` skips datatrove's whitespace collapse and decomposes character
    by character; both are exact only because of these two facts (see its docstring).
    """
    word = re.compile(r"\w")
    characters = [chr(code) for code in range(sys.maxunicode + 1)]
    assert not [c for c in characters if unicodedata.combining(c) and word.match(c)]
    for c in filter(str.isspace, characters):
        mapped = " " if ord(c) in PUNCTUATION_TRANS else unicodedata.normalize("NFD", c)
        assert mapped and not word.search(mapped) and not unicodedata.combining(c), hex(ord(c))


def test_other_normalization_settings_are_refused(tmp_path: Path) -> None:
    from datatrove.utils.hashing import HashConfig

    with pytest.raises(ConfigError, match="MinhashDedupSignature"):
        CompiledMinhashSignature(str(tmp_path), MinhashConfig(hash_config=HashConfig(precision=32)))
