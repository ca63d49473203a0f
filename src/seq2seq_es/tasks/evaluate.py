"""The ``predict``, ``eval`` and ``eval-matrix`` commands.

``eval`` decodes a task split with any model (fine-tuned here or a hub id) and scores
it; ``eval-matrix`` does so for every model × task pair, which is how cross-domain
generalisation is measured (e.g. a model fine-tuned on Tatoeba evaluated on NTREX
news, or one fine-tuned on ParlaMint dialogue evaluated on Calderón's plays).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from seq2seq_es.files import atomic_write, write_json
from seq2seq_es.models.language_codes import set_language_codes
from seq2seq_es.models.loading import load_seq2seq
from seq2seq_es.tasks.config import EvalConfig, MatrixConfig, PredictConfig
from seq2seq_es.tasks.decode import decode_and_score, decode_examples, metric_value, task_engine
from seq2seq_es.tasks.examples import load_examples
from seq2seq_es.tasks.registry import get_task


def run_predict(config: PredictConfig) -> Path:
    task = get_task(config.task).model_copy(update=config.lengths())
    model, tokenizer = load_seq2seq(config.model, revision=config.model_revision)
    set_language_codes(model, tokenizer, task.source_language, task.target_language)
    engine = task_engine(model, tokenizer, task)
    examples = load_examples(task, config.data_dir, config.split, config.max_examples)
    return decode_examples(
        engine,
        examples,
        config.generation,
        config.decode_batch_size,
        config.output,
        config.decode_max_tokens,
    )


def run_eval(
    config: EvalConfig, model_and_tokenizer: tuple[Any, Any] | None = None
) -> dict[str, Any]:
    task = get_task(config.task).model_copy(update=config.lengths())
    # the data first: a missing or broken split is named at once, not after a model load
    examples = load_examples(task, config.data_dir, config.split, config.max_examples)
    model, tokenizer = model_and_tokenizer or load_seq2seq(
        config.model, revision=config.model_revision
    )
    set_language_codes(model, tokenizer, task.source_language, task.target_language)
    output_dir = Path(config.output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    scores = decode_and_score(
        task_engine(model, tokenizer, task),
        task,
        examples,
        config.generation,
        config.decode_batch_size,
        output_dir,
        config.bootstrap_samples,
        max_tokens=config.decode_max_tokens,
    )
    scores["model"] = config.model
    scores["split"] = config.split
    write_json(output_dir / "scores.json", scores)
    return scores


def _cell(scores: dict[str, Any], dotted: str) -> str:
    metric, _, key = dotted.partition(".")
    value = metric_value(scores, dotted)
    interval = scores[metric].get("ci", {}).get(key or "score")
    return f"{value:.2f} [{interval[0]:.2f}, {interval[1]:.2f}]" if interval else f"{value:.2f}"


def run_matrix(config: MatrixConfig) -> dict[str, Any]:
    """Evaluate every model on every task; write matrix.json and matrix.md."""
    tasks = {name: get_task(name) for name in config.tasks}
    output_dir = Path(config.output_dir)
    cells: dict[str, dict[str, dict[str, Any]]] = {}
    for index, model_name in enumerate(config.models):
        loaded = load_seq2seq(model_name)
        folder = output_dir / f"model{index}-{Path(model_name).name}"
        cells[model_name] = {
            task.name: run_eval(
                EvalConfig(
                    task=name,
                    data_dir=config.data_dir,
                    model=model_name,
                    split=config.split,
                    output_dir=str(folder / task.name),
                    max_examples=config.max_examples,
                    bootstrap_samples=config.bootstrap_samples,
                    generation=config.generation,
                    decode_batch_size=config.decode_batch_size,
                    decode_max_tokens=config.decode_max_tokens,
                ),
                loaded,
            )
            for name, task in tasks.items()
        }
    columns = list(tasks.values())
    lines = [
        "| model | " + " | ".join(f"{t.name} ({t.selection_metric})" for t in columns) + " |",
        "|---|" + "---|" * len(columns),
    ]
    for model_name, row in cells.items():
        lines.append(
            f"| {model_name} | "
            + " | ".join(_cell(row[t.name], t.selection_metric) for t in columns)
            + " |"
        )
    table = "\n".join(lines) + "\n"
    summary = {
        "split": config.split,
        "cells": {
            model_name: {
                t.name: {
                    "metric": t.selection_metric,
                    "value": metric_value(row[t.name], t.selection_metric),
                }
                for t in columns
            }
            for model_name, row in cells.items()
        },
    }
    write_json(output_dir / "matrix.json", summary)
    with atomic_write(output_dir / "matrix.md") as handle:
        handle.write(
            f"# Evaluation matrix ({config.split} split; 95% bootstrap intervals)\n\n" + table
        )
    return {"table": table, **summary}
