"""The ``finetune`` command: train a model on a task, keep the best checkpoint, decode and score.

Every ``engine.eval_every`` steps the model decodes ``selection_examples`` validation
examples (greedy by default, for speed) and is scored on the task's
``selection_metric``; the best model so far is saved to ``best_model/`` and training
stops early after ``patience`` evaluations without improvement. The final model
(``model/``: the best one when selection ran, else the last) decodes the validation
split with the task's decoding settings into ``predictions.jsonl`` and ``scores.json``
(with bootstrap confidence intervals and metric signatures).
"""

from __future__ import annotations

import math
import shutil
from pathlib import Path
from typing import Any

import numpy as np
from transformers import DataCollatorForSeq2Seq

from seq2seq_es.files import write_json
from seq2seq_es.models.loading import load_seq2seq, save_seq2seq
from seq2seq_es.models.output_prior import set_output_prior, unigram_log_probs
from seq2seq_es.models.presets import PRESETS, build_model
from seq2seq_es.tasks.config import FinetuneConfig
from seq2seq_es.tasks.decode import decode_and_score, metric_value
from seq2seq_es.tasks.examples import encode_examples, load_examples, pair_lengths
from seq2seq_es.tasks.registry import TaskSpec, get_task
from seq2seq_es.tokenizer.save import load_tokenizer_folder
from seq2seq_es.training.batches import EpochBatches, WithoutIndex
from seq2seq_es.training.config import OptimConfig
from seq2seq_es.training.loop import train


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


def initial_model(config: FinetuneConfig) -> tuple[Any, Any]:
    """A preset with random weights (baseline without pretraining), or a trained/hub model."""
    if config.model in PRESETS:
        tokenizer = load_tokenizer_folder(config.tokenizer or "runs/tokenizer")
        return build_model(config.model, tokenizer, seed=config.seed), tokenizer
    return load_seq2seq(config.model)


def steps_for(config: FinetuneConfig, train_examples: int) -> OptimConfig:
    if config.epochs is None:
        return config.optim
    per_step = config.optim.batch_size * config.optim.grad_accum_steps
    return config.optim.model_copy(update={"steps": max(1, math.ceil(config.epochs * train_examples / per_step))})


def run_finetune(config: FinetuneConfig) -> dict[str, Any]:
    """Fine-tune, select, save ``output_dir/model``, decode validation, write scores.json."""
    task: TaskSpec = get_task(config.task)
    model, tokenizer = initial_model(config)
    train_examples = load_examples(task, config.data_dir, "train", config.max_train_examples)
    selection = load_examples(task, config.data_dir, "validation", config.selection_examples)
    features = encode_examples(train_examples, tokenizer, task)
    if config.model in PRESETS and config.unigram_output_bias:
        set_output_prior(model, unigram_log_probs((np.asarray(f["labels"]) for f in features),
                                                  model.config.vocab_size))
    collator = WithoutIndex(DataCollatorForSeq2Seq(tokenizer, model=model, label_pad_token_id=-100))
    optim = steps_for(config, len(features))
    lengths = pair_lengths(features) if config.group_by_length else None
    batches = EpochBatches(features, collator, optim.batch_size, config.seed, config.engine.num_workers,
                           lengths=lengths)
    output_dir = Path(config.output_dir)
    tracker = BestTracker(config.patience)
    quick = config.generation.model_copy(update={"num_beams": config.selection_num_beams})

    def evaluate(current: Any, step: int) -> dict[str, float]:
        scores = decode_and_score(current, tokenizer, task, selection, quick, output_dir, bootstrap_samples=0,
                                  name="selection", likelihood=False)
        value = metric_value(scores, task.selection_metric)
        if tracker.update(value, step):
            save_seq2seq(current, tokenizer, output_dir / "best_model")
        return {f"validation_{task.selection_metric}": value, "best_so_far": float(tracker.best or 0.0)}

    selecting = config.engine.eval_every is not None
    result = train(model, batches, optim, config.engine, output_dir, config.seed, f"fine-tuning {task.name}",
                   resume=config.resume, evaluate=evaluate if selecting else None,
                   should_stop=tracker.should_stop if selecting else None)
    if not result.is_main_process:
        return {}
    best = output_dir / "best_model"
    if selecting and best.is_dir():
        final_model, _ = load_seq2seq(best)
        shutil.rmtree(output_dir / "model", ignore_errors=True)
        best.rename(output_dir / "model")
    else:
        final_model = result.model
        save_seq2seq(final_model, tokenizer, output_dir / "model", result.state_dict)
    evaluation = load_examples(task, config.data_dir, "validation", config.max_eval_examples)
    scores = decode_and_score(final_model, tokenizer, task, evaluation, config.generation, output_dir,
                              config.bootstrap_samples)
    scores["training"] = {"steps": result.final_state.step, "planned_steps": optim.steps,
                          "train_examples": len(features),
                          "final_train_loss": sum(result.losses[-10:]) / max(len(result.losses[-10:]), 1),
                          "selection": ({"metric": task.selection_metric, "best": tracker.best,
                                         "evaluations_without_improvement": tracker.stale}
                                        if selecting else None)}
    write_json(output_dir / "scores.json", scores)
    return scores
