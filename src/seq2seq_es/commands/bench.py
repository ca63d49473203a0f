"""``seq2seq-es bench -c configs/bench/<grid>.yaml``: run a models × tasks × seeds grid, write the
leaderboard.

A rerun computes only missing or changed cells and resumes an interrupted one; ``--dry-run``
runs nothing and summarizes the jobs (``--all``: every job with its state, command lines and
settings). Both first check every step's settings against its command's schema
(``bench/step_settings.py``): a misspelt key in the grid fails at once (exit 2), naming the grid
key that set it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from seq2seq_es.bench.config import BenchConfig
from seq2seq_es.bench.grid import format_value
from seq2seq_es.commands.base import Command, Flag
from seq2seq_es.commands.display import labelled, plain_console, print_rows

DRY_RUN = Flag("dry_run", ("--dry-run",), "Summarize the jobs a run would do; run nothing.", "bool")
ALL_CELLS = Flag(
    "all_cells", ("--all",), "With --dry-run: every job with its commands and settings.", "bool"
)


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
    """The jobs as a table (blocks when it would not fit the console); a dry run shows a summary
    unless ``--all`` asks for every job with its commands and settings."""
    title = (
        f"bench {report.name}: "
        + ", ".join(f"{n} {s}" for s, n in report.counts().items())
        + ("" if report.online else " (offline)")
    )
    if report.dry_run and not report.all_cells:
        print_summary(report, console, title)
    else:
        detail = "commands" if report.dry_run else "error / log"
        rows = [
            [
                row["id"],
                row["state"],
                f"{row['seconds']:.0f}" if row["seconds"] else "",
                dry_run_detail(row) if report.dry_run else run_detail(row),
            ]
            for row in report.rows
        ]
        print_rows(console, title, ["job", "state", "seconds", detail], rows)
    for kind, path in report.leaderboard.items():
        console.print(f"leaderboard ({kind}): {path}")
    if report.plots:
        console.print(f"plots: {Path(report.plots[0]).parent} ({len(report.plots)} files)")
    if report.commands_file:
        console.print(f"commands: {report.commands_file}")


def print_summary(report: Any, console: Console, title: str) -> None:
    """What a dry run would do, in a screen: how many jobs, over which models, tasks and
    seeds."""
    cells = [row for row in report.rows if row["kind"] == "cell"]

    def listed(label: str) -> str:
        values = list(dict.fromkeys(str(row["labels"][label]) for row in cells))
        return f"({len(values)}) {', '.join(values)}"

    summary = Table.grid(padding=(0, 2))
    summary.add_column(no_wrap=True, style="dim")
    summary.add_column(overflow="fold")
    summary.add_row("jobs", f"{len(report.rows) - len(cells)} prepare jobs, {len(cells)} cells")
    if cells:
        for label in ("model", "task", "seed"):
            summary.add_row(f"{label}s", Text(listed(label)))
    console.print(Text(title, style="bold"))
    console.print(summary)
    console.print("--all: every job with its state, commands and settings")


def dry_run_detail(row: dict[str, Any]) -> str:
    """A job's command lines, what it needs from the network and its settings by origin."""
    detail = "\n".join(row["commands"]) + (
        f"\nneeds: {', '.join(row['network'])}" if row["network"] else ""
    )
    lines = setting_lines(row.get("settings", {}))
    return detail + ("\nsettings, by where they are set:\n" + "\n".join(lines) if lines else "")


def run_detail(row: dict[str, Any]) -> str:
    return " ".join(part for part in (row.get("error") or "", row.get("log") or "") if part)


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
        flags=(DRY_RUN, ALL_CELLS),
    )
]
