"""T5S's unigram: T5's ids and sentinel order, byte fallback, sentencepiece and T5Tokenizer
parity."""

from __future__ import annotations

import json
import re
import unicodedata

import pytest
import sentencepiece as spm
import torch
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from transformers import PreTrainedTokenizerFast, T5Config, T5ForConditionalGeneration, T5Tokenizer

from seq2seq_es.errors import DataError
from seq2seq_es.tokenizer.sampling import TrainingSample
from seq2seq_es.tokenizer.unigram import (
    BYTE_PIECES,
    min_unigram_vocab_size,
    sentencepiece_unigram_proto,
    train_unigram,
    unigram_tokenizer_from_sentencepiece,
)

RARE_TEXTS = [
    "¿Dónde está el pingüino? ¡Qué año tan raro!",
    "Kiwi, whisky y jazz: wéstern «klaxon» — 😀🎉 漢字 한국어 مرحبا",
    "Ñandú, Ångström, œuvre, ß, ğ, ł, ż, ř, ŉ",
    "líneas\nnuevas\ty  espacios dobles",
]


def test_t5_control_ids(unigram: PreTrainedTokenizerFast) -> None:
    assert (unigram.pad_token_id, unigram.eos_token_id, unigram.unk_token_id) == (0, 1, 2)
    assert unigram.convert_ids_to_tokens([0, 1, 2]) == ["<pad>", "</s>", "<unk>"]
    assert unigram.bos_token_id is None  # T5 has no <s>
    ids = unigram("hola")["input_ids"]
    assert ids[-1] == 1 and 1 not in ids[:-1]  # "$A </s>", as T5TokenizerFast


def test_sentinels_are_the_last_100_ids_in_t5_order(unigram: PreTrainedTokenizerFast) -> None:
    size = len(unigram)
    assert size == 600
    sentinel_ids = unigram.convert_tokens_to_ids([f"<extra_id_{i}>" for i in range(100)])
    assert sentinel_ids == [size - 1 - i for i in range(100)]  # <extra_id_0> is the highest id
    assert sorted(sentinel_ids) == list(range(size - 100, size))
    assert all(f"<extra_id_{i}>" in unigram.all_special_tokens for i in range(100))
    # a sentinel in text is one token, and decodes back
    ids = unigram("la <extra_id_0> casa", add_special_tokens=False)["input_ids"]
    assert size - 1 in ids


def test_byte_pieces_follow_the_control_tokens(unigram: PreTrainedTokenizerFast) -> None:
    assert unigram.convert_ids_to_tokens([3, 3 + BYTE_PIECES - 1]) == ["<0x00>", "<0xFF>"]


@pytest.mark.parametrize("text", RARE_TEXTS)
def test_byte_fallback_no_unk_and_exact_round_trip(
    unigram: PreTrainedTokenizerFast, text: str
) -> None:
    ids = unigram(text, add_special_tokens=False)["input_ids"]
    assert unigram.unk_token_id not in ids
    assert unigram.decode(ids, clean_up_tokenization_spaces=False) == unicodedata.normalize(
        "NFC", text
    )


def test_every_character_of_the_spanish_alphabet_is_known(unigram: PreTrainedTokenizerFast) -> None:
    alphabet = "abcdefghijklmnñopqrstuvwxyzáéíóúüABCDEFGHIJKLMNÑOPQRSTUVWXYZÁÉÍÓÚÜ¿¡«»"
    ids = unigram(" ".join(alphabet), add_special_tokens=False)["input_ids"]
    assert unigram.unk_token_id not in ids
    assert unigram.decode(ids) == " ".join(alphabet)


def test_matches_the_sentencepiece_processor(spanish_corpus: list[str]) -> None:
    """The saved ``tokenizers`` model encodes as sentencepiece does (rare chars → same byte ids)."""
    markup = [
        "etiqueta <b> y valor 0x41 > 3, código <i> 0x2A < 9"
    ] * 20  # so "<0x41>" has ordinary pieces
    proto = sentencepiece_unigram_proto(
        TrainingSample([*spanish_corpus, *markup], 10**9), pieces=500, character_coverage=1.0
    )
    tokenizer = unigram_tokenizer_from_sentencepiece(proto, extra_ids=100, normalization="nfc")
    processor = spm.SentencePieceProcessor(model_proto=proto)
    for text in [*spanish_corpus[:20], *RARE_TEXTS[:3], "literal <0x41> text"]:
        assert tokenizer(text, add_special_tokens=False)["input_ids"] == processor.encode(text), (
            text
        )


def test_behaves_like_transformers_t5_tokenizer(unigram: PreTrainedTokenizerFast) -> None:
    """transformers' T5Tokenizer built from the same pieces gives the same ids on ordinary text.

    (T5Tokenizer has no byte fallback and folds whitespace; those are the deliberate differences.)
    """
    vocab = [
        tuple(entry) for entry in json.loads(unigram.backend_tokenizer.to_str())["model"]["vocab"]
    ]
    reference = T5Tokenizer(
        vocab=vocab, extra_ids=100
    )  # as t5-small's tokenizer.json: sentinels in the vocab
    assert len(reference) == len(unigram)
    for text in [
        "¿Dónde está el niño? ¡Qué día!",
        "la <extra_id_0> casa <extra_id_1> grande",
        "hola",
    ]:
        assert unigram(text)["input_ids"] == reference(text)["input_ids"], text
    assert reference.convert_tokens_to_ids("<extra_id_0>") == unigram.convert_tokens_to_ids(
        "<extra_id_0>"
    )


def test_ids_match_t5_model_config_and_a_model_runs(unigram: PreTrainedTokenizerFast) -> None:
    """T5Config's defaults (pad 0, eos 1) are these ids; a tiny T5 runs on them.

    transformers 5's T5Config has no default decoder start id: T5 checkpoints set it to the pad id
    (0).
    """
    defaults = T5Config()
    assert (defaults.pad_token_id, defaults.eos_token_id) == (
        unigram.pad_token_id,
        unigram.eos_token_id,
    )
    config = T5Config(
        vocab_size=len(unigram),
        d_model=16,
        d_kv=8,
        d_ff=32,
        num_layers=1,
        num_heads=2,
        decoder_start_token_id=unigram.pad_token_id,
    )
    torch.manual_seed(0)
    model = T5ForConditionalGeneration(config)
    batch = unigram(
        ["la <extra_id_0> casa", "¿dónde <extra_id_0> el niño?"], padding=True, return_tensors="pt"
    )
    labels = unigram(
        ["<extra_id_0> gran <extra_id_1>", "<extra_id_0> está <extra_id_1>"],
        padding=True,
        return_tensors="pt",
    )["input_ids"]
    labels[labels == unigram.pad_token_id] = -100
    assert torch.isfinite(model(**batch, labels=labels).loss)


def test_vocab_too_small_for_specials_bytes_and_sentinels(spanish_corpus: list[str]) -> None:
    with pytest.raises(DataError, match="sentinels"):
        train_unigram(spanish_corpus, vocab_size=min_unigram_vocab_size(100) - 1)


def test_vocab_smaller_than_the_alphabet(spanish_corpus: list[str]) -> None:
    """Every character of the sample needs a piece at character_coverage=1: a clear error, not a
    crash."""
    with pytest.raises(DataError, match="vocab_size"):
        train_unigram(
            spanish_corpus, vocab_size=min_unigram_vocab_size(100) + 5, character_coverage=1.0
        )


def test_vocab_too_large_for_the_corpus_is_an_upper_bound(spanish_corpus: list[str]) -> None:
    """As the BPE trainer: fewer pieces than asked for, sentinels still the last ids."""
    tokenizer = train_unigram(spanish_corpus[:5], vocab_size=5000)
    assert min_unigram_vocab_size(100) < len(tokenizer) < 5000
    assert tokenizer.convert_tokens_to_ids("<extra_id_0>") == len(tokenizer) - 1


@pytest.mark.parametrize("corpus", [[], ["", "  \n "]])
def test_empty_corpus(corpus: list[str]) -> None:
    with pytest.raises(DataError, match="empty"):
        train_unigram(corpus, vocab_size=1000)


@settings(max_examples=150, deadline=None)
@given(st.text(alphabet=st.characters(exclude_categories=("Cs",)), max_size=60))
def test_round_trip_property(unigram: PreTrainedTokenizerFast, text: str) -> None:
    """Any NFC string round-trips, except what Metaspace cannot tell apart from its own markers
    (a leading space: the prepended ``▁`` absorbs it; the ``▁`` character itself) and the text of a
    special token or of a byte piece, which is that token."""
    assume("▁" not in text and not text.startswith(" "))
    assume(not re.search(r"<0x[0-9A-F]{2}>|</s>|<pad>|<unk>|<extra_id_\d+>", text))
    ids = unigram(text, add_special_tokens=False)["input_ids"]
    assert unigram.unk_token_id not in ids
    assert unigram.decode(ids, clean_up_tokenization_spaces=False) == unicodedata.normalize(
        "NFC", text
    )
