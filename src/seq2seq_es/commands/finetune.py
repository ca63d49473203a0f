"""``seq2seq-es finetune``: train on a task, keep the best checkpoint, decode and score."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.console import Console

from seq2seq_es.commands.base import RESUME, Command
from seq2seq_es.commands.display import print_scores
from seq2seq_es.tasks.config import FinetuneConfig
from seq2seq_es.training.run_folder import RunFolder


def run(config: FinetuneConfig, folder: RunFolder) -> dict[str, Any]:
    from seq2seq_es.tasks.finetune import run_finetune
    from seq2seq_es.training.runtime import prepare_runtime

    prepare_runtime(config.engine)
    scores = run_finetune(config, folder)
    # where the fine-tuned model is, for show (scores.json itself stays where-free)
    return {**scores, "model_dir": str(Path(config.output_dir) / "model")} if scores else scores


def prepare_output(config: FinetuneConfig) -> RunFolder:
    from seq2seq_es.tasks.claim import claim_output

    return claim_output(config)


def show(scores: dict[str, Any], console: Console) -> None:
    """The scores, then where the model is and how to use it (issue 39: the run never said)."""
    if scores:  # empty on the non-main processes of a distributed run
        print_scores(console, scores)
    if scores.get("model_dir"):
        model = scores["model_dir"]
        console.print(
            f"model: {model} (loads with from_pretrained; seq2seq-es predict model={model} "
            "input=FILE)",
            soft_wrap=True,
        )


COMMANDS = [
    Command(
        "finetune",
        "Fine-tune a model on a task, decode its validation split and score it.",
        FinetuneConfig,
        run,
        show,
        prepare_output=prepare_output,
        flags=(RESUME,),
    )
]
