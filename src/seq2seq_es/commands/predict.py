"""``seq2seq-es predict``: decode inputs with a trained model into predictions.jsonl."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console

from seq2seq_es.commands.base import Command
from seq2seq_es.tasks.config import PredictConfig


def predict(config: PredictConfig) -> Path:
    from seq2seq_es.tasks.evaluate import run_predict

    return run_predict(config)


def show_predictions(path: Path, console: Console) -> None:
    console.print(f"predictions: {path}")


def predictions_folder(config: PredictConfig) -> Path:
    return Path(config.output).parent


COMMANDS = [Command("predict", "Decode a task split with a trained model into predictions.jsonl.", PredictConfig,
                    predict, show_predictions, output_dir=predictions_folder)]
