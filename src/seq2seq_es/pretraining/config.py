"""The ``pretrain`` config schema (light: pydantic only, so a config error fails in a second)."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from seq2seq_es.config import VOLATILE, Seed, StrictModel
from seq2seq_es.objectives.config import ObjectiveConfig
from seq2seq_es.training.config import EngineConfig, OptimConfig


class PretrainEngineConfig(EngineConfig):
    """The engine settings of pretraining: validation only reports (nothing is selected by it),
    so how often it runs may change when a run is resumed."""

    eval_every: Annotated[int | None, VOLATILE] = Field(
        None, ge=1, description="Validation every N steps (None: only at the end)."
    )


class PretrainConfig(StrictModel):
    data: str = Field(
        "runs/corpus/shards", description="Corpus shards: a JSONL(.gz) file or folder."
    )
    text_key: str = "text"
    tokenizer: str = "runs/tokenizer"
    output_dir: Annotated[str, VOLATILE] = "runs/pretrain"
    model: str = "barto-tiny"
    seq_len: int = Field(
        128,
        ge=8,
        description="Encoder input tokens per example, specials included "
        "(T5: the corrupted input length, e.g. 512 ← 568 raw tokens).",
    )
    max_tokens: int = Field(
        50_000_000, ge=1, description="Tokenize at most this many corpus tokens."
    )
    validation_blocks: int = Field(64, ge=1)
    dropout: float | None = Field(
        None,
        ge=0,
        lt=1,
        description="None: the preset's (BART 0.1; T5 0, as T5 v1.1 and nanoT5 pretrain).",
    )
    unigram_output_bias: bool = Field(
        True,
        description="BART: start the output bias at the training labels' log "
        "unigram distribution (models/output_prior.py); T5 has none.",
    )
    seed: Seed = 1234
    resume: Annotated[bool, VOLATILE] = Field(
        False, description="Continue from the last checkpoint in output_dir/checkpoints."
    )
    objective: ObjectiveConfig = ObjectiveConfig()
    optim: OptimConfig = OptimConfig()
    engine: PretrainEngineConfig = PretrainEngineConfig()
