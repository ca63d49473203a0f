"""Byte-level BPE with BART's special tokens, trained with the ``tokenizers`` library.

Why byte-level: every Unicode string (ñ, accents, ¿¡, emoji, CJK) round-trips without
``<unk>``, as in BART/RoBERTa. Special tokens take BART's ids: ``<s>``=0, ``<pad>``=1,
``</s>``=2, ``<unk>``=3, ``<mask>``=4 (BART puts ``<mask>`` last; any id works as
long as the model config agrees, and the saved tokenizer says which).
"""

from __future__ import annotations

import itertools
import os
import tempfile
import unicodedata
from collections.abc import Iterable, Iterator
from pathlib import Path

from tokenizers import (
    Tokenizer,
    decoders,
    models,
    normalizers,
    pre_tokenizers,
    processors,
    trainers,
)
from transformers import PreTrainedTokenizerFast

from seq2seq_es.errors import DataError

BART_SPECIAL_TOKENS = ("<s>", "<pad>", "</s>", "<unk>", "<mask>")


def _capped(texts: Iterable[str], max_chars: int, counter: list[int]) -> Iterator[str]:
    """Yield texts (NFC) until ``max_chars`` characters have been yielded."""
    for text in texts:
        if counter[0] >= max_chars:
            return
        text = unicodedata.normalize("NFC", text)
        counter[0] += len(text)
        counter[1] += 1
        yield text


def train_byte_level_bpe(texts: Iterable[str], vocab_size: int, min_frequency: int = 2,
                         max_chars: int = 50_000_000) -> PreTrainedTokenizerFast:
    """Train a BART-style byte-level BPE tokenizer on ``texts``.

    Raises ``DataError`` for an empty corpus and when ``vocab_size`` cannot hold the
    256-byte alphabet plus the special tokens.
    """
    minimum = 256 + len(BART_SPECIAL_TOKENS)
    if vocab_size < minimum:
        raise DataError(f"vocab_size {vocab_size} is smaller than the byte alphabet + specials ({minimum}).")
    texts = iter(texts)
    first = next(texts, None)
    if first is None:
        raise DataError("The corpus is empty: no non-empty text to train a tokenizer on.")
    tokenizer = Tokenizer(models.BPE())
    tokenizer.normalizer = normalizers.NFC()
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        min_frequency=min_frequency,
        special_tokens=list(BART_SPECIAL_TOKENS),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    counter = [0, 0]
    tokenizer.train_from_iterator(_capped(itertools.chain([first], texts), max_chars, counter), trainer=trainer)
    ids = {token: i for i, token in enumerate(BART_SPECIAL_TOKENS)}  # trainer assigns specials first
    tokenizer.post_processor = processors.RobertaProcessing(
        ("</s>", ids["</s>"]), ("<s>", ids["<s>"]),
        trim_offsets=False, add_prefix_space=False,
    )
    return PreTrainedTokenizerFast(
        tokenizer_object=tokenizer,
        bos_token="<s>", eos_token="</s>", unk_token="<unk>", pad_token="<pad>", mask_token="<mask>",
        cls_token="<s>", sep_token="</s>",
    )


def save_tokenizer(tokenizer: PreTrainedTokenizerFast, output_dir: str | Path) -> None:
    """``save_pretrained`` into ``output_dir`` (loads with AutoTokenizer).

    Files are written to a temporary folder first and each renamed into place, so a
    crash never leaves a half-written tokenizer file, and files already in
    ``output_dir`` (the run record) are kept.
    """
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".tokenizer.", dir=output_dir) as tmp:
        tokenizer.save_pretrained(tmp)
        for file in Path(tmp).iterdir():
            os.replace(file, output_dir / file.name)
