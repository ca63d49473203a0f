"""Config schemas of the ``model`` commands (light: pydantic only)."""

from __future__ import annotations

from pydantic import Field

from seq2seq_es.config import StrictModel


class ModelInfoConfig(StrictModel):
    path: str = Field(description="A model folder, a Hugging Face Hub id, or a preset name (barto-base, t5s-base, …).")


class Bert2BertConfig(StrictModel):
    encoder: str = Field(description="BERT/RoBERTa folder or hub id.")
    output: str = Field(description="Folder to write.")
    decoder: str | None = Field(None, description="Decoder checkpoint (default: the encoder).")
    share: bool = Field(False, description="Tie encoder and decoder weights.")
    seed: int = Field(0, description="Seed of the new cross-attention weights.")


class ToLedConfig(StrictModel):
    bart: str = Field(description="BART folder or hub id.")
    output: str = Field(description="Folder to write.")
    max_positions: int = Field(16_384, description="Encoder positions of the LED.")
    attention_window: int = Field(512, description="Sliding-window size (even).")
