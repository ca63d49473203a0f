"""The model card of a pretrained model: what data, objective and steps made it, and its losses.

Built here, from the run's config and summary, because the pretraining recipe is what
knows them; ``models/model_card.py`` only renders facts. A pretrained model has no task
scores yet, so the card's evaluation section says so and the losses go in the training table.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from seq2seq_es.models.families import get_family
from seq2seq_es.models.model_card import size_limitations
from seq2seq_es.models.presets import get_preset, pretraining_objective
from seq2seq_es.objectives.collators import get_objective
from seq2seq_es.pretraining.config import PretrainConfig
from seq2seq_es.training.config import optim_facts


def _loss(value: Any) -> Any:
    return round(float(value), 4) if isinstance(value, int | float) else "not measured"


def pretrain_card_facts(
    config: PretrainConfig, summary: Mapping[str, Any], *, model_class: str, vocabulary: int
) -> dict[str, Any]:
    """Facts for ``models.model_card.write_model_card`` from a finished pretraining run."""
    preset = get_preset(config.model)
    family = get_family(preset.family)
    objective = get_objective(pretraining_objective(config.model))
    described = objective.describe(config.objective)
    training: dict[str, Any] = {
        "objective": described,
        "steps": summary["steps"],
        "sequence length (tokens)": config.seq_len,
        "corpus tokens seen": summary["corpus_tokens_seen"],
        **optim_facts(config.optim),
        "dropout": config.dropout if config.dropout is not None else preset.dropout,
        "seed": str(config.seed),
        "final training loss (mean of the last 10 steps)": _loss(summary.get("final_train_loss")),
        f"validation loss ({config.validation_blocks} held-out blocks)": _loss(
            summary.get("validation_loss")
        ),
    }
    if "validation_encoder_gain" in summary:
        training["validation encoder gain (nats/token the decoder gets from its encoder)"] = _loss(
            summary["validation_encoder_gain"]
        )
    parameters = int(summary["parameters"])
    layers = (
        f"{preset.encoder_layers} encoder + {preset.decoder_layers} decoder"
        if family.encoder_decoder
        else f"{preset.encoder_layers}"
    )
    return {
        "name": config.model,
        "datasets": [
            (
                f"{config.data} (Spanish text, field '{config.text_key}'; at most "
                f"{config.max_tokens:,} tokens read, the last validation blocks held out)"
            )
        ],
        "pipeline_tag": family.pipeline_tag,
        "auto_class": family.auto_class,
        "tags": ["pretraining", family.name],
        "description": (
            f"The `{config.model}` preset of seq2seq-es, pretrained from random initialisation on "
            f"Spanish text with {described}. Not fine-tuned: to use it, {family.next_step}."
        ),
        "architecture": {
            "preset": config.model,
            "class": model_class,
            "parameters": parameters,
            "layers": layers,
            "hidden size": preset.d_model,
            "attention heads": preset.heads,
            "feed-forward size": preset.ffn_dim,
            "vocabulary (tokenizer tokens)": vocabulary,
        },
        "training": training,
        "limitations": [
            *size_limitations(parameters),
            f"Pretrained only: it {objective.skill}, and does no task until fine-tuned.",
            "The validation loss is on held-out blocks of the same corpus, not on other text.",
        ],
    }
