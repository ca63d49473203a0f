"""``seq2seq-es bench -c configs/bench/<grid>.yaml``: run a models × tasks × seeds grid, write the
leaderboard.

A rerun computes only missing or changed cells and resumes an interrupted one;
``--dry-run`` lists every cell with its state and command lines and runs nothing. Both first
check every step's settings against its command's schema (``bench/step_settings.py``): a
misspelt key in the grid fails at once (exit 2), naming the grid key that set it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from seq2seq_es.bench.config import BenchConfig
from seq2seq_es.bench.grid import format_value
from seq2seq_es.commands.base import Command, Flag
from seq2seq_es.commands.display import labelled, plain_console

DRY_RUN = Flag("dry_run", ("--dry-run",), "List the cells and their commands; run nothing.", "bool")


def run(config: BenchConfig) -> Any:
    from seq2seq_es.bench.runner import run_bench

    progress = plain_console(stderr=True)

    def update(event: dict[str, Any]) -> None:
        error = f": {event['error']}" if event.get("error") and event["state"] != "done" else ""
        progress.print(
            labelled("bench", f"{event['id']}: {event['state']}{error}", "dim"),
            highlight=False,
            soft_wrap=True,
        )

    return run_bench(config, on_update=update)


def show(report: Any, console: Console) -> None:
    table = Table(
        title=f"bench {report.name}: "
        + ", ".join(f"{n} {s}" for s, n in report.counts().items())
        + ("" if report.online else " (offline)")
    )
    for column in ("job", "state", "seconds", "error / log" if not report.dry_run else "commands"):
        table.add_column(column, overflow="fold")
    for row in report.rows:
        if report.dry_run:
            detail = "\n".join(row["commands"]) + (
                f"\nneeds: {', '.join(row['network'])}" if row["network"] else ""
            )
            lines = setting_lines(row.get("settings", {}))
            detail += "\nsettings, by where they are set:\n" + "\n".join(lines) if lines else ""
        else:
            detail = " ".join(
                part for part in (row.get("error") or "", row.get("log") or "") if part
            )
        table.add_row(  # plain text: a value such as [bleu, chrf] is printed as it is
            row["id"],
            row["state"],
            f"{row['seconds']:.0f}" if row["seconds"] else "",
            detail,
        )
    console.print(table)
    for kind, path in report.leaderboard.items():
        console.print(f"leaderboard ({kind}): {path}")
    if report.plots:
        console.print(f"plots: {Path(report.plots[0]).parent} ({len(report.plots)} files)")
    if report.commands_file:
        console.print(f"commands: {report.commands_file}")


def setting_lines(settings: dict[str, dict[str, Any]]) -> list[str]:
    """A cell's finetune settings grouped by the grid key that set them, each group with that
    entry's ``source`` (the authors' script and line, "ours", ...)."""
    groups: dict[tuple[str, str], list[str]] = {}
    for key, item in settings.items():
        groups.setdefault((item["from"], item.get("source") or ""), []).append(
            f"{key}={format_value(item['value'])}"
        )
    return [
        f"{origin}: {' '.join(keys)}" + (f"\n  source: {source}" if source else "")
        for (origin, source), keys in groups.items()
    ]


def output_dir(config: BenchConfig) -> Path | None:
    """A dry run writes nothing, not even its run record."""
    return None if config.dry_run else Path(config.results_dir)


COMMANDS = [
    Command(
        "bench",
        "Run a models × tasks × seeds grid (cached, resumable; local, Slurm or a commands "
        "file) and write the leaderboard and plots.",
        BenchConfig,
        run,
        show,
        output_dir=output_dir,
        flags=(DRY_RUN,),
    )
]
