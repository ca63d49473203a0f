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
from rich.measure import Measurement
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


def print_rows(
    console: Console,
    title: str,
    header: list[str],
    rows: list[list[str]],
    caption: str | None = None,
) -> None:
    """A table when every cell fits the console unwrapped; else one block per row.

    Why: a table squeezed into 80 columns folds paths and names into cells a few letters wide
    (issue 39: ``tasks --wide``, ``compare``, ``bench --dry-run``). A block names the row by its
    first cell, then each other column as ``column  value``, a value wrapping under itself.
    """
    table = Table(title=title, caption=caption)
    for column in header:
        table.add_column(column)
    for row in rows:
        table.add_row(*(Text(cell) for cell in row))
    unwrapped = Measurement.get(console, console.options.update(max_width=10**6), table)
    if unwrapped.maximum <= console.width:
        console.print(table)
        return
    console.print(Text(title, style="bold"))
    for row in rows:
        console.print(Text(row[0], style="bold"))
        block = Table.grid(padding=(0, 2))
        block.add_column(no_wrap=True)
        block.add_column(overflow="fold")
        for column, cell in zip(header[1:], row[1:], strict=True):
            if cell:
                block.add_row(Text(f"  {column}", style="dim"), Text(cell))
        console.print(block)
    if caption:
        console.print(Text(caption))


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
