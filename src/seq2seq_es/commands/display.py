"""How commands print results: a key/value table, a scores table."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table


def print_mapping(console: Console, title: str, mapping: dict[str, Any]) -> None:
    """A two-column table; floats with 4 significant digits."""
    table = Table(title=title)
    table.add_column("key")
    table.add_column("value")
    for key, value in mapping.items():
        table.add_row(str(key), f"{value:.4g}" if isinstance(value, float) else str(value))
    console.print(table)


def print_scores(console: Console, scores: dict[str, Any]) -> None:
    """Every metric's score with its confidence interval (``metrics.report.scores_table``)."""
    from seq2seq_es.metrics.report import scores_table

    console.print(scores_table(scores))
