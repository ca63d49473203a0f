"""BARTO's vocabulary: byte-level BPE with BART's special tokens, trained with ``tokenizers``.

Why byte-level: every Unicode string (ñ, accents, ¿¡, emoji, CJK) is a sequence of the
256 byte symbols, so it round-trips without ``<unk>``, as in GPT-2/BART/RoBERTa. Special
tokens take BART's ids ``<s>``=0, ``<pad>``=1, ``</s>``=2, ``<unk>``=3, then ``<mask>``=4
(``facebook/bart-base`` puts ``<mask>`` last, at 50264; any id works as long as the model
config agrees, and ``models/presets.py`` reads the ids from the tokenizer). Like
``BartTokenizerFast``, encoding wraps a text as ``<s> … </s>`` and ``<mask>`` swallows the
space before it (``lstrip``), so ``"la <mask> casa"`` masks the word with its space.
"""

from __future__ import annotations

from collections.abc import Iterable

from tokenizers import (
    AddedToken,
    Tokenizer,
    decoders,
    models,
    pre_tokenizers,
    processors,
    trainers,
)
from transformers import PreTrainedTokenizerFast

from seq2seq_es.errors import DataError
from seq2seq_es.tokenizer.normalization import Normalization, tokenizers_normalizer
from seq2seq_es.tokenizer.sampling import TrainingSample

BART_SPECIAL_TOKENS = ("<s>", "<pad>", "</s>", "<unk>", "<mask>")
BYTE_ALPHABET_SIZE = 256


def min_bpe_vocab_size() -> int:
    """The 256 byte symbols plus BART's five special tokens: a BPE with no merge at all."""
    return BYTE_ALPHABET_SIZE + len(BART_SPECIAL_TOKENS)


def train_byte_level_bpe(
    texts: Iterable[str] | TrainingSample,
    vocab_size: int,
    min_frequency: int = 2,
    max_chars: int = 50_000_000,
    normalization: Normalization = "nfc",
) -> PreTrainedTokenizerFast:
    """Train a BART-style byte-level BPE tokenizer on the first ``max_chars`` characters of
    ``texts``.

    ``vocab_size`` counts everything (bytes, merges, special tokens); the result can be
    smaller when the sample has fewer pairs seen ``min_frequency`` times. A ready
    ``TrainingSample`` brings its own size cap and normalization (``max_chars`` and
    ``normalization`` are then not used). Raises
    ``DataError`` for an empty corpus and when ``vocab_size`` cannot hold the byte
    alphabet plus the special tokens.
    """
    if vocab_size < min_bpe_vocab_size():
        raise DataError(
            f"vocab_size {vocab_size} is smaller than the byte alphabet plus BART's special tokens "
            f"({BYTE_ALPHABET_SIZE} + {len(BART_SPECIAL_TOKENS)} = {min_bpe_vocab_size()}). "
            "Use a larger vocab_size (BART uses 50264)."
        )
    sample = (
        texts
        if isinstance(texts, TrainingSample)
        else TrainingSample(texts, max_chars, normalization)
    )
    sample.first_text_or_raise()
    tokenizer = Tokenizer(models.BPE())
    tokenizer.normalizer = tokenizers_normalizer(sample.normalization)
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        min_frequency=min_frequency,
        special_tokens=[_special(token) for token in BART_SPECIAL_TOKENS],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tokenizer.train_from_iterator(sample, trainer=trainer)
    ids = {token: i for i, token in enumerate(BART_SPECIAL_TOKENS)}
    assert all(
        tokenizer.token_to_id(token) == i for token, i in ids.items()
    )  # the trainer puts specials first
    tokenizer.post_processor = processors.RobertaProcessing(
        ("</s>", ids["</s>"]),
        ("<s>", ids["<s>"]),
        trim_offsets=False,
        add_prefix_space=False,
    )
    return PreTrainedTokenizerFast(
        tokenizer_object=tokenizer,
        bos_token="<s>",
        eos_token="</s>",
        unk_token="<unk>",
        pad_token="<pad>",
        cls_token="<s>",
        sep_token="</s>",
        mask_token=_special("<mask>"),
    )


def _special(token: str) -> AddedToken:
    """BART's added-token flags: never normalized; ``<mask>`` also takes the space before it."""
    return AddedToken(token, lstrip=token == "<mask>", rstrip=False, normalized=False, special=True)
