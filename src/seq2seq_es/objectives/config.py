"""The pretraining noise settings, as a config section (light: pydantic only).

Why here and not next to the pretraining command: the objectives own what their knobs
mean; the ``pretrain`` schema only includes this section.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from seq2seq_es.config import StrictModel


class ObjectiveConfig(StrictModel):
    """The noise: BART denoising for ``bart`` presets (defaults: BARTO's fairseq settings; see
    objectives/bart_denoising.py and objectives/README.md), T5 span corruption for ``t5``
    presets (defaults: T5S / nanoT5; see objectives/span_corruption.py), masked language
    modelling for ``bert`` presets (defaults: BERT's 15% with 80/10/10; see
    objectives/masked_lm.py). The preset's family picks which applies."""

    noise: Literal["fairseq", "exact-ratio"] = Field(
        "fairseq",
        description="BART: 'fairseq' = fairseq's DenoisingDataset algorithm (BARTO's); "
        "'exact-ratio' = our variant masking exactly mask_ratio of the words in non-touching "
        "spans.",
    )
    mask_ratio: float = Field(
        0.3, ge=0, lt=1, description="Share of words masked (text infilling)."
    )
    poisson_lambda: float = Field(3.0, gt=0, description="Mean masked span length, in words.")
    replace_length: Literal[-1, 0, 1] = Field(
        1,
        description="BART, fairseq noise: a masked span becomes one <mask> "
        "(1), nothing (0), or a <mask> per token (-1).",
    )
    permute_sentence_ratio: float = Field(
        1.0, ge=0, le=1, description="Share of sentences permuted."
    )
    insert_ratio: float = Field(
        0.0, ge=0, description="Extra <mask> insertions, as a share of tokens."
    )
    random_ratio: float = Field(
        0.1, ge=0, le=1, description="Share of <mask> replaced by a random token."
    )
    noise_density: float = Field(
        0.15, gt=0, lt=1, description="T5: share of tokens dropped into spans."
    )
    mean_span_length: float = Field(3.0, ge=1, description="T5: mean noise span length, in tokens.")
    sentinels: Literal["extra_ids", "top_of_vocabulary"] = Field(
        "extra_ids",
        description="T5: extra_ids = the tokenizer's <extra_id_N> tokens (T5, our tokenizers); "
        "top_of_vocabulary = ids vocab_size-1, vocab_size-2, … whatever pieces they are, as t5's "
        "span_corruption does with a SentencePiece vocabulary of extra_ids=0 (the authors' T5S "
        "t5x task.py).",
    )
    mlm_probability: float = Field(
        0.15,
        gt=0,
        lt=1,
        description="BERT: share of the non-special tokens selected "
        "for prediction (masked language modelling).",
    )
    mask_replace_prob: float = Field(
        0.8,
        ge=0,
        le=1,
        description="BERT: share of the selected tokens replaced by the mask token.",
    )
    random_replace_prob: float = Field(
        0.1,
        ge=0,
        le=1,
        description="BERT: share of the selected tokens replaced "
        "by a random token; the rest stay unchanged.",
    )

    @model_validator(mode="after")
    def _replacements_fit(self) -> ObjectiveConfig:
        if self.mask_replace_prob + self.random_replace_prob > 1:
            raise ValueError(
                "mask_replace_prob + random_replace_prob = "
                f"{self.mask_replace_prob + self.random_replace_prob:g} > 1: they are shares of "
                "the same selected tokens (BERT: 0.8 and 0.1)"
            )
        return self
