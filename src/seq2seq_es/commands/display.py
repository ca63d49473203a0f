"""How commands print: consoles that never read user text as markup, a labelled line, a key/value
table, a scores table.

Why plain consoles: Rich parses ``[...]`` in every printed string, so a path or value such as
``runs/[/x]ct2`` crashed the printer (``MarkupError``) after the work was done, and ``[bold]``
in a value silently vanished. Every console of the CLI is made by ``plain_console``; the few
styled words are ``Text`` spans (``labelled``), never markup mixed with user text.
"""

from __future__ import annotations

import textwrap
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from seq2seq_es.config import ConfigKey


def plain_console(stderr: bool = False) -> Console:
    """A console that prints strings as they are (no markup)."""
    return Console(stderr=stderr, markup=False)


def labelled(label: str, message: str, style: str = "bold red") -> Text:
    """``label`` styled, then ``message`` as plain text (e.g. ``error: <message>``)."""
    return Text.assemble((label, style), " ", message)


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


def config_key_lines(command: str, keys: list[ConfigKey], width: int = 80) -> list[str]:
    """``--show-config``: each key with its default, its description wrapped under it, in
    ``width`` columns (long words are broken too, so no line is wider)."""

    def wrap(text: str, indent: str, then: str) -> list[str]:
        return textwrap.wrap(
            text,
            width,
            initial_indent=indent,
            subsequent_indent=then,
            break_on_hyphens=False,
        )

    intro = (
        f"{command}: every config key with its default. Set keys as key=value (sections "
        "dotted: optim.lr=3e-4) or in a YAML file given with --config."
    )
    lines = [*wrap(intro, "", ""), ""]
    for key in keys:
        head = f"{key.key}:" if not key.default else f"{key.key} = {key.default}"
        lines += ([""] if not key.default else []) + wrap(head, "  ", "      ")
        if key.description:
            lines += wrap(key.description, "      ", "      ")
    return lines
