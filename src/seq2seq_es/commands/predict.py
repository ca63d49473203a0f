"""``seq2seq-es predict``: decode inputs with a trained model into predictions.jsonl.

Two modes, told apart by ``input=``:

* a task split (``task=... split=...``): ``predictions.jsonl`` rows with references, for
  ``score`` (``tasks.evaluate.run_predict``);
* your own texts (``model=DIR input=FILE|-``): plain text, JSONL or stdin in, one JSONL
  record per input out, to ``output=`` or stdout (``inference.predict_texts``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import ValidationError, model_validator
from rich.console import Console

from seq2seq_es.commands.base import Command
from seq2seq_es.commands.display import plain_console
from seq2seq_es.config import format_validation_error
from seq2seq_es.errors import ConfigError
from seq2seq_es.inference.config import TextPredictConfig
from seq2seq_es.tasks.config import PredictConfig


class PredictCommandConfig(PredictConfig):
    """A task split (``PredictConfig``), or, when ``input`` is given, a ``TextPredictConfig``."""

    @model_validator(mode="wrap")
    @classmethod
    def _text_mode(cls, data: Any, handler: Any) -> Any:
        if isinstance(data, dict) and "input" in data:
            try:
                return TextPredictConfig.model_validate(data)
            except (
                ValidationError
            ) as exc:  # listed against the text mode's keys, not the split mode's
                raise ConfigError(
                    format_validation_error(exc, TextPredictConfig, "predict input=...")
                ) from None
        return handler(data)


def predict(config: PredictConfig | TextPredictConfig) -> Any:
    if isinstance(config, TextPredictConfig):
        import torch

        from seq2seq_es.inference.predict_texts import predict_texts

        if config.threads is not None:
            torch.set_num_threads(config.threads)
        return predict_texts(config)
    from seq2seq_es.tasks.evaluate import run_predict

    return run_predict(config)


def show_predictions(result: Path | dict[str, Any], console: Console) -> None:
    if isinstance(
        result, dict
    ):  # own texts: the records may be on stdout, so the summary goes to stderr
        plain_console(stderr=True).print(
            f"predicted {result['written']} of {result['inputs']} inputs "
            f"(resumed after {result['resumed_after']}) → {result['output']}, "
            f"{result['tokens_per_s']} tokens/s"
        )
        return
    console.print(f"predictions: {result}")


def predictions_folder(config: PredictConfig | TextPredictConfig) -> Path | None:
    """The split mode records its run beside predictions.jsonl; own texts go where the user says,
    next to files that are not ours, so they get no run record."""
    return None if isinstance(config, TextPredictConfig) else Path(config.output).parent


def texts_output(config: PredictConfig | TextPredictConfig) -> Path | None:
    """Own texts' output= file: claimed so that it never replaces the input or another run's
    file."""
    if isinstance(config, TextPredictConfig) and config.output is not None:
        return Path(config.output)
    return None


COMMANDS = [
    Command(
        "predict",
        "Decode a task split, or your own texts (input=FILE|-), with a trained model.",
        PredictCommandConfig,
        predict,
        show_predictions,
        output_dir=predictions_folder,
        output_file=texts_output,
        positional_help="Overrides: task=... split=... for a task split, or model=DIR input=FILE|- "
        "(optional: output=FILE, generation.num_beams=4) for your own texts.",
    )
]
