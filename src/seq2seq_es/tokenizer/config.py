"""Config of the tokenizer stage."""

from __future__ import annotations

from pydantic import Field

from seq2seq_es.config import StrictModel


class TokenizerConfig(StrictModel):
    """Train a tokenizer on corpus shards (or any JSONL(.gz) files with a text field)."""

    input: str = Field("runs/corpus/shards", description="Folder of *.jsonl.gz shards, or one JSONL(.gz) file.")
    text_key: str = "text"
    output_dir: str = "runs/tokenizer"
    vocab_size: int = Field(8000, ge=300)
    min_frequency: int = Field(2, ge=1)
    max_chars: int = Field(50_000_000, gt=0, description="Train on at most this many characters (sample size).")
