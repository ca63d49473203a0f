"""Decode a task split with a model and score it: the shared core of finetune, predict and eval.

Decoding goes through the same engine as ``predict`` on your own texts and ``serve``
(``inference.engines``: ``TransformersEngine`` and ``generate_in_length_order``), given the
task's decoding (``TaskSpec.decoding_defaults``) and source length, so there is one way a
model decodes.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from seq2seq_es.files import write_json, write_jsonl
from seq2seq_es.inference.config import GenerationOptions
from seq2seq_es.inference.engines import Engine, TransformersEngine, generate_in_length_order
from seq2seq_es.inference.folder_decoding import DECODING_KEYS
from seq2seq_es.metrics.scoring import score_predictions, scores_with_intervals
from seq2seq_es.progress import progress_bar
from seq2seq_es.tasks.examples import Example, encode_examples
from seq2seq_es.tasks.likelihood import nll_stats, reference_nll
from seq2seq_es.tasks.registry import TaskSpec

SAMPLING_KEYS = ("do_sample", "temperature", "top_k", "top_p", "seed")


def task_engine(model: Any, tokenizer: Any, task: TaskSpec) -> TransformersEngine:
    """``model`` as an engine that decodes with ``task``'s settings and source length."""
    return TransformersEngine(model, tokenizer, task.decoding_defaults(), task.max_source_length)


def decoding_record(settings: GenerationOptions) -> dict[str, Any]:
    """How resolved ``settings`` decode, as ``scores.json`` records it (``decoding``)."""
    keys = DECODING_KEYS + (SAMPLING_KEYS if settings.do_sample else ())
    record = {key: getattr(settings, key) for key in keys}
    return {key: value for key, value in record.items() if key != "min_new_tokens" or value}


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


def decode_examples(
    engine: Engine,
    examples: list[Example],
    generation: GenerationOptions,
    batch_size: int,
    path: str | Path,
    max_tokens: int | None = None,
) -> Path:
    """Decode every example (``generation`` over the engine's defaults) in length-sorted
    batches of ``batch_size`` (within ``max_tokens`` padded source tokens when set); write
    predictions.jsonl to ``path``."""
    with progress_bar() as bar:
        task = bar.add_task("generating", total=len(examples), status="")
        results = generate_in_length_order(
            engine,
            [e.source for e in examples],
            generation,
            batch_size,
            lambda n: bar.update(task, advance=n),
            max_tokens=max_tokens,
        )
    write_jsonl(path, prediction_records(examples, [r["text"] for r in results]))
    return Path(path)


def decode_and_score(
    engine: TransformersEngine,
    task: TaskSpec,
    examples: list[Example],
    generation: GenerationOptions,
    batch_size: int,
    output_dir: Path,
    bootstrap_samples: int = 1000,
    name: str = "predictions",
    likelihood: bool = True,
    max_tokens: int | None = None,
) -> dict[str, Any]:
    """Write ``<name>.jsonl`` and ``<name>.scores.json`` (or ``scores.json``) into ``output_dir``.

    With ``likelihood``, the scores also hold ``nll``: the teacher-forced cross-entropy of
    the (first) reference per target token, with its interval: the validation loss, which
    still separates models whose decoded text all scores near zero.
    """
    path = decode_examples(
        engine, examples, generation, batch_size, output_dir / f"{name}.jsonl", max_tokens
    )
    scores = score_predictions(path, task.metrics, bootstrap_samples=bootstrap_samples)
    if likelihood:
        tokenizer = engine.tokenizer
        rows = reference_nll(
            engine.model, tokenizer, encode_examples(examples, tokenizer, task), batch_size
        )
        scores.update(
            scores_with_intervals(
                [nll_stats(rows, f"vocab{len(tokenizer)}")], bootstrap_samples, 0.95, 12345
            )
        )
    scores["task"] = task.name
    scores["decoding"] = decoding_record(generation.resolved(engine.defaults))
    write_json(
        output_dir / ("scores.json" if name == "predictions" else f"{name}.scores.json"), scores
    )
    return scores


def metric_value(scores: dict[str, Any], dotted: str) -> float:
    """``rouge.rougeL`` → scores["rouge"]["rougeL"]."""
    metric, _, key = dotted.partition(".")
    return float(scores[metric][key or "score"])
