"""BARTO's byte-level BPE: exact round trips, BART's special ids, BartTokenizer behaviour."""

from __future__ import annotations

import json
import unicodedata

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from tokenizers import AddedToken
from transformers import (
    BartConfig,
    BartForConditionalGeneration,
    BartTokenizer,
    PreTrainedTokenizerFast,
)

from seq2seq_es.errors import DataError
from seq2seq_es.tokenizer.bpe import BART_SPECIAL_TOKENS, min_bpe_vocab_size, train_byte_level_bpe

HARD_TEXTS = [
    "El niño comió ñoquis con su señora madre en Peñíscola.",
    "Acentos: á é í ó ú Á É Í Ó Ú ü Ü à è ç — y la ÑANDÚ.",
    "¿Dónde está? ¡Qué día! «Comillas» y ‘otras’ “comillas”…",
    "Emoji: 😀🎉👩‍👩‍👧 🇪🇸 ✨ and keycap 1️⃣",
    "CJK: 漢字 かな カタカナ 한국어, árabe: مرحبا, hebreo: שלום",
    "  espacios   dobles\ty\ttabuladores\n\nlíneas\r\nnuevas ",
    "Decomposed → composed: n\u0303 e\u0301",
]


def _round_trip(tokenizer: PreTrainedTokenizerFast, text: str) -> str:
    ids = tokenizer(text, add_special_tokens=False)["input_ids"]
    return tokenizer.decode(ids, clean_up_tokenization_spaces=False)


@pytest.mark.parametrize("text", HARD_TEXTS)
def test_round_trip_is_exact_up_to_nfc(bpe: PreTrainedTokenizerFast, text: str) -> None:
    assert _round_trip(bpe, text) == unicodedata.normalize("NFC", text)


def test_no_unk_and_no_special_token_inside_text(bpe: PreTrainedTokenizerFast) -> None:
    for text in HARD_TEXTS:
        ids = bpe(text, add_special_tokens=False)["input_ids"]
        assert bpe.unk_token_id not in ids
        assert not set(ids) & set(bpe.all_special_ids)


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.characters(exclude_categories=("Cs",)), max_size=60))
def test_round_trip_property(bpe: PreTrainedTokenizerFast, text: str) -> None:
    """Any Unicode string (no lone surrogates: not encodable) round-trips, NFC-normalized."""
    if any(token in text for token in BART_SPECIAL_TOKENS):
        return  # a special token's text is the special token, by design
    assert _round_trip(bpe, text) == unicodedata.normalize("NFC", text)


def test_bart_special_ids_and_wrapping(bpe: PreTrainedTokenizerFast) -> None:
    ids = {token: bpe.convert_tokens_to_ids(token) for token in BART_SPECIAL_TOKENS}
    assert ids == {"<s>": 0, "<pad>": 1, "</s>": 2, "<unk>": 3, "<mask>": 4}
    assert (
        bpe.bos_token_id,
        bpe.pad_token_id,
        bpe.eos_token_id,
        bpe.unk_token_id,
        bpe.mask_token_id,
    ) == (0, 1, 2, 3, 4)
    encoded = bpe("hola")["input_ids"]
    assert encoded[0] == 0 and encoded[-1] == 2
    pair = bpe("hola", "adiós")["input_ids"]
    assert pair.count(2) == 3  # <s> A </s></s> B </s>, as BART/RoBERTa


def test_mask_takes_the_space_before_it(bpe: PreTrainedTokenizerFast) -> None:
    """As BART's ``<mask>`` (lstrip): ' <mask>' is one token, so a masked word takes its space."""
    with_space = bpe("la <mask> casa", add_special_tokens=False)["input_ids"]
    assert bpe.mask_token_id in with_space
    assert bpe.convert_ids_to_tokens(with_space)[1:] == ["<mask>", "Ġcasa"]


def test_behaves_like_transformers_bart_tokenizer(bpe: PreTrainedTokenizerFast) -> None:
    """transformers' BartTokenizer built from the same vocab and merges gives the same ids.

    ``<mask>`` is given BART's flags (``lstrip``, as in ``facebook/bart-base``'s tokenizer.json).
    """
    model = json.loads(bpe.backend_tokenizer.to_str())["model"]
    reference = BartTokenizer(
        vocab=model["vocab"],
        merges=[tuple(m) for m in model["merges"]],
        mask_token=AddedToken("<mask>", lstrip=True, rstrip=False, normalized=False),
    )
    for text in [*HARD_TEXTS[:5], "la <mask> casa es grande", "hola"]:
        assert bpe(text)["input_ids"] == reference(text)["input_ids"], text
    assert bpe("un", "dos")["input_ids"] == reference("un", "dos")["input_ids"]


def test_ids_match_bart_model_config_and_a_model_runs(bpe: PreTrainedTokenizerFast) -> None:
    """BartConfig's defaults (pad 1, bos 0, eos 2, decoder start 2) are these ids; a tiny BART
    trains on them."""
    defaults = BartConfig()
    assert (defaults.pad_token_id, defaults.bos_token_id, defaults.eos_token_id) == (
        bpe.pad_token_id,
        bpe.bos_token_id,
        bpe.eos_token_id,
    )
    assert defaults.decoder_start_token_id == bpe.eos_token_id
    config = BartConfig(
        vocab_size=len(bpe),
        d_model=16,
        encoder_layers=1,
        decoder_layers=1,
        encoder_attention_heads=2,
        decoder_attention_heads=2,
        encoder_ffn_dim=32,
        decoder_ffn_dim=32,
        max_position_embeddings=64,
    )
    torch.manual_seed(0)
    model = BartForConditionalGeneration(config)
    batch = bpe(["la <mask> casa", "¿dónde está el niño?"], padding=True, return_tensors="pt")
    labels = bpe(["la gran casa", "¿dónde está el niño?"], padding=True, return_tensors="pt")[
        "input_ids"
    ]
    labels[labels == bpe.pad_token_id] = -100
    loss = model(**batch, labels=labels).loss
    assert torch.isfinite(loss)


def test_from_models_presets_config_ids(bpe: PreTrainedTokenizerFast) -> None:
    from seq2seq_es.models.presets import build_config

    config = build_config("barto-tiny", bpe)
    assert (config.vocab_size, config.pad_token_id, config.bos_token_id, config.eos_token_id) == (
        len(bpe),
        1,
        0,
        2,
    )


def test_vocab_smaller_than_byte_alphabet(spanish_corpus: list[str]) -> None:
    with pytest.raises(DataError, match="byte alphabet"):
        train_byte_level_bpe(spanish_corpus, vocab_size=min_bpe_vocab_size() - 1)


@pytest.mark.parametrize("corpus", [[], ["", "   ", "\n"]])
def test_empty_corpus(corpus: list[str]) -> None:
    with pytest.raises(DataError, match="empty"):
        train_byte_level_bpe(corpus, vocab_size=1000)


def test_max_chars_caps_the_sample(spanish_corpus: list[str]) -> None:
    small = train_byte_level_bpe(spanish_corpus, vocab_size=5000, max_chars=2000)
    large = train_byte_level_bpe(spanish_corpus, vocab_size=5000)
    assert len(small) < len(large) <= 5000
