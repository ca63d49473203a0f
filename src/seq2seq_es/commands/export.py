"""``seq2seq-es export model=DIR output_dir=OUT quantization=int8``: a CTranslate2 folder for
engine=ct2.

The export carries the decoding settings its model folder describes (``finetune`` wrote its
task's), so it decodes like the model it came from. The export replaces its folder whole (an
atomic swap), so the CLI lets it write only a new or empty folder or its own earlier export of
the same model and settings (``replaces_folder``), never the model's folder or a folder that
holds it, and writes the run record after the swap.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from seq2seq_es.commands.base import Command
from seq2seq_es.inference.export_config import ExportConfig


def run(config: ExportConfig) -> dict[str, Any]:
    from seq2seq_es.inference.ct2_export import export_ct2

    info = export_ct2(config.model, config.output_dir, config.quantization, config.tokenizer)
    size = sum(path.stat().st_size for path in Path(config.output_dir).iterdir() if path.is_file())
    return {"output_dir": config.output_dir, "bytes": size, **info}


def show(result: dict[str, Any], console: Console) -> None:
    table = Table(title=f"export: {result['output_dir']}", show_header=False)
    table.add_row("source", result["source"]["model"])
    table.add_row("model type", result["source"]["model_type"])
    table.add_row("weights", f"{result['quantization']} ({result['bytes'] / 1e6:.1f} MB on disk)")
    table.add_row("decoding defaults", result["decoding_defaults_from"])
    table.add_row(
        "use it", f"seq2seq-es predict model={result['output_dir']} engine=ct2 input=FILE"
    )
    console.print(table)


COMMANDS = [
    Command(
        "export",
        "Export a BART or T5 model to CTranslate2 (int8 by default) for engine=ct2.",
        ExportConfig,
        run,
        show,
        replaces_folder=True,
    )
]
