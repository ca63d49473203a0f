"""The model card of a fine-tuned model: base model, training settings, task scores, limitations.

Built here because the fine-tuning recipe knows the task, the settings and the scores;
``models/model_card.py`` renders the facts. The task's scores (every metric of
``scores.json`` with its 95% interval and signature) become the card's ``model-index``
results, so the Hub shows them as they were measured.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from seq2seq_es.models.loading import looks_like_path
from seq2seq_es.models.model_card import HUB_TASK_TYPES, card_name, size_limitations
from seq2seq_es.models.presets import PRESETS
from seq2seq_es.tasks.config import FinetuneConfig
from seq2seq_es.tasks.registry import TaskSpec
from seq2seq_es.training.config import OptimConfig, optim_facts


def base_model_name(model: str) -> str:
    """A short name for what fine-tuning started from: a preset, a hub id's name, or a folder's card
    name
    (a pretrained or warm-started folder has one), else the folder's name (its parent's for
    ``…/model``)."""
    if model in PRESETS or not looks_like_path(model):
        return model.rsplit("/", 1)[-1]
    folder = Path(model)
    return card_name(folder) or (folder.parent.name if folder.name == "model" else folder.name)


def _start(config: FinetuneConfig) -> str:
    if config.model in PRESETS:
        return f"the `{config.model}` preset from random initialisation (no pretraining)"
    if looks_like_path(config.model):
        return f"`{base_model_name(config.model)}` (the local folder `{config.model}`)"
    return f"`{config.model}`"


def _method(config: FinetuneConfig) -> str:
    adapter = config.adapter
    if adapter.kind == "lora":
        targets = (
            ", ".join(adapter.target_modules)
            if adapter.target_modules
            else "the architecture's default"
        )
        return (
            f"LoRA (r {adapter.r}, alpha {adapter.alpha}, dropout {adapter.dropout:g}, on "
            f"{targets}), merged into these weights"
        )
    return "full fine-tuning (every weight)"


def _dataset(task: TaskSpec) -> str:
    source = (
        f"{task.hub.dataset}" + (f" ({task.hub.config})" if task.hub.config else "")
        if task.hub
        else f"{task.name} (local files of the shared data)"
    )
    return source + (f", licence {task.licence}" if task.licence else "")


def finetune_card_facts(
    config: FinetuneConfig,
    task: TaskSpec,
    scores: Mapping[str, Any],
    *,
    model: Any,
    optim: OptimConfig,
) -> dict[str, Any]:
    """Facts for ``models.model_card.write_model_card`` from a finished fine-tuning run."""
    run = scores.get("training", {})
    selection = run.get("selection")
    training: dict[str, Any] = {
        "method": _method(config),
        "steps": f"{run.get('steps')} of {optim.steps} planned"
        + (" (stopped early)" if run.get("steps", 0) < optim.steps else ""),
        "training examples": run.get("train_examples"),
        **optim_facts(optim),
        **(
            {
                "batches": f"token budget: {config.train_max_tokens} padded source + target "
                f"tokens per micro-batch, at most {optim.batch_size} examples"
            }
            if config.train_max_tokens is not None
            else {}
        ),
        "checkpoint selection": (
            f"best {selection['metric']} ({selection['best']:.2f}) at step {selection['best_step']}"
            f" on {config.selection_examples} validation examples"
            if selection and selection.get("best") is not None
            else "none: the last weights"
        ),
        "final training loss (mean of the last 10 steps)": (
            round(float(run["final_train_loss"]), 4)
            if run.get("final_train_loss") is not None
            else None
        ),
        "decoding": ", ".join(f"{k} {v}" for k, v in scores.get("decoding", {}).items()),
        "seed": str(config.seed),
    }
    parameters = int(model.num_parameters())
    hub_base = config.model not in PRESETS and not looks_like_path(config.model)
    return {
        "name": f"{base_model_name(config.model)}-{task.name}",
        "task": task.name,
        "base_model": config.model if hub_base else None,
        "datasets": [_dataset(task)],
        "pipeline_tag": HUB_TASK_TYPES[task.kind],
        "tags": ["fine-tuned", task.kind, *(["lora"] if config.adapter.kind == "lora" else [])],
        "description": (
            f"Fine-tuned by seq2seq-es on the task `{task.name}` "
            f"({task.kind}{': ' + task.description if task.description else ''}), starting from "
            f"{_start(config)}."
        ),
        "architecture": {
            "class": type(model).__name__,
            "model type": model.config.model_type,
            "parameters": parameters,
        },
        "training": training,
        "results": [
            {
                "task_type": HUB_TASK_TYPES[task.kind],
                "task_name": task.description or task.name,
                "dataset_name": task.name,
                "dataset_type": task.hub.dataset if task.hub else task.name,
                "dataset_config": task.hub.config if task.hub else None,
                "split": "validation",
                "scores": scores,
            }
        ],
        "limitations": [
            *size_limitations(parameters),
            f"Scored on {scores.get('n')} examples of the validation split"
            + (f" (the first {config.max_eval_examples})" if config.max_eval_examples else "")
            + ", with the decoding settings above; other data or settings score differently.",
        ],
    }
