"""The ``finetune``, ``predict`` commands: train on a task, decode its validation split, score it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import Field
from transformers import DataCollatorForSeq2Seq

from seq2seq_es.config import StrictModel
from seq2seq_es.files import atomic_dir, write_json, write_jsonl
from seq2seq_es.inference.generate import generate, load_model, prediction_records
from seq2seq_es.metrics.scoring import score_predictions
from seq2seq_es.models.presets import PRESETS, build_model
from seq2seq_es.tasks.examples import encode_examples, load_examples
from seq2seq_es.tasks.registry import TaskSpec, get_task
from seq2seq_es.training.config import EngineConfig, OptimConfig
from seq2seq_es.training.batches import EpochBatches, WithoutIndex
from seq2seq_es.training.loop import train
from seq2seq_es.training.pretrain import load_tokenizer


class GenerationConfig(StrictModel):
    num_beams: int | None = Field(None, ge=1, description="None: the task's default.")
    max_new_tokens: int | None = Field(None, ge=1, description="None: the task's max_target_length.")
    batch_size: int = Field(32, ge=1)


class FinetuneConfig(StrictModel):
    task: str = "squad-es-qa"
    data_dir: str = "../shared/data"
    model: str = Field("runs/pretrain/model", description="A save_pretrained folder, or a preset name for random init.")
    tokenizer: str | None = Field(None, description="Tokenizer folder; needed only when `model` is a preset.")
    output_dir: str = "runs/finetune"
    max_train_examples: int | None = Field(None, ge=1)
    max_eval_examples: int | None = Field(200, ge=1)
    seed: int = 1234
    resume: bool = Field(False, description="Continue from the last checkpoint in output_dir/checkpoints.")
    optim: OptimConfig = OptimConfig(lr=5e-4, steps=300, warmup_steps=30)
    engine: EngineConfig = EngineConfig()
    generation: GenerationConfig = GenerationConfig()


class PredictConfig(StrictModel):
    task: str = "squad-es-qa"
    data_dir: str = "../shared/data"
    model: str = "runs/finetune/model"
    split: str = Field("validation", pattern="^(train|validation)$")
    output: str = "runs/predict/predictions.jsonl"
    max_examples: int | None = Field(200, ge=1)
    generation: GenerationConfig = GenerationConfig()


def _initial_model(config: FinetuneConfig) -> tuple[Any, Any]:
    if config.model in PRESETS:
        tokenizer = load_tokenizer(config.tokenizer or "runs/tokenizer")
        return build_model(config.model, tokenizer, seed=config.seed), tokenizer
    return load_model(config.model)


def predict_examples(model: Any, tokenizer: Any, task: TaskSpec, data_dir: str, split: str,
                     limit: int | None, generation: GenerationConfig, output: str | Path) -> Path:
    """Decode ``split`` of ``task`` and write predictions.jsonl; returns its path."""
    examples = load_examples(task, data_dir, split, limit)
    predictions = generate(model, tokenizer, [e.source for e in examples], task.max_source_length,
                           generation.max_new_tokens or task.max_target_length,
                           generation.num_beams or task.num_beams, generation.batch_size)
    write_jsonl(output, prediction_records(examples, predictions))
    return Path(output)


def run_finetune(config: FinetuneConfig) -> dict[str, Any]:
    """Fine-tune, save ``output_dir/model``, decode validation, write scores.json."""
    task = get_task(config.task)
    model, tokenizer = _initial_model(config)
    features = encode_examples(load_examples(task, config.data_dir, "train", config.max_train_examples),
                               tokenizer, task)
    collator = WithoutIndex(DataCollatorForSeq2Seq(tokenizer, model=model, label_pad_token_id=-100))
    batches = EpochBatches(features, collator, config.optim.batch_size, config.seed, config.engine.num_workers)
    output_dir = Path(config.output_dir)
    result = train(model, batches, config.optim, config.engine, output_dir, config.seed,
                   f"fine-tuning {task.name}", resume=config.resume)
    if not result.is_main_process:
        return {}
    model = result.model
    with atomic_dir(output_dir / "model") as tmp:
        result.save_model(tmp)
        tokenizer.save_pretrained(tmp)
    predictions = predict_examples(model, tokenizer, task, config.data_dir, "validation",
                                   config.max_eval_examples, config.generation, output_dir / "predictions.jsonl")
    scores = score_predictions(predictions, task.metrics)
    scores["task"] = task.name
    scores["final_train_loss"] = sum(result.losses[-10:]) / len(result.losses[-10:])
    write_json(output_dir / "scores.json", scores)
    return scores


def run_predict(config: PredictConfig) -> Path:
    task = get_task(config.task)
    model, tokenizer = load_model(config.model)
    return predict_examples(model, tokenizer, task, config.data_dir, config.split, config.max_examples,
                            config.generation, config.output)
