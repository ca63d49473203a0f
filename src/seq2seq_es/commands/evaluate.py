"""``seq2seq-es eval`` and ``eval-matrix``: decode and score task splits with any model."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.console import Console

from seq2seq_es.commands.base import Command
from seq2seq_es.commands.display import print_scores
from seq2seq_es.tasks.config import EvalConfig, MatrixConfig


def evaluate(config: EvalConfig) -> dict[str, Any]:
    from seq2seq_es.tasks.evaluate import run_eval

    return {"scores": run_eval(config), "path": str(Path(config.output_dir) / "scores.json")}


def show_scores(result: dict[str, Any], console: Console) -> None:
    print_scores(console, result["scores"])
    console.print(f"scores: {result['path']}")


def matrix(config: MatrixConfig) -> dict[str, Any]:
    from seq2seq_es.tasks.evaluate import run_matrix

    return {**run_matrix(config), "path": str(Path(config.output_dir) / "matrix.md")}


def show_matrix(result: dict[str, Any], console: Console) -> None:
    console.print(result["table"])
    console.print(f"matrix: {result['path']}")


COMMANDS = [
    Command(
        "eval",
        "Decode and score a task split with any model (cross-domain: a model fine-tuned on "
        "another task).",
        EvalConfig,
        evaluate,
        show_scores,
    ),
    Command(
        "eval-matrix",
        "Evaluate every model × task pair (e.g. models=\\[a,b] tasks=\\[tatoeba-es-en,"
        "ntrex-es-en]); writes matrix.md.",
        MatrixConfig,
        matrix,
        show_matrix,
    ),
]
