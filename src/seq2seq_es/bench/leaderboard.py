"""The leaderboard of a grid, in the paper's layout: rows are models, columns are tasks' scores.

Each cell is the mean over seeds (± their standard deviation when there are several)
with a 95% bootstrap interval; the best model of each column is marked, and so is every
model that is not significantly different from it.

How seeds and significance go together: every metric is a function of sums of
per-example statistics (``metrics/segment_stats.py``). For a model with several seeds,
each example's statistics are averaged over the seeds, which gives one row per example;
the corpus score of those rows is the metric of the pooled outputs (for mean-of-sentence
metrics such as ROUGE exactly the mean over seeds; BLEU, chrF and SARI are ratios of sums,
unchanged by the 1/seeds scale). The interval is then a bootstrap over examples, and the
best model is tested against every other one with the paired test of
``metrics/significance.py`` on the same examples, Holm-corrected over the column
(``metrics.significance.holm``). With one seed all this reduces to the cell's own scores.

The reference NLL (teacher-forced, per target token) is listed per cell but never ranked:
models with different tokenizers are scored on different tokens.
"""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from seq2seq_es.bench.config import BenchConfig, TaskEntry
from seq2seq_es.bench.grid import Job, Plan, columns_for, load_task
from seq2seq_es.bench.status import read_status
from seq2seq_es.errors import DataError
from seq2seq_es.files import atomic_write, write_json

LABELS = {
    "rouge1": "ROUGE-1",
    "rouge2": "ROUGE-2",
    "rougeL": "ROUGE-L",
    "rougeLsum": "ROUGE-Lsum",
    "bleu": "BLEU",
    "bleu-intl": "BLEU (intl)",
    "chrf": "chrF",
    "sari": "SARI (EASSE)",
    "sari-evaluate": "SARI (evaluate)",
    "meteor": "METEOR",
    "unigram-f1": "F1",
    "exact_match": "EM",
    "token_f1": "token F1",
    "nll_per_token": "NLL/token",
}
LOWER_IS_BETTER = {"nll"}
BEST, TIED = "**", "≈"


def column_label(score: str) -> str:
    """'rouge-paper.rouge1' → 'ROUGE-1 (paper)'; 'bleu.score' → 'BLEU'."""
    metric, _, key = score.partition(".")
    if metric in ("rouge", "rouge-paper", "rouge-snowball"):
        suffix = {"rouge": "", "rouge-paper": " (paper)", "rouge-snowball": " (Snowball)"}[metric]
        return LABELS.get(key, key) + suffix
    if key in ("score", metric, "") or metric in ("sari", "sari-evaluate"):
        return LABELS.get(metric, metric)
    return LABELS.get(key, f"{metric}/{key}")


@dataclass
class Run:
    """One finished cell: its scores, and its predictions (for pooled statistics and tests)."""

    job: Job
    scores: dict[str, Any]
    decoded_scores: dict[str, Any]
    predictions: Path | None


def row_key(job: Job) -> str:
    axes = job.labels.get("axes") or {}
    return job.labels["model"] + (
        "" if not axes else " (" + ", ".join(f"{k}={v}" for k, v in axes.items()) + ")"
    )


def _read_json(path: Path) -> dict[str, Any]:
    import json

    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}


def load_runs(
    plan: Plan, root: Path
) -> tuple[dict[tuple[str, str], list[Run]], list[dict[str, Any]]]:
    """Finished cells by (row, task), and the cells that are not finished (with state and error)."""
    runs: dict[tuple[str, str], list[Run]] = {}
    missing: list[dict[str, Any]] = []
    for job in plan.cells:
        folder = root / job.folder
        status = read_status(folder) or {}
        key = (row_key(job), job.labels["task"])
        scores = _read_json(folder / "scores.json")
        if status.get("state") != "done" or status.get("hash") != job.hash or not scores:
            missing.append(
                {
                    "row": key[0],
                    "task": key[1],
                    "cell": job.id,
                    "seed": job.labels["seed"],
                    "state": status.get("state", "pending")
                    if status.get("hash") == job.hash
                    else ("changed" if status else "pending"),
                    "error": status.get("error"),
                    "log": status.get("log"),
                }
            )
            continue
        predictions = Path(scores["predictions_file"]) if scores.get("predictions_file") else None
        if predictions is not None and not predictions.is_absolute():
            predictions = root / predictions
        decoded = (
            _read_json(predictions.with_name("scores.json")) if predictions is not None else {}
        )
        runs.setdefault(key, []).append(Run(job, scores, decoded, predictions))
    return runs, missing


def score_value(scores: dict[str, Any], score: str) -> tuple[float | None, list[float] | None]:
    metric, _, key = score.partition(".")
    entry = scores.get(metric)
    if not isinstance(entry, dict) or (key or "score") not in entry:
        return None, None
    interval = entry.get("ci", {}).get(key or "score")
    return float(entry[key or "score"]), interval


class PooledStats:
    """Per-example statistics of each (row, task, metric), averaged over seeds and aligned on
    ids."""

    def __init__(self, runs: dict[tuple[str, str], list[Run]]) -> None:
        self.runs = runs
        self.baselines: dict[str, Any] = {}
        self.cache: dict[tuple[str, str, str], Any] = {}
        self.problems: dict[tuple[str, str], str] = {}

    def get(self, row: str, task: str, metric: str) -> Any:
        """The row's pooled ``SegmentStats`` for ``metric`` on ``task``, or None (with the reason
        kept)."""
        key = (row, task, metric)
        if key not in self.cache:
            try:
                self.cache[key] = self._pool(row, task, metric)
            except DataError as exc:
                self.problems[(row, task)] = str(exc)
                self.cache[key] = None
        return self.cache[key]

    def _baseline(self, task: str) -> Any:
        from seq2seq_es.metrics.prediction_files import read_scoring_input

        if task not in self.baselines:
            first = next(
                (
                    run.predictions
                    for (_, t), runs in self.runs.items()
                    if t == task
                    for run in runs
                    if run.predictions is not None and run.predictions.is_file()
                ),
                None,
            )
            self.baselines[task] = read_scoring_input(first) if first is not None else None
        return self.baselines[task]

    def _pool(self, row: str, task: str, metric: str) -> Any:
        from seq2seq_es.metrics.compare_files import align_to
        from seq2seq_es.metrics.prediction_files import read_scoring_input
        from seq2seq_es.metrics.scoring import metric_stats
        from seq2seq_es.metrics.segment_stats import SegmentStats

        baseline = self._baseline(task)
        runs = self.runs.get((row, task), [])
        files = [
            r.predictions for r in runs if r.predictions is not None and r.predictions.is_file()
        ]
        if baseline is None or not runs or len(files) < len(runs):
            raise DataError(
                f"{row} / {task}: predictions missing: no pooled statistics, no significance test"
            )
        stats = [
            metric_stats(align_to(baseline, read_scoring_input(path)), [metric])[0]
            for path in files
        ]
        rows = np.mean([s.stats for s in stats], axis=0)
        return SegmentStats(stats[0].metric, stats[0].signature, rows, stats[0].score_from_sums)


def _mean_std(values: list[float]) -> tuple[float, float]:
    return float(np.mean(values)), float(np.std(values, ddof=1)) if len(values) > 1 else 0.0


def _column_cells(
    rows: list[str],
    task: str,
    score: str,
    runs: dict[tuple[str, str], list[Run]],
    pooled: PooledStats,
    config: BenchConfig,
) -> dict[str, dict[str, Any]]:
    """One column: each row's mean, std, interval; best and not-significantly-different marks."""
    from seq2seq_es.metrics.scoring import scores_with_intervals
    from seq2seq_es.metrics.significance import compare_systems, holm

    settings = config.leaderboard
    metric, _, key = score.partition(".")
    key = key or "score"
    higher = metric not in LOWER_IS_BETTER
    cells: dict[str, dict[str, Any]] = {}
    for row in rows:
        seeds = runs.get((row, task), [])
        values = [v for v in (score_value(r.scores, score)[0] for r in seeds) if v is not None]
        if not values:
            continue
        mean, std = _mean_std(values)
        cell: dict[str, Any] = {
            "mean": mean,
            "std": std,
            "values": values,
            "n_seeds": len(values),
            "seeds": [r.job.labels["seed"] for r in seeds],
            "ci": None,
            "n": seeds[0].scores.get("n"),
            "best": False,
            "tied": False,
            "p": None,
            "p_holm": None,
        }
        stats = pooled.get(row, task, metric)
        if stats is not None:
            interval = scores_with_intervals([stats], settings.samples, 0.95, settings.seed)[metric]
            cell["ci"] = interval.get("ci", {}).get(key)
        elif len(values) == 1:
            cell["ci"] = score_value(seeds[0].scores, score)[1]
        cells[row] = cell
    if not cells:
        return cells
    best = (max if higher else min)(cells, key=lambda r: cells[r]["mean"])
    cells[best]["best"] = True
    others = [r for r in cells if r != best]
    best_stats = pooled.get(best, task, metric)
    tested: list[tuple[str, float]] = []
    for row in others:
        stats = pooled.get(row, task, metric)
        if best_stats is None or stats is None:
            continue
        result = next(
            t
            for t in compare_systems(
                best_stats, stats, settings.samples, settings.samples, settings.seed
            )
            if t.score == key
        )
        tested.append(
            (
                row,
                result.p_randomization if settings.test == "randomization" else result.p_bootstrap,
            )
        )
    for (row, p), adjusted in zip(tested, holm([p for _, p in tested]), strict=True):
        cells[row].update(p=p, p_holm=adjusted, tied=adjusted >= settings.alpha)
    return cells


def _nll(runs: list[Run]) -> dict[str, Any] | None:
    entries = [r.decoded_scores.get("nll") for r in runs]
    values = [
        float(e["nll_per_token"]) for e in entries if isinstance(e, dict) and "nll_per_token" in e
    ]
    if not values:
        return None
    mean, std = _mean_std(values)
    first = next(e for e in entries if isinstance(e, dict))
    return {
        "mean": mean,
        "std": std,
        "n_seeds": len(values),
        "ci": first.get("ci", {}).get("nll_per_token") if len(values) == 1 else None,
        "signature": first.get("signature"),
    }


def _cross_domain(plan: Plan, root: Path, config: BenchConfig) -> list[dict[str, Any]]:
    """Scores of models fine-tuned on one task and evaluated on another (the ``cross_eval``
    steps)."""
    groups: dict[tuple[str, str, str], list[tuple[float, list[float] | None]]] = {}
    columns: dict[str, str] = {}
    for job in plan.cells:
        status = read_status(root / job.folder) or {}
        for step in job.steps:
            if (
                not step.name.startswith("cross-")
                or status.get("steps", {}).get(step.name, {}).get("state") != "done"
            ):
                continue
            scores = _read_json(root / job.folder / (step.output or "") / "scores.json")
            argument = next((t.partition("=")[2] for t in step.argv if t.startswith("task=")), None)
            if argument is None:
                continue
            spec = load_task(argument, root)
            task = spec.name
            if task not in columns:  # the evaluated task's headline score
                columns[task] = columns_for(TaskEntry(name=argument), spec, config)[0]
            value, interval = score_value(scores, columns[task])
            if value is not None:
                groups.setdefault((row_key(job), job.labels["task"], task), []).append(
                    (value, interval)
                )
    result = []
    for (row, trained, evaluated), found in groups.items():
        mean, std = _mean_std([v for v, _ in found])
        result.append(
            {
                "row": row,
                "train_task": trained,
                "eval_task": evaluated,
                "score": columns[evaluated],
                "mean": mean,
                "std": std,
                "n_seeds": len(found),
                "ci": found[0][1] if len(found) == 1 else None,
            }
        )
    return result


def build_leaderboard(config: BenchConfig, plan: Plan, root: str | Path = ".") -> dict[str, Any]:
    """Everything the Markdown, CSV, JSON and plots show, as plain data."""
    root = Path(root)
    runs, missing = load_runs(plan, root)
    rows = list(dict.fromkeys(row_key(job) for job in plan.cells))
    tasks = [
        entry
        for entry in config.tasks
        if any(job.labels["task_entry"] == entry.name for job in plan.cells)
    ]
    pooled = PooledStats(runs)
    columns: list[dict[str, Any]] = []
    cells: dict[str, dict[str, Any]] = {row: {} for row in rows}
    nll: dict[str, dict[str, Any]] = {row: {} for row in rows}
    for entry in tasks:
        spec = load_task(entry.name, root)
        for score in columns_for(entry, spec, config):
            column_id = f"{spec.name}:{score}"
            columns.append(
                {
                    "id": column_id,
                    "task": spec.name,
                    "kind": spec.kind,
                    "score": score,
                    "label": column_label(score),
                    "paper_compatible": score.startswith("rouge-paper"),
                    "higher_is_better": score.split(".")[0] not in LOWER_IS_BETTER,
                }
            )
            for row, cell in _column_cells(rows, spec.name, score, runs, pooled, config).items():
                cells[row][column_id] = cell
        for row in rows:
            found = _nll(runs.get((row, spec.name), []))
            if found is not None:
                nll[row][spec.name] = found
    column_ids = {str(c["id"]) for c in columns}
    published: list[dict[str, Any]] = []
    for reference in config.published:
        values = {
            f"{task}:{score}": value
            for task, scores in reference.values.items()
            for score, value in scores.items()
        }
        published.append(
            {
                "label": reference.label,
                "split": reference.split,
                "source": reference.source,
                "values": values,
                "shown": {k: v for k, v in values.items() if k in column_ids},
            }
        )
    return {
        "name": config.name,
        "description": config.description,
        "split": config.evaluation.split,
        "confidence": 0.95,
        "test": config.leaderboard.test,
        "alpha": config.leaderboard.alpha,
        "correction": "holm",
        "samples": config.leaderboard.samples,
        "columns": columns,
        "rows": rows,
        "cells": cells,
        "nll": nll,
        "published": published,
        "missing": missing,
        "problems": [{"row": r, "task": t, "problem": p} for (r, t), p in pooled.problems.items()],
        "cross_domain": _cross_domain(plan, root, config),
        "facts": {
            row_key(job): job.resolved.get("model", {}).get("facts", {}) for job in plan.cells
        },
    }


def _number(value: float) -> str:
    return f"{value:.2f}" if math.isfinite(value) else str(value)


def format_cell(cell: dict[str, Any] | None) -> str:
    """'**31.20** ± 0.40 [30.10, 32.30]' (best), '30.90 ≈ [..]' (not significantly worse), '—'
    (no result)."""
    if cell is None:
        return "—"
    value = _number(cell["mean"])
    text = f"{BEST}{value}{BEST}" if cell["best"] else value
    if cell["n_seeds"] > 1:
        text += f" ± {_number(cell['std'])}"
    if cell["tied"]:
        text += f" {TIED}"
    if cell["ci"]:
        text += f" [{_number(cell['ci'][0])}, {_number(cell['ci'][1])}]"
    return text


def _seeds_note(board: dict[str, Any]) -> str:
    counts = sorted({c["n_seeds"] for row in board["cells"].values() for c in row.values()})
    return ", ".join(str(c) for c in counts) or "0"


def leaderboard_markdown(board: dict[str, Any]) -> str:
    """The main table, the legend, reference rows, NLL, cross-domain scores and what is missing."""
    columns = board["columns"]
    test = "approximate randomization" if board["test"] == "randomization" else "paired bootstrap"
    lines = [f"# Leaderboard: {board['name']}", ""]
    if board.get("description"):
        lines += [board["description"].strip(), ""]
    seeds = _seeds_note(board)
    each = (
        "the score (one seed per cell)"
        if seeds == "1"
        else f"the mean over seeds (seeds per cell: {seeds}; ± = standard deviation over seeds)"
    )
    lines += [
        (
            f"Split: {board['split']}. Each cell: {each} and the {100 * board['confidence']:g}% "
            "bootstrap interval [low, high] over examples (of the seed-pooled outputs). "
            f"{BEST}bold{BEST}: best in the column; {TIED}: not significantly different from the "
            f"best (paired {test} test, {board['samples']} samples, Holm over the column, α = "
            f"{board['alpha']:g}). ROUGE is Spanish-correct (Unicode words, no stemming); "
            "'(paper)' columns are the paper-compatible ROUGE (rouge-score's default: accents "
            "deleted, English Porter stemmer), only for comparison with published numbers."
        ),
        "",
    ]
    header = ["model", *[f"{c['task']} {c['label']}" for c in columns]]
    lines += ["| " + " | ".join(header) + " |", "|---|" + "---:|" * len(columns)]
    for row in board["rows"]:
        lines.append(
            "| "
            + " | ".join([row, *[format_cell(board["cells"][row].get(c["id"])) for c in columns]])
            + " |"
        )
    for ref in board["published"]:
        if ref["shown"]:
            label = f"*{ref['label']} (published, {ref['split']})*"
            lines.append(
                "| "
                + " | ".join(
                    [
                        label,
                        *[
                            f"*{ref['shown'][c['id']]:.2f}*" if c["id"] in ref["shown"] else ""
                            for c in columns
                        ],
                    ]
                )
                + " |"
            )
    sources = [
        f"- {ref['label']}: {ref['source']}"
        for ref in board["published"]
        if ref["shown"] and ref["source"]
    ]
    if sources:
        lines += ["", "Published numbers (not recomputed, never ranked):", *sources]
    lines += _nll_lines(board) + _cross_lines(board) + _missing_lines(board)
    return "\n".join(lines) + "\n"


def _nll_lines(board: dict[str, Any]) -> list[str]:
    tasks = list(dict.fromkeys(c["task"] for c in board["columns"]))
    if not any(board["nll"][row] for row in board["rows"]):
        return []
    lines = [
        "",
        (
            "## Reference NLL per target token (teacher-forced; lower is better; not comparable "
            "across tokenizers, so not ranked)"
        ),
        "",
        "| model | " + " | ".join(tasks) + " |",
        "|---|" + "---:|" * len(tasks),
    ]
    for row in board["rows"]:
        cells = []
        for task in tasks:
            entry = board["nll"][row].get(task)
            if entry is None:
                cells.append("—")
                continue
            text = _number(entry["mean"]) + (
                f" ± {_number(entry['std'])}" if entry["n_seeds"] > 1 else ""
            )
            if entry.get("ci"):
                text += f" [{_number(entry['ci'][0])}, {_number(entry['ci'][1])}]"
            cells.append(text)
        lines.append("| " + " | ".join([row, *cells]) + " |")
    return lines


def _cross_lines(board: dict[str, Any]) -> list[str]:
    if not board["cross_domain"]:
        return []
    lines = [
        "",
        "## Cross-domain (fine-tuned on one task, evaluated on another)",
        "",
        "| model | trained on | evaluated on | score | value |",
        "|---|---|---|---|---:|",
    ]
    for item in board["cross_domain"]:
        value = _number(item["mean"]) + (
            f" ± {_number(item['std'])}" if item["n_seeds"] > 1 else ""
        )
        if item.get("ci"):
            value += f" [{_number(item['ci'][0])}, {_number(item['ci'][1])}]"
        lines.append(
            f"| {item['row']} | {item['train_task']} | {item['eval_task']} | "
            f"{column_label(item['score'])} | {value} |"
        )
    return lines


def _missing_lines(board: dict[str, Any]) -> list[str]:
    lines = []
    if board["missing"]:
        lines += [
            "",
            "## Cells without a result",
            "",
            "| cell | state | error | log |",
            "|---|---|---|---|",
        ]
        for item in board["missing"]:
            error = (item.get("error") or "").replace("|", "\\|").replace("\n", " ")
            lines.append(
                f"| {item['cell']} | {item['state']} | {error} | {item.get('log') or ''} |"
            )
    if board["problems"]:
        lines += [
            "",
            "Not tested for significance: "
            + "; ".join(f"{p['row']} / {p['task']}: {p['problem']}" for p in board["problems"]),
        ]
    return lines


def leaderboard_csv(board: dict[str, Any]) -> str:
    """Long format: one line per model (or published row) × column."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(
        [
            "row",
            "kind",
            "task",
            "score",
            "label",
            "mean",
            "std",
            "n_seeds",
            "ci_low",
            "ci_high",
            "best",
            "tied_with_best",
            "p",
            "p_holm",
            "n_examples",
        ]
    )
    for row in board["rows"]:
        for column in board["columns"]:
            cell = board["cells"][row].get(column["id"])
            if cell is None:
                continue
            low, high = cell["ci"] or (None, None)
            writer.writerow(
                [
                    row,
                    "model",
                    column["task"],
                    column["score"],
                    column["label"],
                    cell["mean"],
                    cell["std"],
                    cell["n_seeds"],
                    low,
                    high,
                    cell["best"],
                    cell["tied"],
                    cell["p"],
                    cell["p_holm"],
                    cell["n"],
                ]
            )
    for ref in board["published"]:
        for column_id, value in ref["values"].items():
            task, _, score = column_id.partition(":")
            writer.writerow(
                [
                    ref["label"],
                    f"published ({ref['split']})",
                    task,
                    score,
                    column_label(score),
                    value,
                    "",
                    "",
                    "",
                    "",
                    "",
                    "",
                    "",
                    "",
                    "",
                ]
            )
    return buffer.getvalue()


def write_leaderboard(board: dict[str, Any], folder: str | Path) -> dict[str, Path]:
    """``leaderboard.md``, ``leaderboard.csv``, ``leaderboard.json`` in ``folder``."""
    folder = Path(folder)
    paths = {
        "markdown": folder / "leaderboard.md",
        "csv": folder / "leaderboard.csv",
        "json": folder / "leaderboard.json",
    }
    with atomic_write(paths["markdown"]) as handle:
        handle.write(leaderboard_markdown(board))
    with atomic_write(paths["csv"]) as handle:
        handle.write(leaderboard_csv(board))
    write_json(paths["json"], board)
    return paths
