"""``seq2seq-es corpus``: raw Spanish text → clean, deduplicated shards (datatrove)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.console import Console

from seq2seq_es.commands.base import Command
from seq2seq_es.corpus.config import CorpusConfig


def run(config: CorpusConfig) -> dict[str, Any]:
    from seq2seq_es.corpus.pipeline import run_corpus

    return {"stats": run_corpus(config), "output_dir": config.output_dir}


def show(result: dict[str, Any], console: Console) -> None:
    from seq2seq_es.corpus.summary import print_summary

    print_summary(console, result["stats"], Path(result["output_dir"]))


COMMANDS = [Command("corpus", "Clean raw Spanish text into deduplicated shards (datatrove), with stats.json "
                              "and rejects/.", CorpusConfig, run, show)]
