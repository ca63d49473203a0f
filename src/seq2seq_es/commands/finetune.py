"""``seq2seq-es finetune``: train on a task, keep the best checkpoint, decode and score."""

from __future__ import annotations

from typing import Any

from rich.console import Console

from seq2seq_es.commands.base import RESUME, Command
from seq2seq_es.commands.display import print_scores
from seq2seq_es.run_record import Claim
from seq2seq_es.tasks.config import FinetuneConfig


def run(config: FinetuneConfig) -> dict[str, Any]:
    from seq2seq_es.tasks.finetune import run_finetune
    from seq2seq_es.training.runtime import prepare_runtime

    prepare_runtime(config.engine)
    return run_finetune(config)


def prepare_output(config: FinetuneConfig) -> Claim:
    from seq2seq_es.tasks.claim import claim_output

    return claim_output(config)


def show(scores: dict[str, Any], console: Console) -> None:
    if scores:  # empty on the non-main processes of a distributed run
        print_scores(console, scores)


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
