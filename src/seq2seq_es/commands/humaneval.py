"""``seq2seq-es humaneval create|serve|analyze|export``: blind human evaluation of predictions.

Thin on purpose: each ``run`` calls the ``seq2seq_es.humaneval`` library (imported inside,
so ``--help`` loads neither FastAPI nor SciPy) and returns what its ``show`` prints.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from seq2seq_es.commands.base import Command, no_output_dir
from seq2seq_es.commands.display import plain_console
from seq2seq_es.humaneval.config import AnalyzeConfig, CreateConfig, ExportConfig, ServeConfig


@dataclass(frozen=True)
class CreateResult:
    path: Path
    systems: list[str]
    items: int
    pool_size: int
    repeats: int
    annotators: list[str]


def create(config: CreateConfig) -> CreateResult:
    from seq2seq_es.humaneval.study import create_study

    study = create_study(config)
    queue = next(iter(study.queues.values()))
    return CreateResult(
        study.path,
        study.systems,
        len(study.items),
        study.pool_size,
        sum(p.repeat_of is not None for p in queue),
        list(study.queues),
    )


def show_create(result: CreateResult, console: Console) -> None:
    console.print(f"study: {result.path}")
    console.print(f"  systems (blind to annotators): {', '.join(result.systems)}")
    console.print(
        f"  items: {result.items} sampled of {result.pool_size} common ids; "
        f"{result.repeats} shown twice to each annotator"
    )
    console.print(
        f"  annotators: {', '.join(result.annotators)}; their secret tokens are in "
        f"{result.path / 'annotators.json'} (give each annotator only their own)"
    )
    console.print(f"  next: seq2seq-es humaneval serve study={result.path}")


def serve(config: ServeConfig) -> None:
    import uvicorn

    from seq2seq_es.humaneval.app import build_app

    app = build_app(config.study)  # checks the study before the port is opened
    plain_console(stderr=True).print(
        f"annotation app of {config.study} on http://{config.host}:{config.port}/ "
        "(Ctrl-C to stop; ratings are saved as they are submitted)"
    )
    uvicorn.run(app, host=config.host, port=config.port, log_level="warning", access_log=False)


def show_nothing(result: Any, console: Console) -> None:
    """The server printed its address when it started; nothing is left to show."""


@dataclass(frozen=True)
class AnalyzeResult:
    report: Path
    analysis: dict[str, Any]


def analyze(config: AnalyzeConfig) -> AnalyzeResult:
    from seq2seq_es.humaneval.analysis import analyze as analyze_ratings
    from seq2seq_es.humaneval.report import write_analysis
    from seq2seq_es.humaneval.store import RatingStore
    from seq2seq_es.humaneval.study import load_study

    study = load_study(config.study)
    analysis = analyze_ratings(study, RatingStore(study.database).pages(), config)
    return AnalyzeResult(
        write_analysis(analysis, config.resolved_output_dir(), study.protocol.title), analysis
    )


def show_analyze(result: AnalyzeResult, console: Console) -> None:
    from seq2seq_es.humaneval.report import num

    analysis = result.analysis
    table = Table(
        title=f"human scores (kept annotators: {', '.join(analysis['kept_annotators']) or 'none'})"
    )
    table.add_column("criterion")
    for system in analysis["systems"]:
        table.add_column(system, justify="right")
    for criterion, scores in analysis["system_scores"].items():
        table.add_row(
            criterion,
            *(
                f"{num(scores[s]['value'])} [{num(scores[s]['low'])}, {num(scores[s]['high'])}]"
                for s in analysis["systems"]
            ),
        )
    console.print(table)
    for criterion, entry in analysis["agreement"].items():
        ordinal = "" if criterion == "preference" else f"ordinal {num(entry['alpha_ordinal'])}, "
        console.print(
            f"  {criterion}: Krippendorff alpha {ordinal}nominal {num(entry['alpha_nominal'])} "
            f"on {entry['units']} units"
        )
    console.print(f"report: {result.report}")


def export(config: ExportConfig) -> dict[str, Any]:
    from seq2seq_es.humaneval.export import export_study
    from seq2seq_es.humaneval.study import load_study

    counts = export_study(load_study(config.study), config.resolved_output_dir())
    return {"output_dir": str(config.resolved_output_dir()), **counts}


def show_export(result: dict[str, Any], console: Console) -> None:
    console.print(
        f"{result['ratings']} answers → {Path(result['output_dir']) / 'ratings.csv'}; "
        f"{result['outputs']} outputs → {Path(result['output_dir']) / 'outputs.csv'}"
    )


STUDY_HELP = "The study folder (or study=DIR), then key=value overrides."

COMMANDS: list[Command] = [
    Command(
        "humaneval create",
        "Make a blind, randomized human-evaluation study from two or more "
        "predictions.jsonl files (same ids).",
        CreateConfig,
        create,
        show_create,
        output_dir=no_output_dir,
        positional="predictions",
        positional_help="The predictions.jsonl files (or predictions=[a,b]), then key=value "
        "overrides.",
    ),
    Command(
        "humaneval serve",
        "Serve a study's annotation web app (FastAPI, ratings in SQLite).",
        ServeConfig,
        serve,
        show_nothing,
        output_dir=no_output_dir,
        positional="study",
        positional_help=STUDY_HELP,
    ),
    Command(
        "humaneval analyze",
        "Scores with bootstrap intervals, sign tests, Krippendorff's alpha, "
        "Cohen's kappa, consistency, metric correlations → report.md.",
        AnalyzeConfig,
        analyze,
        show_analyze,
        output_dir=lambda c: c.resolved_output_dir(),
        positional="study",
        positional_help=STUDY_HELP,
    ),
    Command(
        "humaneval export",
        "Export a study's ratings (unblinded) and outputs as CSV.",
        ExportConfig,
        export,
        show_export,
        output_dir=lambda c: c.resolved_output_dir(),
        positional="study",
        positional_help=STUDY_HELP,
    ),
]
