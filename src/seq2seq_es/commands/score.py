"""``seq2seq-es score`` and ``compare``: score prediction files, test systems against a baseline."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.console import Console

from seq2seq_es.commands.base import Command, Flag, no_output_dir
from seq2seq_es.commands.display import print_rows, print_scores
from seq2seq_es.metrics.config import CompareConfig, ScoreConfig

REFERENCES = Flag("references", ("--ref",), "Separate references (JSONL by id, or .txt).")
METRICS = Flag("metrics", ("--metric", "-m"), "Metric (repeatable).", "list")


def score(config: ScoreConfig) -> dict[str, Any]:
    from seq2seq_es.metrics.score_file import score_file

    scores, output = score_file(config)
    return {"scores": scores, "path": str(output)}


def show_score(result: dict[str, Any], console: Console) -> None:
    print_scores(console, result["scores"])
    console.print(f"scores: {result['path']}")


def compare(config: CompareConfig) -> dict[str, Any]:
    from seq2seq_es.metrics.compare_files import compare_files

    comparison, output_dir = compare_files(config)
    return {"comparison": comparison, "report": str(Path(output_dir) / "report.md")}


def show_comparison(result: dict[str, Any], console: Console) -> None:
    from seq2seq_es.metrics.report import comparison_cells, comparison_legend

    comparison = result["comparison"]
    header, rows = comparison_cells(comparison)
    title = f"comparison (n={comparison['n']})"
    print_rows(console, title, header, rows, caption=comparison_legend(comparison))
    console.print(f"report: {result['report']}")


COMMANDS = [
    Command(
        "score",
        "Score predictions into scores.json + scores.md: values, bootstrap CIs, signatures.",
        ScoreConfig,
        score,
        show_score,
        output_dir=no_output_dir,
        output_file=lambda config: config.output_path(),
        flags=(
            Flag("predictions", ("--pred",), "predictions.jsonl (or .txt) to score."),
            REFERENCES,
            METRICS,
        ),
    ),
    Command(
        "compare",
        "Compare systems on the same references: CIs, paired bootstrap + randomization p-values "
        "(Holm).",
        CompareConfig,
        compare,
        show_comparison,
        flags=(REFERENCES, METRICS),
        positional="systems",
        positional_help="Prediction files, the first is the baseline; then optional key=value "
        "overrides.",
    ),
]
