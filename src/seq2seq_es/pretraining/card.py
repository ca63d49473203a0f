"""The model card of a pretrained model: what data, objective and steps made it, and its losses.

Built here, from the run's config and summary, because the pretraining recipe is what
knows them; ``models/model_card.py`` only renders facts. A pretrained model has no task
scores yet, so the card's evaluation section says so and the losses go in the training table.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from seq2seq_es.models.model_card import size_limitations
from seq2seq_es.models.presets import get_preset
from seq2seq_es.objectives.collators import describe_objective
from seq2seq_es.pretraining.config import PretrainConfig
from seq2seq_es.training.config import optim_facts

# After pretraining, what the model can do (and so what it is for), by family.
PRETRAINED_SKILL = {
    "bart": "reconstructs noised Spanish text",
    "t5": "fills in dropped spans of Spanish text",
    "bert": "predicts masked tokens of Spanish text",
}
NEXT_STEP = {
    "bart": "fine-tune it on a task (`seq2seq-es finetune model=<this folder>`)",
    "t5": "fine-tune it on a task (`seq2seq-es finetune model=<this folder>`)",
    "bert": "warm-start a BERT2BERT from it (`seq2seq-es model bert2bert <this folder> --output "
    "FOLDER`) and fine-tune that",
}


def _loss(value: Any) -> Any:
    return round(float(value), 4) if isinstance(value, int | float) else "not measured"


def pretrain_card_facts(
    config: PretrainConfig, summary: Mapping[str, Any], *, model_class: str, vocabulary: int
) -> dict[str, Any]:
    """Facts for ``models.model_card.write_model_card`` from a finished pretraining run."""
    preset = get_preset(config.model)
    family = preset.family
    training: dict[str, Any] = {
        "objective": describe_objective(config.objective, family),
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
        f"{preset.encoder_layers}"
        if family == "bert"
        else f"{preset.encoder_layers} encoder + {preset.decoder_layers} decoder"
    )
    return {
        "name": config.model,
        "datasets": [
            (
                f"{config.data} (Spanish text, field '{config.text_key}'; at most "
                f"{config.max_tokens:,} tokens read, the last validation blocks held out)"
            )
        ],
        "pipeline_tag": "fill-mask" if family == "bert" else "text2text-generation",
        "auto_class": "AutoModelForMaskedLM" if family == "bert" else "AutoModelForSeq2SeqLM",
        "tags": ["pretraining", family],
        "description": (
            f"The `{config.model}` preset of seq2seq-es, pretrained from random initialisation on "
            f"Spanish text with {describe_objective(config.objective, family)}. Not fine-tuned: to "
            f"use it, {NEXT_STEP[family]}."
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
            f"Pretrained only: it {PRETRAINED_SKILL[family]}, and does no task until fine-tuned.",
            "The validation loss is on held-out blocks of the same corpus, not on other text.",
        ],
    }
