"""The ``finetune`` command: train a model on a task, keep the best checkpoint, decode and score.

Every ``engine.eval_every`` steps the model decodes ``selection_examples`` validation
examples (greedy by default, for speed) and is scored on the task's
``selection_metric``; the best model so far is saved to ``best_model/`` and training
stops early after ``patience`` evaluations without improvement. The final model
(``model/``: the best one when selection ran, else the last) decodes the validation
split with the task's decoding settings into ``predictions.jsonl`` and ``scores.json``
(with bootstrap confidence intervals and metric signatures; written last: its presence
means the run finished). ``model/README.md`` is its model card (``tasks/card.py``): base
model, settings, and the scores as ``model-index`` results.

The selection (best score, its step, evaluations without improvement) is part of every
checkpoint, so a killed and resumed run stops at the same step with the same model. What
a run may do with its output folder is decided before anything is written
(``tasks/claim.py``).

With ``adapter.kind: lora`` only LoRA adapters train (``models/adapters.py``); selection
decodes with the adapter model and keeps the adapter in ``best_model/``, and the run ends
with ``adapter/`` (peft's format) and ``model/`` (merged: a plain transformers model).
"""

from __future__ import annotations

import math
import shutil
from pathlib import Path
from typing import Any

import numpy as np
from transformers import DataCollatorForSeq2Seq

from seq2seq_es.errors import ConfigError
from seq2seq_es.files import write_json
from seq2seq_es.inference.folder_decoding import write_decoding_defaults
from seq2seq_es.models.adapters import (
    apply_adapter,
    checkpoint_state,
    is_adapter_model,
    keep_final_adapter,
    save_model_or_adapter,
)
from seq2seq_es.models.attention import use_attention
from seq2seq_es.models.families import get_family
from seq2seq_es.models.language_codes import set_language_codes
from seq2seq_es.models.loading import load_seq2seq, save_seq2seq
from seq2seq_es.models.model_card import write_model_card
from seq2seq_es.models.output_prior import set_output_prior, unigram_log_probs
from seq2seq_es.models.presets import PRESETS, build_model, get_preset, preset_tokenizer
from seq2seq_es.run_record import add_run_facts
from seq2seq_es.tasks.card import finetune_card_facts
from seq2seq_es.tasks.claim import FINAL_FILE
from seq2seq_es.tasks.config import FinetuneConfig
from seq2seq_es.tasks.decode import decode_and_score, metric_value, task_engine
from seq2seq_es.tasks.examples import encode_examples, load_examples, pair_lengths
from seq2seq_es.tasks.registry import TaskSpec, get_task
from seq2seq_es.training.batches import EpochBatches, WithoutIndex
from seq2seq_es.training.config import OptimConfig
from seq2seq_es.training.loop import train
from seq2seq_es.training.run_folder import RunFolder
from seq2seq_es.training.token_batches import TokenBatches


class BestTracker:
    """Remembers the best selection score and counts evaluations without improvement."""

    def __init__(self, patience: int | None) -> None:
        self.patience = patience
        self.best: float | None = None
        self.best_step = 0
        self.stale = 0

    def update(self, value: float, step: int) -> bool:
        """Record one evaluation; True when it is a new best."""
        if self.best is None or value > self.best:
            self.best, self.best_step, self.stale = value, step, 0
            return True
        self.stale += 1
        return False

    def should_stop(self) -> bool:
        return self.patience is not None and self.stale >= self.patience

    def state_dict(self) -> dict[str, Any]:
        """What a checkpoint keeps of the selection (JSON)."""
        return {"best": self.best, "best_step": self.best_step, "stale": self.stale}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.best, self.best_step, self.stale = (
            state["best"],
            int(state["best_step"]),
            int(state["stale"]),
        )


def initial_model(config: FinetuneConfig) -> tuple[Any, Any]:
    """A preset with random weights (baseline without pretraining), or a trained/hub model."""
    if config.model in PRESETS:
        if not get_family(get_preset(config.model).family).encoder_decoder:
            raise ConfigError(
                f"model={config.model} is an encoder-only preset (a masked language model), not a "
                f"seq2seq model. Pretrain it (`seq2seq-es pretrain model={config.model}`), "
                "warm-start a BERT2BERT from the result (`seq2seq-es model bert2bert <pretrain "
                "output>/model --output FOLDER`) and fine-tune that folder."
            )
        tokenizer = preset_tokenizer(config.model, config.tokenizer or "runs/tokenizer")
        return build_model(config.model, tokenizer, seed=config.seed), tokenizer
    return load_seq2seq(config.model, config.tokenizer, revision=config.model_revision)


def training_batches(
    config: FinetuneConfig, features: list[dict[str, Any]], collator: Any
) -> EpochBatches:
    """Token-budget batches with ``train_max_tokens``, else ``optim.batch_size`` examples."""
    if config.train_max_tokens is not None:
        return TokenBatches(
            features,
            collator,
            config.train_max_tokens,
            config.optim.batch_size,
            config.seed,
            config.engine.num_workers,
        )
    return EpochBatches(
        features,
        collator,
        config.optim.batch_size,
        config.seed,
        config.engine.num_workers,
        lengths=pair_lengths(features) if config.group_by_length else None,
    )


def steps_for(config: FinetuneConfig, train_examples: int, batches: EpochBatches) -> OptimConfig:
    """``optim`` with its steps set by ``epochs`` when given (token budgets: from the number of
    batches of an epoch, as their size varies)."""
    if config.epochs is None:
        return config.optim
    accum = config.optim.grad_accum_steps
    if isinstance(batches, TokenBatches):
        steps = math.ceil(config.epochs * batches.batches_per_epoch() / accum)
    else:
        steps = math.ceil(config.epochs * train_examples / (config.optim.batch_size * accum))
    return config.optim.model_copy(update={"steps": max(1, steps)})


def run_finetune(config: FinetuneConfig, claimed: RunFolder) -> dict[str, Any]:
    """Fine-tune, select, save ``output_dir/model``, decode validation, write scores.json;
    ``claimed`` is its claimed output folder (its identity goes into the checkpoints)."""
    task: TaskSpec = get_task(config.task).model_copy(update=config.lengths())
    model, tokenizer = initial_model(config)
    attention = use_attention(model, config.engine.attn_implementation)
    set_language_codes(model, tokenizer, task.source_language, task.target_language)  # mBART-50
    train_examples = load_examples(task, config.data_dir, "train", config.max_train_examples)
    selection = load_examples(task, config.data_dir, "validation", config.selection_examples)
    features = encode_examples(train_examples, tokenizer, task)
    if config.model in PRESETS and config.unigram_output_bias:
        set_output_prior(
            model,
            unigram_log_probs((np.asarray(f["labels"]) for f in features), model.config.vocab_size),
        )
    collator = WithoutIndex(DataCollatorForSeq2Seq(tokenizer, model=model, label_pad_token_id=-100))
    model = apply_adapter(model, config.adapter, seed=config.seed)  # LoRA: only the adapters train
    batches = training_batches(config, features, collator)
    optim = steps_for(config, len(features), batches)
    output_dir = Path(config.output_dir)
    tracker = BestTracker(config.patience)
    quick = config.generation.model_copy(update={"num_beams": config.selection_num_beams})

    def evaluate(current: Any, step: int) -> dict[str, float]:
        scores = decode_and_score(
            task_engine(current, tokenizer, task),
            task,
            selection,
            quick,
            config.decode_batch_size,
            output_dir,
            bootstrap_samples=0,
            name="selection",
            likelihood=False,
            max_tokens=config.decode_max_tokens,
        )
        value = metric_value(scores, task.selection_metric)
        if tracker.update(value, step):
            save_model_or_adapter(
                current, tokenizer, output_dir / "best_model"
            )  # LoRA: the adapter only
        return {
            f"validation_{task.selection_metric}": value,
            "best_so_far": float(tracker.best or 0.0),
        }

    selecting = config.engine.eval_every is not None
    result = train(
        model,
        batches,
        optim,
        config.engine,
        output_dir,
        config.seed,
        f"fine-tuning {task.name}",
        resume=config.resume,
        evaluate=evaluate if selecting else None,
        should_stop=tracker.should_stop if selecting else None,
        callback_state=tracker,
        identity=claimed.identity,
        model_state=checkpoint_state(model),  # LoRA: checkpoints hold the adapter only
    )
    if not result.is_main_process:
        return {}
    add_run_facts(output_dir, {"attn_implementation": attention})
    if is_adapter_model(
        result.model
    ):  # adapter/ (peft) and model/ (merged: what predict/export/serve load)
        final_model = keep_final_adapter(
            result.model, tokenizer, output_dir, selecting and tracker.best is not None
        )
    else:
        final_model = keep_final_model(
            output_dir, selecting and tracker.best is not None, result, tokenizer, attention
        )
    evaluation = load_examples(task, config.data_dir, "validation", config.max_eval_examples)
    engine = task_engine(final_model, tokenizer, task)
    scores = decode_and_score(
        engine,
        task,
        evaluation,
        config.generation,
        config.decode_batch_size,
        output_dir,
        config.bootstrap_samples,
        max_tokens=config.decode_max_tokens,
    )
    scores["training"] = {
        "steps": result.final_state.step,
        "planned_steps": optim.steps,
        "train_examples": len(features),
        "final_train_loss": (
            sum(result.losses[-10:]) / len(result.losses[-10:]) if result.losses else None
        ),
        "selection": (
            {
                "metric": task.selection_metric,
                "best": tracker.best,
                "best_step": tracker.best_step,
                "evaluations_without_improvement": tracker.stale,
            }
            if selecting
            else None
        ),
        # this invocation's time and speed (a resumed run: since the resume)
        "efficiency": {"seconds": result.seconds, **result.efficiency()},
    }
    # model/ decodes on its own as it was just scored (from_pretrained(...).generate() included)
    write_decoding_defaults(
        output_dir / "model", config.generation.resolved(engine.defaults), task.max_source_length
    )
    write_model_card(
        output_dir / "model",
        finetune_card_facts(config, task, scores, model=final_model, optim=optim),
    )
    write_json(output_dir / FINAL_FILE, scores)
    return scores


def keep_final_model(
    output_dir: Path, selected: bool, result: Any, tokenizer: Any, attention: str
) -> Any:
    """``model/``: the selected ``best_model/`` (renamed) or the last weights; return the model
    (read back, it attends with ``attention``, as in training).

    A run killed after the rename and resumed finds ``model/`` holding the selected model
    and no ``best_model/``: it keeps it (its selection state, from the checkpoint, says a
    best exists), instead of saving the last weights over it.
    """
    best, final = output_dir / "best_model", output_dir / "model"
    if selected and best.is_dir():
        shutil.rmtree(final, ignore_errors=True)
        best.rename(final)
    if selected and final.is_dir():
        model = load_seq2seq(final)[0]
        use_attention(model, attention)
        return model
    save_seq2seq(result.model, tokenizer, final, result.state_dict)
    return result.model
