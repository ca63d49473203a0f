"""The terminal summary of a corpus run: one Rich table of kept/dropped per step."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text


def _reasons(dropped: dict[str, dict[str, int]], limit: int = 3) -> str:
    top = sorted(dropped.items(), key=lambda item: -item[1]["docs"])
    text = ", ".join(f"{reason} {entry['docs']:,}" for reason, entry in top[:limit])
    return text + (f", +{len(top) - limit} more" if len(top) > limit else "")


def summary_table(stats: dict[str, Any]) -> Table:
    """Rows: every step that counts documents, with what it dropped and why."""
    table = Table(title="corpus: kept / dropped per step")
    for column, justify in (
        ("step", "left"),
        ("docs in", "right"),
        ("docs out", "right"),
        ("dropped", "right"),
        ("chars out", "right"),
        ("top reasons", "left"),
        ("s", "right"),
    ):
        table.add_column(column, justify=justify)  # type: ignore[arg-type]
    for step, row in stats.get("steps", {}).items():
        if "docs_in" not in row:
            continue
        dropped = row["docs_in"] - row["docs_out"]
        share = f" ({dropped / row['docs_in']:.1%})" if row["docs_in"] else ""
        table.add_row(
            step,
            f"{row['docs_in']:,}",
            f"{row['docs_out']:,}",
            f"{dropped:,}{share}",
            f"{row['chars_out']:,}",
            _reasons(row["dropped"]),
            f"{row['seconds']:.1f}",
        )
    return table


def print_summary(console: Console, stats: dict[str, Any], output_dir: Path) -> None:
    if not stats:
        console.print(
            f"submitted; stats.json will be written to {output_dir / 'stats.json'} when the jobs "
            "end."
        )
        return
    console.print(summary_table(stats))
    unreadable = stats.get("input", {}).get("unreadable", {})
    if unreadable:
        total = sum(entry["docs"] for entry in unreadable.values())
        detail = ", ".join(f"{reason}: {entry['docs']:,}" for reason, entry in unreadable.items())
        console.print(
            Text.assemble(
                ("warning:", "bold yellow"),
                f" {total:,} input lines/files could not be read ({detail}); they are in "
                f"{output_dir / 'rejects' / 'read'}.",
            ),
            highlight=False,
        )
    out = stats.get("output", {})
    console.print(
        f"kept {out.get('docs', 0):,} documents, {out.get('chars', 0):,} characters "
        f"({out.get('kept_chars_fraction', 0):.1%} of the input characters)"
    )
    console.print(
        f"shards: {output_dir / 'shards'}   stats: {output_dir / 'stats.json'}   "
        f"rejects: {output_dir / 'rejects'}"
    )
