"""The ``export`` command's settings: which model, where to, which CTranslate2 weight type.

A light module (pydantic only): importing it must not load torch, transformers or ctranslate2,
so a typo in ``quantization=`` fails in a second.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from seq2seq_es.config import StrictModel

Quantization = Literal["int8", "int8_float32", "float32", "int8_float16", "float16"]


class ExportConfig(StrictModel):
    model: str = Field(
        "runs/finetune/model",
        description="A BART or T5 folder written by pretrain/finetune "
        "(save_pretrained, with its tokenizer).",
    )
    tokenizer: str | None = Field(
        None, description="Tokenizer folder, when it is not saved next to the model."
    )
    output_dir: str = Field(
        "runs/export", description="The exported folder (replaced atomically if it exists)."
    )
    format: Literal["ct2"] = Field("ct2", description="ct2: CTranslate2, served with engine=ct2.")
    quantization: Quantization = Field(
        "int8",
        description="Weight type on disk; int8 is the fast CPU choice, float32 the exact one.",
    )
