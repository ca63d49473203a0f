"""Optimisation settings shared by pretraining and fine-tuning."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from seq2seq_es.config import StrictModel


class OptimConfig(StrictModel):
    steps: int = Field(300, ge=1, description="Optimizer steps.")
    batch_size: int = Field(16, ge=1)
    lr: float = Field(1e-3, gt=0)
    weight_decay: float = Field(0.01, ge=0)
    warmup_steps: int = Field(30, ge=0)
    schedule: Literal["linear", "cosine", "constant_with_warmup"] = "linear"
    max_grad_norm: float = Field(1.0, gt=0)
    log_every: int = Field(10, ge=1)
    threads: int | None = Field(None, ge=1, description="torch CPU threads (None: torch default).")
