"""Configs of the tokenizer stage: training one tokenizer, and the report comparing several."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from seq2seq_es.config import VOLATILE, StrictModel
from seq2seq_es.tokenizer.normalization import Normalization

# The tokenizers library takes 32-bit sizes (vocab_size=10**20 was an OverflowError traceback,
# found by tests/test_cli_fuzz.py); the largest vocabularies in use are ~256k (mT5, Gemma).
MAX_VOCAB = 1_000_000


class TokenizerConfig(StrictModel):
    """Train a tokenizer on corpus shards (or any JSONL(.gz) files with a text field).

    ``kind: bpe`` is BARTO's byte-level BPE with BART's special tokens; ``kind: unigram``
    is T5S's sentencepiece unigram with T5's ids, sentinels and byte fallback.
    """

    input: str = Field(
        "runs/corpus/shards", description="Folder of *.jsonl.gz shards, or one JSONL(.gz) file."
    )
    text_key: str = "text"
    output_dir: Annotated[str, VOLATILE] = "runs/tokenizer"
    kind: Literal["bpe", "unigram"] = "bpe"
    vocab_size: int = Field(
        8000,
        gt=0,
        le=MAX_VOCAB,
        description="Size of the whole vocabulary, special tokens and sentinels included "
        "(BART 50264, T5 32128); an upper bound: a small sample gives fewer.",
    )
    normalization: Normalization = Field(
        "nfc",
        description="Unicode form applied before training and encoding; "
        "case and accents are always kept.",
    )
    max_chars: int = Field(
        50_000_000,
        gt=0,
        description="Sample size: train on the first this-many characters of the shards, read one "
        "document of each shard in turn.",
    )
    min_frequency: int = Field(
        2, ge=1, le=2**31 - 1, description="bpe: a merge needs a pair seen at least this often."
    )
    character_coverage: float = Field(
        0.9995,
        gt=0,
        le=1,
        description="unigram: share of the sample's characters "
        "that get a piece; the rest falls back to bytes.",
    )
    extra_ids: int = Field(
        100, ge=0, description="unigram: number of <extra_id_N> sentinels (T5: 100)."
    )


class HeldOutText(StrictModel):
    """A JSONL(.gz) file of held-out text, e.g. the ``es`` field of a translation dev set."""

    name: str
    path: str
    text_key: str = "text"
    max_texts: int | None = Field(
        5000, gt=0, description="Read at most this many records (None: all)."
    )


class EnglishBaselineConfig(StrictModel):
    """An English byte-level BPE trained exactly like BARTO's, to show what a Spanish vocabulary
    buys."""

    input: str = "../shared/data/translation/tatoeba_es_en_train.jsonl.gz"
    text_key: str = "en"
    vocab_size: int = Field(8000, gt=0, le=MAX_VOCAB)
    min_frequency: int = Field(2, ge=1, le=2**31 - 1)
    max_chars: int = Field(50_000_000, gt=0)


def _default_heldout() -> list[HeldOutText]:
    data = "../shared/data/translation"
    return [
        HeldOutText(name="ntrex-es", path=f"{data}/ntrex128_es_en_dev.jsonl", text_key="es"),
        HeldOutText(
            name="tatoeba-es", path=f"{data}/tatoeba_es_en_validation.jsonl.gz", text_key="es"
        ),
        HeldOutText(name="ntrex-en", path=f"{data}/ntrex128_es_en_dev.jsonl", text_key="en"),
    ]


class TokenizerReportConfig(StrictModel):
    """Compare trained tokenizers (and an English baseline) on held-out text."""

    tokenizers: dict[str, str] = Field(
        default_factory=lambda: {
            "barto-bpe": "runs/tokenizer-barto",
            "t5s-unigram": "runs/tokenizer-t5s",
        },
        description="Name → tokenizer folder (the output_dir of `seq2seq-es tokenizer`).",
    )
    english_baseline: EnglishBaselineConfig | None = Field(default_factory=EnglishBaselineConfig)
    heldout: list[HeldOutText] = Field(default_factory=_default_heldout, min_length=1)
    output_dir: str = "runs/tokenizer-report"
