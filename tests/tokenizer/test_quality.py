"""The quality statistics of the tokenizer report, on hand-checked examples."""

from __future__ import annotations

import pytest
from transformers import PreTrainedTokenizerFast

from seq2seq_es.tokenizer.quality import TokenizerQuality, measure_quality, tokens_per_word


def test_tokens_per_word_by_offsets() -> None:
    text = "¿Dónde está?"
    #        ¿    Dón   de    ▁está  ?
    offsets = [(0, 1), (1, 4), (4, 6), (6, 11), (11, 12)]
    assert tokens_per_word(text, offsets) == [
        2,
        1,
    ]  # "Dónde" in 2 tokens, "está" whole, ¿ ? are not words


def test_leading_space_and_byte_tokens() -> None:
    text = "un niño"
    # "un", then "Ġni" covering " ni", then two byte-level tokens that both cover "ñ", then "o"
    offsets = [(0, 2), (2, 5), (5, 6), (5, 6), (6, 7)]
    assert tokens_per_word(text, offsets) == [1, 4]
    assert tokens_per_word(text, [(0, 0), (0, 7)]) == [
        1,
        1,
    ]  # empty spans ignored; one token over both words


def test_rates() -> None:
    quality = TokenizerQuality(
        texts=4,
        chars=100,
        words=20,
        tokens=40,
        word_tokens=30,
        split_words=5,
        unk_tokens=2,
        exact_round_trips=3,
    )
    assert (
        quality.fertility,
        quality.split_share,
        quality.unk_rate,
        quality.round_trip,
        quality.chars_per_token,
    ) == (1.5, 0.25, 0.05, 0.75, 2.5)
    assert quality.to_dict()["fertility"] == 1.5 and quality.to_dict()["words"] == 20


@pytest.mark.parametrize("name", ["bpe", "unigram"])
def test_measure_quality_on_spanish(
    name: str, request: pytest.FixtureRequest, spanish_corpus: list[str]
) -> None:
    tokenizer: PreTrainedTokenizerFast = request.getfixturevalue(name)
    texts = [*spanish_corpus[:30], "¿Qué tal? Kiwi 😀 漢字"]
    quality = measure_quality(tokenizer, texts, batch_size=8)
    assert quality.texts == len(texts)
    assert quality.unk_rate == 0.0
    assert quality.round_trip == 1.0
    assert 1.0 <= quality.fertility < 3.0
    assert 0.0 < quality.split_share < 1.0
    assert quality.word_tokens <= quality.tokens


def test_unk_is_counted() -> None:
    """A vocabulary without byte fallback maps an unseen character to <unk>, and the report sees
    it."""
    from tokenizers import Tokenizer, models, pre_tokenizers

    backend = Tokenizer(models.WordLevel({"<unk>": 0, "hola": 1}, unk_token="<unk>"))
    backend.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=backend, unk_token="<unk>")
    quality = measure_quality(tokenizer, ["hola mundo"])
    assert quality.unk_rate == 0.5 and quality.round_trip == 0.0
