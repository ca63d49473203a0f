"""T5S's vocabulary: a SentencePiece unigram model with T5's ids, sentinels and byte fallback.

The model is trained with the ``sentencepiece`` library (the trainer T5 used) and saved as
a ``tokenizers`` Unigram model, so it loads with ``AutoTokenizer`` and encodes exactly as
the ``sentencepiece`` processor does on the same normalized text. The layout is T5's
(``T5TokenizerFast`` / seqio ``SentencePieceVocabulary(extra_ids=100)``):

* ``<pad>``=0, ``</s>``=1, ``<unk>``=2; no ``<s>``; encoding appends ``</s>``;
* then 256 byte pieces ``<0x00>``…``<0xFF>`` (sentencepiece ``byte_fallback``): a character
  outside the vocabulary becomes its UTF-8 bytes instead of ``<unk>``;
* then the learned pieces, ``▁`` marking a preceding space (``Metaspace``);
* then the sentinels, last, in reverse: ``<extra_id_0>`` is the highest id,
  ``<extra_id_99>`` = ``len(tokenizer) - 100``.

Differences from T5's own vocabulary, on purpose: the normalization is NFC (T5: ``nmt_nfkc``,
which also folds whitespace runs and can never produce a newline), and whitespace is kept
as is, so held-out text round-trips exactly. ``vocab_size`` counts everything, sentinels
included (T5S: 32,128).
"""

from __future__ import annotations

import io
import os
from collections.abc import Iterable, Iterator

import sentencepiece as spm
from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers, processors
from transformers import PreTrainedTokenizerFast

from seq2seq_es.errors import DataError
from seq2seq_es.tokenizer.normalization import Normalization, tokenizers_normalizer
from seq2seq_es.tokenizer.sampling import TrainingSample

T5_CONTROL_TOKENS = ("<pad>", "</s>", "<unk>")  # ids 0, 1, 2 as in T5
BYTE_PIECES = 256
# Byte pieces only serve the fallback: sentencepiece never matches them against text. In a
# ``tokenizers`` Unigram every piece is matchable, so they get a score far below any learned
# piece; then the literal text "<0x41>" is spelled with ordinary pieces, as sentencepiece does
# (as long as "<" and ">" have pieces; a rare character gets the unknown-piece score, even lower).
BYTE_PIECE_SCORE = -1e6
# sentencepiece skips training sentences longer than this many bytes; paragraphs are far shorter.
MAX_SENTENCE_BYTES = 1 << 16


def sentinel_tokens(extra_ids: int) -> list[str]:
    """``<extra_id_0>`` … ``<extra_id_{n-1}>``, the span-corruption sentinels of T5."""
    return [f"<extra_id_{i}>" for i in range(extra_ids)]


def min_unigram_vocab_size(extra_ids: int) -> int:
    """Control tokens + byte pieces + sentinels: what is left over holds the learned pieces."""
    return len(T5_CONTROL_TOKENS) + BYTE_PIECES + extra_ids + 1


def train_unigram(
    texts: Iterable[str] | TrainingSample,
    vocab_size: int,
    extra_ids: int = 100,
    character_coverage: float = 0.9995,
    max_chars: int = 50_000_000,
    normalization: Normalization = "nfc",
) -> PreTrainedTokenizerFast:
    """Train a T5-style unigram tokenizer of ``vocab_size`` ids (sentinels included).

    ``character_coverage`` is sentencepiece's: the share of characters of the sample that
    get their own piece; the rarest rest is spelled in bytes. ``vocab_size`` is an upper
    bound, as for the BPE: a sample too small for it gives fewer learned pieces. Raises
    ``DataError`` for an empty corpus and a ``vocab_size`` too small for the control, byte
    and sentinel tokens plus the sample's characters. A ready
    ``TrainingSample`` brings its own size cap and normalization.
    """
    if vocab_size < min_unigram_vocab_size(extra_ids):
        raise DataError(
            f"vocab_size {vocab_size} cannot hold T5's {len(T5_CONTROL_TOKENS)} control tokens, "
            f"{BYTE_PIECES} byte pieces and {extra_ids} sentinels plus any learned piece (minimum "
            f"{min_unigram_vocab_size(extra_ids)}). Use a larger vocab_size (T5 uses 32128)."
        )
    sample = (
        texts
        if isinstance(texts, TrainingSample)
        else TrainingSample(texts, max_chars, normalization)
    )
    sample.first_text_or_raise()
    proto = sentencepiece_unigram_proto(sample, vocab_size - extra_ids, character_coverage)
    return unigram_tokenizer_from_sentencepiece(proto, extra_ids, sample.normalization)


def _sentences(texts: Iterable[str]) -> Iterator[str]:
    """sentencepiece trains on lines: one non-blank paragraph at a time."""
    for text in texts:
        for line in text.split("\n"):
            if line.strip():
                yield line


def sentencepiece_unigram_proto(
    texts: Iterable[str], pieces: int, character_coverage: float
) -> bytes:
    """Run sentencepiece's unigram trainer on ``texts`` (already normalized); return the model
    proto.

    ``pieces`` counts T5's control tokens and the byte pieces, not the sentinels.
    """
    model = io.BytesIO()
    try:
        spm.SentencePieceTrainer.train(
            sentence_iterator=_sentences(texts),
            model_writer=model,
            model_type="unigram",
            vocab_size=pieces,
            pad_id=0,
            eos_id=1,
            unk_id=2,
            bos_id=-1,
            byte_fallback=True,
            # The text is already normalized (TrainingSample) and whitespace is kept verbatim.
            normalization_rule_name="identity",
            remove_extra_whitespaces=False,
            character_coverage=character_coverage,
            max_sentence_length=MAX_SENTENCE_BYTES,
            # A soft limit, like the BPE trainer: a sample too small for ``pieces`` gives fewer
            # pieces (the summary shows the real size) and the sentinels still come last.
            hard_vocab_limit=False,
            num_threads=os.cpu_count() or 1,
            minloglevel=2,
        )
    except RuntimeError as exc:
        raise DataError(
            f"sentencepiece could not train a unigram model of {pieces} pieces (+ sentinels): "
            f"{str(exc).rstrip('.')}. If the vocabulary is too small for the characters of the "
            "corpus, raise vocab_size or lower character_coverage."
        ) from None
    return model.getvalue()


def unigram_tokenizer_from_sentencepiece(
    proto: bytes, extra_ids: int, normalization: Normalization
) -> PreTrainedTokenizerFast:
    """Turn a sentencepiece model with T5's control ids into a ``tokenizers``-backed T5
    tokenizer."""
    processor = spm.SentencePieceProcessor(model_proto=proto)
    vocab = [
        (
            processor.id_to_piece(i),
            BYTE_PIECE_SCORE if processor.is_byte(i) else processor.get_score(i),
        )
        for i in range(processor.get_piece_size())
    ]
    assert [piece for piece, _ in vocab[:3]] == list(T5_CONTROL_TOKENS), vocab[:3]
    sentinels = sentinel_tokens(extra_ids)
    vocab += [(token, 0.0) for token in reversed(sentinels)]

    tokenizer = Tokenizer(
        models.Unigram(vocab, unk_id=T5_CONTROL_TOKENS.index("<unk>"), byte_fallback=True)
    )
    tokenizer.normalizer = tokenizers_normalizer(normalization)
    tokenizer.pre_tokenizer = pre_tokenizers.Metaspace(
        replacement="▁", prepend_scheme="always", split=True
    )
    tokenizer.decoder = decoders.Sequence(
        [
            decoders.ByteFallback(),
            decoders.Metaspace(replacement="▁", prepend_scheme="always", split=True),
        ]
    )
    # A sentinel takes the space before it (lstrip), like BART's <mask>: "la <extra_id_0> casa" is
    # ▁la <extra_id_0> ▁casa, as in T5 and as span corruption builds inputs (whole ▁-pieces
    # dropped).
    tokenizer.add_special_tokens(
        [AddedToken(token, normalized=False, special=True) for token in T5_CONTROL_TOKENS]
    )
    tokenizer.add_special_tokens(
        [AddedToken(token, lstrip=True, normalized=False, special=True) for token in sentinels]
    )
    eos_id = T5_CONTROL_TOKENS.index("</s>")
    tokenizer.post_processor = processors.TemplateProcessing(
        single="$A </s>", pair="$A </s> $B </s>", special_tokens=[("</s>", eos_id)]
    )
    return PreTrainedTokenizerFast(
        tokenizer_object=tokenizer,
        eos_token="</s>",
        unk_token="<unk>",
        pad_token="<pad>",
        extra_special_tokens=sentinels,
    )
