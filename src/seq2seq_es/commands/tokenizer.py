"""``seq2seq-es tokenizer`` and ``tokenizer-report``: train a vocabulary, compare vocabularies."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from rich.console import Console

from seq2seq_es.commands.base import Command
from seq2seq_es.commands.display import print_mapping
from seq2seq_es.run_record import file_fingerprints
from seq2seq_es.tokenizer.config import TokenizerConfig, TokenizerReportConfig
from seq2seq_es.training.run_folder import RunFolder, claim_folder


def train(config: TokenizerConfig, folder: RunFolder) -> dict[str, Any]:
    from seq2seq_es.tokenizer.train import run_tokenizer

    return {"output_dir": folder.path, "summary": run_tokenizer(config)}


def prepare_training(config: TokenizerConfig) -> RunFolder:
    """An empty folder, or a tokenizer run of the same settings and input files (redone)."""
    return claim_folder(
        config.output_dir, "tokenizer", config, inputs=file_fingerprints({"input": config.input})
    )


def show_training(result: dict[str, Any], console: Console) -> None:
    print_mapping(
        console,
        f"tokenizer: {result['output_dir']}",
        {
            key: json.dumps(value, ensure_ascii=False) if isinstance(value, dict) else value
            for key, value in result["summary"].items()
        },
    )


def report(config: TokenizerReportConfig) -> dict[str, Any]:
    from seq2seq_es.tokenizer.report import REPORT_FILE, run_tokenizer_report

    return {
        "report": run_tokenizer_report(config),
        "path": str(Path(config.output_dir) / REPORT_FILE),
    }


def show_report(result: dict[str, Any], console: Console) -> None:
    from seq2seq_es.tokenizer.report import report_table

    console.print(report_table(result["report"]))
    console.print(f"report: {result['path']}")


COMMANDS = [
    Command(
        "tokenizer",
        "Train a tokenizer on corpus shards: byte-level BPE (kind=bpe) or T5 unigram "
        "(kind=unigram).",
        TokenizerConfig,
        train,
        show_training,
        prepare_output=prepare_training,
    ),
    Command(
        "tokenizer-report",
        "Compare trained tokenizers and an English BPE on held-out text (fertility, "
        "splits, <unk>, round trip).",
        TokenizerReportConfig,
        report,
        show_report,
    ),
]
