"""The pretraining collator of a model family, built from the ``objective`` config section.

Why here: the objectives own what their settings mean and which raw block length each
noise consumes (BART: ``seq_len - 2`` tokens wrapped in ``<s> … </s>``; T5: the raw
length of t5's ``random_spans_helper``), so the training code only asks for a collator.
"""

from __future__ import annotations

from typing import Any

from seq2seq_es.errors import ConfigError
from seq2seq_es.objectives.bart_denoising import BartDenoisingCollator
from seq2seq_es.objectives.bart_settings import BartNoiseSettings
from seq2seq_es.objectives.config import ObjectiveConfig
from seq2seq_es.objectives.span_corruption import (
    SpanCorruptionCollator,
    sentinel_ids_from_tokenizer,
)

Collator = BartDenoisingCollator | SpanCorruptionCollator


def bart_settings(objective: ObjectiveConfig) -> BartNoiseSettings:
    """The BART noise settings of an ``objective`` section."""
    return BartNoiseSettings(mask_ratio=objective.mask_ratio, poisson_lambda=objective.poisson_lambda,
                             permute_sentence_ratio=objective.permute_sentence_ratio,
                             insert_ratio=objective.insert_ratio, random_ratio=objective.random_ratio,
                             noise=objective.noise, replace_length=objective.replace_length)


def build_collator(objective: ObjectiveConfig, family: str, tokenizer: Any, seq_len: int,
                   seed: int) -> tuple[Collator, int]:
    """(collator, raw block length) for a ``bart`` or ``t5`` preset with encoder inputs of ``seq_len``."""
    if family == "t5":
        t5 = SpanCorruptionCollator(seq_len, sentinel_ids_from_tokenizer(tokenizer), eos_id=tokenizer.eos_token_id,
                                    decoder_start_id=tokenizer.pad_token_id, seed=seed,
                                    noise_density=objective.noise_density, mean_span_length=objective.mean_span_length,
                                    pad_id=tokenizer.pad_token_id)
        return t5, t5.raw_length
    if family == "bart":
        return BartDenoisingCollator.from_tokenizer(tokenizer, bart_settings(objective), seed), seq_len - 2
    raise ConfigError(f"No pretraining objective for model family {family!r}: presets are 'bart' or 't5'.")
