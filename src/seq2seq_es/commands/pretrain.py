"""``seq2seq-es pretrain``: pretraining of a preset model on corpus shards, with its family's
objective."""

from __future__ import annotations

from typing import Any

from rich.console import Console

from seq2seq_es.commands.base import RESUME, Command
from seq2seq_es.commands.display import print_mapping
from seq2seq_es.pretraining.config import PretrainConfig
from seq2seq_es.training.run_folder import RunFolder


def run(config: PretrainConfig, folder: RunFolder) -> dict[str, Any]:
    from seq2seq_es.pretraining.pretrain import run_pretrain
    from seq2seq_es.training.runtime import prepare_runtime

    prepare_runtime(config.engine)
    return run_pretrain(config, folder)


def prepare_output(config: PretrainConfig) -> RunFolder:
    from seq2seq_es.pretraining.claim import claim_output

    return claim_output(config)


def show(summary: dict[str, Any], console: Console) -> None:
    if summary:  # empty on the non-main processes of a distributed run
        print_mapping(console, "pretraining", summary)


COMMANDS = [
    Command(
        "pretrain",
        "Pretrain a preset model on corpus shards (BART denoising, T5 span corruption, "
        "BERT masked LM).",
        PretrainConfig,
        run,
        show,
        prepare_output=prepare_output,
        flags=(RESUME,),
    )
]
