"""Decode a task split with a model and score it: the shared core of finetune, predict and eval."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from seq2seq_es.files import write_json, write_jsonl
from seq2seq_es.inference.generate import generate
from seq2seq_es.metrics.scoring import score_predictions, scores_with_intervals
from seq2seq_es.tasks.config import DecodingConfig
from seq2seq_es.tasks.examples import Example, encode_examples
from seq2seq_es.tasks.likelihood import nll_stats, reference_nll
from seq2seq_es.tasks.registry import TaskSpec


def prediction_records(
    examples: Sequence[Example], predictions: Sequence[str]
) -> list[dict[str, Any]]:
    """The rows of ``predictions.jsonl``, the contract between decoding and metrics: ``id``,
    ``source``, ``reference`` (the first), ``references`` (all) and ``prediction``."""
    return [
        {
            "id": e.id,
            "source": e.source,
            "reference": e.target,
            "references": list(e.references),
            "prediction": p,
        }
        for e, p in zip(examples, predictions, strict=True)
    ]


def decoding_settings(task: TaskSpec, generation: DecodingConfig) -> dict[str, Any]:
    spec = task.decoding
    return {
        "num_beams": generation.num_beams or spec.num_beams,
        "max_new_tokens": generation.max_new_tokens or task.max_target_length,
        "length_penalty": spec.length_penalty
        if generation.length_penalty is None
        else generation.length_penalty,
        "no_repeat_ngram_size": (
            spec.no_repeat_ngram_size
            if generation.no_repeat_ngram_size is None
            else generation.no_repeat_ngram_size
        ),
        **({"min_new_tokens": generation.min_new_tokens} if generation.min_new_tokens else {}),
    }


def decode_examples(
    model: Any,
    tokenizer: Any,
    task: TaskSpec,
    examples: list[Example],
    generation: DecodingConfig,
    path: str | Path,
) -> Path:
    """Decode every example with the task's (or overridden) settings; write predictions.jsonl to
    ``path``."""
    settings = decoding_settings(task, generation)
    predictions = generate(
        model,
        tokenizer,
        [e.source for e in examples],
        task.max_source_length,
        settings.pop("max_new_tokens"),
        settings.pop("num_beams"),
        generation.batch_size,
        **settings,
    )
    write_jsonl(path, prediction_records(examples, predictions))
    return Path(path)


def decode_and_score(
    model: Any,
    tokenizer: Any,
    task: TaskSpec,
    examples: list[Example],
    generation: DecodingConfig,
    output_dir: Path,
    bootstrap_samples: int = 1000,
    name: str = "predictions",
    likelihood: bool = True,
) -> dict[str, Any]:
    """Write ``<name>.jsonl`` and ``<name>.scores.json`` (or ``scores.json``) into ``output_dir``.

    With ``likelihood``, the scores also hold ``nll``: the teacher-forced cross-entropy of
    the (first) reference per target token, with its interval: the validation loss, which
    still separates models whose decoded text all scores near zero.
    """
    path = decode_examples(
        model, tokenizer, task, examples, generation, output_dir / f"{name}.jsonl"
    )
    scores = score_predictions(path, task.metrics, bootstrap_samples=bootstrap_samples)
    if likelihood:
        rows = reference_nll(
            model, tokenizer, encode_examples(examples, tokenizer, task), generation.batch_size
        )
        scores.update(
            scores_with_intervals(
                [nll_stats(rows, f"vocab{len(tokenizer)}")], bootstrap_samples, 0.95, 12345
            )
        )
    scores["task"] = task.name
    scores["decoding"] = decoding_settings(task, generation)
    write_json(
        output_dir / ("scores.json" if name == "predictions" else f"{name}.scores.json"), scores
    )
    return scores


def metric_value(scores: dict[str, Any], dotted: str) -> float:
    """``rouge.rougeL`` → scores["rouge"]["rougeL"]."""
    metric, _, key = dotted.partition(".")
    return float(scores[metric][key or "score"])
