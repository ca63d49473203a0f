"""The pretraining objectives as a table: collator and description, from the ``objective`` config.

Why here: the objectives own what their settings mean and which raw block length each
noise consumes (BART: ``seq_len - 2`` tokens wrapped in ``<s> … </s>``; T5: the raw
length of t5's ``random_spans_helper``; BERT: ``seq_len - 2`` tokens wrapped in
``[CLS] … [SEP]``), so the training code only asks for a collator (and, for a model card,
a sentence saying what the objective was). Keyed by objective name, not model family:
objectives sit below models, so a family's row (``models/families.py``) names its objective.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from seq2seq_es.errors import ConfigError
from seq2seq_es.objectives.bart_denoising import BartDenoisingCollator
from seq2seq_es.objectives.bart_settings import BartNoiseSettings
from seq2seq_es.objectives.config import ObjectiveConfig
from seq2seq_es.objectives.masked_lm import MaskedLmCollator
from seq2seq_es.objectives.span_corruption import (
    SpanCorruptionCollator,
    sentinel_ids_for,
)

Collator = BartDenoisingCollator | SpanCorruptionCollator | MaskedLmCollator


def bart_settings(objective: ObjectiveConfig) -> BartNoiseSettings:
    """The BART noise settings of an ``objective`` section."""
    return BartNoiseSettings(
        mask_ratio=objective.mask_ratio,
        poisson_lambda=objective.poisson_lambda,
        permute_sentence_ratio=objective.permute_sentence_ratio,
        insert_ratio=objective.insert_ratio,
        random_ratio=objective.random_ratio,
        noise=objective.noise,
        replace_length=objective.replace_length,
    )


def _span_corruption(
    objective: ObjectiveConfig, tokenizer: Any, seq_len: int, seed: int
) -> tuple[Collator, int]:
    t5 = SpanCorruptionCollator(
        seq_len,
        sentinel_ids_for(objective.sentinels, tokenizer, count=seq_len),
        eos_id=tokenizer.eos_token_id,
        decoder_start_id=tokenizer.pad_token_id,
        seed=seed,
        noise_density=objective.noise_density,
        mean_span_length=objective.mean_span_length,
        pad_id=tokenizer.pad_token_id,
    )
    return t5, t5.raw_length


def _bart_denoising(
    objective: ObjectiveConfig, tokenizer: Any, seq_len: int, seed: int
) -> tuple[Collator, int]:
    return BartDenoisingCollator.from_tokenizer(
        tokenizer, bart_settings(objective), seed
    ), seq_len - 2


def _masked_lm(
    objective: ObjectiveConfig, tokenizer: Any, seq_len: int, seed: int
) -> tuple[Collator, int]:
    return MaskedLmCollator(
        tokenizer,
        seed=seed,
        mlm_probability=objective.mlm_probability,
        mask_replace_prob=objective.mask_replace_prob,
        random_replace_prob=objective.random_replace_prob,
    ), seq_len - 2


def _describe_span_corruption(objective: ObjectiveConfig) -> str:
    return (
        f"T5 span corruption: noise density {objective.noise_density:g}, mean span "
        f"{objective.mean_span_length:g} tokens, sentinels in input and target ("
        + (
            "<extra_id_N> tokens)"
            if objective.sentinels == "extra_ids"
            else "the vocabulary's top ids, as t5 with extra_ids=0)"
        )
    )


def _describe_bart_denoising(objective: ObjectiveConfig) -> str:
    return (
        f"BART denoising ({objective.noise} noise): text infilling of {objective.mask_ratio:g} of "
        f"the words in Poisson({objective.poisson_lambda:g}) spans (replace_length "
        f"{objective.replace_length}, random {objective.random_ratio:g}), sentence permutation "
        f"{objective.permute_sentence_ratio:g}"
    )


def _describe_masked_lm(objective: ObjectiveConfig) -> str:
    kept = 1 - objective.mask_replace_prob - objective.random_replace_prob
    return (
        "masked language modelling (BERT; transformers' DataCollatorForLanguageModeling): "
        f"{objective.mlm_probability:g} of the tokens selected, of them "
        f"{objective.mask_replace_prob:g} masked, {objective.random_replace_prob:g} random, "
        f"{kept:.2g} unchanged"
    )


@dataclass(frozen=True)
class Objective:
    """A pretraining objective: its collator, the sentence a model card says about it, its name.

    ``build(objective, tokenizer, seq_len, seed)`` → (collator, raw block length) for encoder
    inputs of ``seq_len``; ``skill``: what a model pretrained with it can do.
    """

    title: str
    build: Callable[[ObjectiveConfig, Any, int, int], tuple[Collator, int]]
    describe: Callable[[ObjectiveConfig], str]
    skill: str


# Keyed by the name a model family's row gives (``models/families.py``: ``objective``).
OBJECTIVES: dict[str, Objective] = {
    "bart-denoising": Objective(
        "BART denoising",
        _bart_denoising,
        _describe_bart_denoising,
        "reconstructs noised Spanish text",
    ),
    "span-corruption": Objective(
        "T5 span corruption",
        _span_corruption,
        _describe_span_corruption,
        "fills in dropped spans of Spanish text",
    ),
    "masked-lm": Objective(
        "masked LM",
        _masked_lm,
        _describe_masked_lm,
        "predicts masked tokens of Spanish text",
    ),
}


def get_objective(name: str) -> Objective:
    """The objective named ``name``, or a ``ConfigError`` listing them."""
    if name not in OBJECTIVES:
        raise ConfigError(
            f"No pretraining objective {name!r}: objectives are {', '.join(sorted(OBJECTIVES))}."
        )
    return OBJECTIVES[name]


def build_collator(
    objective: ObjectiveConfig, name: str, tokenizer: Any, seq_len: int, seed: int
) -> tuple[Collator, int]:
    """(collator, raw block length) of the objective ``name`` with encoder inputs of
    ``seq_len``."""
    return get_objective(name).build(objective, tokenizer, seq_len, seed)


def describe_objective(objective: ObjectiveConfig, name: str) -> str:
    """One sentence naming the objective ``name`` and its settings."""
    return get_objective(name).describe(objective)
