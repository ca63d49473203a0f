"""Tiny random BERT / RoBERTa / BART checkpoints, saved locally with tokenizers trained here.

Everything is offline: tokenizers are trained on a few generated Spanish-like sentences
(WordPiece for BERT, byte-level BPE for RoBERTa and BART), and each model is a random
instance of its real config class written with ``save_pretrained``.
"""

from __future__ import annotations

import random
from pathlib import Path

import pytest
import torch
from tokenizers import (
    Tokenizer,
    decoders,
    models,
    normalizers,
    pre_tokenizers,
    processors,
    trainers,
)
from transformers import (
    BartConfig,
    BartForConditionalGeneration,
    BertConfig,
    BertForMaskedLM,
    PreTrainedTokenizerFast,
    RobertaConfig,
    RobertaForMaskedLM,
)

from seq2seq_es.tokenizer.bpe import train_byte_level_bpe

WORDS = [
    "el",
    "niño",
    "come",
    "pan",
    "con",
    "su",
    "madre",
    "en",
    "la",
    "casa",
    "grande",
    ".",
    "¿",
    "dónde",
    "está",
    "el",
    "perro",
    "?",
    "¡",
    "qué",
    "día",
    "tan",
    "bonito",
    "!",
    "la",
    "señora",
    "lee",
    "un",
    "libro",
    "viejo",
    "y",
    "el",
    "señor",
    "bebe",
    "café",
    "caliente",
    "por",
    "la",
    "mañana",
]


def sentences(n: int, seed: int = 0) -> list[str]:
    rng = random.Random(seed)
    return [" ".join(rng.choice(WORDS) for _ in range(rng.randint(4, 12))) for _ in range(n)]


def train_wordpiece(texts: list[str], vocab_size: int) -> PreTrainedTokenizerFast:
    """A BERT-style WordPiece tokenizer: [PAD]=0 [UNK]=1 [CLS]=2 [SEP]=3 [MASK]=4."""
    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    tokenizer = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    tokenizer.normalizer = normalizers.BertNormalizer(lowercase=False)
    tokenizer.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tokenizer.decoder = decoders.WordPiece()
    tokenizer.train_from_iterator(
        texts,
        trainers.WordPieceTrainer(
            vocab_size=vocab_size, special_tokens=specials, show_progress=False
        ),
    )
    tokenizer.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]",
        pair="[CLS] $A [SEP] $B [SEP]",
        special_tokens=[
            ("[CLS]", tokenizer.token_to_id("[CLS]")),
            ("[SEP]", tokenizer.token_to_id("[SEP]")),
        ],
    )
    return PreTrainedTokenizerFast(
        tokenizer_object=tokenizer,
        unk_token="[UNK]",
        pad_token="[PAD]",
        cls_token="[CLS]",
        sep_token="[SEP]",
        mask_token="[MASK]",
    )


def _encoder_dims() -> dict[str, int]:
    return dict(
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=4,
        intermediate_size=64,
        max_position_embeddings=128,
    )


@pytest.fixture(scope="session")
def corpus() -> list[str]:
    return sentences(200)


@pytest.fixture(scope="session")
def bert_dir(tmp_path_factory: pytest.TempPathFactory, corpus: list[str]) -> Path:
    folder = tmp_path_factory.mktemp("tiny-bert")
    tokenizer = train_wordpiece(corpus, vocab_size=120)
    torch.manual_seed(0)
    BertForMaskedLM(
        BertConfig(
            vocab_size=len(tokenizer), pad_token_id=tokenizer.pad_token_id, **_encoder_dims()
        )
    ).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


@pytest.fixture(scope="session")
def roberta_dir(tmp_path_factory: pytest.TempPathFactory, corpus: list[str]) -> Path:
    folder = tmp_path_factory.mktemp("tiny-roberta")
    tokenizer = train_byte_level_bpe(corpus, vocab_size=300, min_frequency=1)
    torch.manual_seed(0)
    dims = _encoder_dims() | {"max_position_embeddings": 130}  # RoBERTa offsets positions by pad+1
    RobertaForMaskedLM(
        RobertaConfig(
            vocab_size=len(tokenizer),
            pad_token_id=tokenizer.pad_token_id,
            bos_token_id=tokenizer.bos_token_id,
            eos_token_id=tokenizer.eos_token_id,
            **dims,
        )
    ).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


@pytest.fixture(scope="session")
def bart_dir(tmp_path_factory: pytest.TempPathFactory, corpus: list[str]) -> Path:
    folder = tmp_path_factory.mktemp("tiny-bart")
    tokenizer = train_byte_level_bpe(corpus, vocab_size=300, min_frequency=1)
    torch.manual_seed(0)
    config = BartConfig(
        vocab_size=len(tokenizer),
        d_model=32,
        encoder_layers=2,
        decoder_layers=2,
        encoder_attention_heads=4,
        decoder_attention_heads=4,
        encoder_ffn_dim=64,
        decoder_ffn_dim=64,
        max_position_embeddings=64,
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        decoder_start_token_id=tokenizer.eos_token_id,
        forced_eos_token_id=tokenizer.eos_token_id,
    )
    BartForConditionalGeneration(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder
