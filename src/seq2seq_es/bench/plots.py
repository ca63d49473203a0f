"""Figures of a grid (matplotlib, PNG + SVG): leaderboard heat map, pretraining curves,
score vs corpus size with intervals, cross-domain matrix.

Each function takes plain data (the leaderboard dict, ``metrics.jsonl`` folders) and
writes one figure in every requested format; ``plot_bench`` draws the ones a grid has
data for. matplotlib is imported inside the functions (Agg backend: no display needed).
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from seq2seq_es.bench.config import PlotsConfig
from seq2seq_es.bench.grid import PREPARE_OUTPUT, Plan


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(figure: Any, stem: Path, formats: list[str]) -> list[Path]:
    stem.parent.mkdir(parents=True, exist_ok=True)
    paths = []
    for fmt in formats:
        path = stem.with_suffix(f".{fmt}")
        tmp = path.with_name(f".{path.name}.tmp")
        figure.savefig(tmp, format=fmt, dpi=150, bbox_inches="tight")
        tmp.replace(path)
        paths.append(path)
    _pyplot().close(figure)
    return paths


def _normalized(values: list[float | None], higher_is_better: bool) -> list[float]:
    """Each value's place between the column's worst (0) and best (1); NaN for no value."""
    present = [v for v in values if v is not None]
    if not present:
        return [math.nan] * len(values)
    low, high = min(present), max(present)
    span = high - low
    result = []
    for v in values:
        if v is None:
            result.append(math.nan)
        else:
            share = 0.5 if span == 0 else (v - low) / span
            result.append(share if higher_is_better else 1 - share)
    return result


def leaderboard_heatmap(board: dict[str, Any], stem: Path, formats: list[str]) -> list[Path]:
    """Rows models, columns task scores; colour: place in the column (best = brightest), text:
    the value."""
    import numpy as np

    plt = _pyplot()
    rows, columns = board["rows"], board["columns"]
    grid = np.full((len(rows), len(columns)), math.nan)
    for j, column in enumerate(columns):
        cells = [board["cells"][row].get(column["id"]) for row in rows]
        grid[:, j] = _normalized(
            [c["mean"] if c else None for c in cells], column["higher_is_better"]
        )
    figure, axis = plt.subplots(figsize=(1.6 * len(columns) + 3, 0.55 * len(rows) + 1.8))
    cmap = plt.get_cmap("viridis").with_extremes(bad="#dddddd")
    axis.imshow(np.ma.masked_invalid(grid), cmap=cmap, vmin=0, vmax=1, aspect="auto")
    for i, row in enumerate(rows):
        for j, column in enumerate(columns):
            cell = board["cells"][row].get(column["id"])
            if cell is None:
                axis.text(j, i, "—", ha="center", va="center", fontsize=8)
                continue
            text = f"{cell['mean']:.1f}" + (" ≈" if cell["tied"] else "")
            axis.text(
                j,
                i,
                text,
                ha="center",
                va="center",
                fontsize=8,
                fontweight="bold" if cell["best"] else "normal",
                color="black" if grid[i, j] > 0.6 else "white",
            )
    axis.set_xticks(
        range(len(columns)),
        [f"{c['task']}\n{c['label']}" for c in columns],
        rotation=45,
        ha="right",
        fontsize=8,
    )
    axis.set_yticks(range(len(rows)), rows, fontsize=8)
    axis.set_title(
        f"{board['name']}: {board['split']} (bold: best; ≈: not significantly different)",
        fontsize=9,
    )
    return _save(figure, stem, formats)


def read_curve(folder: Path) -> dict[str, list[tuple[int, float]]]:
    """Training and validation loss by step from a run's ``metrics.jsonl``."""
    curves: dict[str, list[tuple[int, float]]] = {"loss": [], "validation_loss": []}
    path = folder / "metrics.jsonl"
    if not path.is_file():
        return curves
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        record = json.loads(line)
        for key, points in curves.items():
            if isinstance(record.get(key), int | float):
                points.append((int(record["step"]), float(record[key])))
    return curves


def pretraining_curves(runs: dict[str, Path], stem: Path, formats: list[str]) -> list[Path]:
    """Training loss (line) and validation loss (markers) of each pretraining run."""
    plt = _pyplot()
    figure, axis = plt.subplots(figsize=(7, 4))
    for index, (label, folder) in enumerate(runs.items()):
        curves = read_curve(folder)
        colour = f"C{index % 10}"
        if curves["loss"]:
            steps, values = zip(*curves["loss"], strict=True)
            axis.plot(steps, values, color=colour, linewidth=1, alpha=0.7, label=f"{label} train")
        if curves["validation_loss"]:
            steps, values = zip(*curves["validation_loss"], strict=True)
            axis.plot(steps, values, "o-", color=colour, markersize=4, label=f"{label} validation")
    axis.set_xlabel("step")
    axis.set_ylabel("loss (nats per target token)")
    axis.set_title(
        "Pretraining curves (objectives and vocabularies differ: compare a run with itself)",
        fontsize=9,
    )
    axis.legend(fontsize=7)
    axis.grid(alpha=0.3)
    return _save(figure, stem, formats)


def _headline_columns(board: dict[str, Any]) -> list[dict[str, Any]]:
    """The first column of each task."""
    seen: dict[str, dict[str, Any]] = {}
    for column in board["columns"]:
        seen.setdefault(column["task"], column)
    return list(seen.values())


def _compact(value: float) -> str:
    """2282340 → '2.3M': tick labels a reader compares at a glance."""
    for scale, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= scale:
            return f"{value / scale:.3g}{suffix}"
    return f"{value:.3g}"


def score_vs_corpus_size(
    board: dict[str, Any], fact: str, stem: Path, formats: list[str]
) -> list[Path]:
    """Each task's headline score against the models' corpus size, with the 95% intervals as
    error bars."""
    plt = _pyplot()
    columns = _headline_columns(board)
    sized = {
        row: float(board["facts"][row][fact])
        for row in board["rows"]
        if isinstance(board["facts"].get(row, {}).get(fact), int | float)
    }
    figure, axes = plt.subplots(1, len(columns), figsize=(4 * len(columns), 3.4), squeeze=False)
    for axis, column in zip(axes[0], columns, strict=True):
        points = sorted(
            (size, board["cells"][row][column["id"]])
            for row, size in sized.items()
            if column["id"] in board["cells"][row]
        )
        if points:
            xs = [x for x, _ in points]
            ys = [c["mean"] for _, c in points]
            low = [c["mean"] - c["ci"][0] if c["ci"] else c["std"] for _, c in points]
            high = [c["ci"][1] - c["mean"] if c["ci"] else c["std"] for _, c in points]
            axis.errorbar(xs, ys, yerr=[low, high], fmt="o-", capsize=3)
            if max(xs) / max(min(xs), 1e-12) >= 4:  # 10% / 30% / 100% sit evenly on a log axis
                axis.set_xscale("log")
            axis.set_xticks(xs, [_compact(x) for x in xs])
            axis.minorticks_off()
        axis.set_title(f"{column['task']}", fontsize=9)
        axis.set_xlabel(fact.replace("_", " "))
        axis.set_ylabel(column["label"])
        axis.grid(alpha=0.3)
    figure.suptitle("Score vs pretraining corpus size (95% bootstrap intervals)", fontsize=10)
    figure.tight_layout()
    return _save(figure, stem, formats)


def cross_domain_matrix(board: dict[str, Any], stem: Path, formats: list[str]) -> list[Path]:
    """Rows: a model fine-tuned on a task; columns: the task it is evaluated on (in-domain from
    the leaderboard)."""
    import numpy as np

    plt = _pyplot()
    headline = {c["task"]: c for c in _headline_columns(board)}
    entries = board["cross_domain"]
    pairs = list(dict.fromkeys((e["row"], e["train_task"]) for e in entries))
    tasks = list(dict.fromkeys([t for _, t in pairs] + [e["eval_task"] for e in entries]))
    values: dict[tuple[int, int], float] = {}
    for i, (row, trained) in enumerate(pairs):
        own = (
            board["cells"].get(row, {}).get(headline[trained]["id"])
            if trained in headline
            else None
        )
        if own is not None:
            values[(i, tasks.index(trained))] = own["mean"]
    for e in entries:
        values[(pairs.index((e["row"], e["train_task"])), tasks.index(e["eval_task"]))] = e["mean"]
    grid = np.full((len(pairs), len(tasks)), math.nan)
    for j in range(len(tasks)):
        column = [values.get((i, j)) for i in range(len(pairs))]
        grid[:, j] = _normalized(column, True)
    figure, axis = plt.subplots(figsize=(1.8 * len(tasks) + 3, 0.6 * len(pairs) + 1.8))
    cmap = plt.get_cmap("magma").with_extremes(bad="#dddddd")
    axis.imshow(np.ma.masked_invalid(grid), cmap=cmap, vmin=0, vmax=1, aspect="auto")
    for (i, j), value in values.items():
        axis.text(
            j,
            i,
            f"{value:.1f}",
            ha="center",
            va="center",
            fontsize=8,
            color="black" if grid[i, j] > 0.6 else "white",
        )
    axis.set_xticks(
        range(len(tasks)), [f"eval: {t}" for t in tasks], rotation=30, ha="right", fontsize=8
    )
    axis.set_yticks(range(len(pairs)), [f"{row} ← {trained}" for row, trained in pairs], fontsize=8)
    axis.set_title("Cross-domain: each task's headline score (colour per column)", fontsize=9)
    return _save(figure, stem, formats)


def plot_bench(
    board: dict[str, Any], plan: Plan, root: Path, folder: Path, config: PlotsConfig
) -> list[Path]:
    """Every figure the grid has data for."""
    formats: list[str] = list(config.formats)
    paths: list[Path] = []
    if any(board["cells"][row] for row in board["rows"]):
        paths += leaderboard_heatmap(board, folder / "leaderboard_heatmap", formats)
    outputs = {job.id: root / job.folder / PREPARE_OUTPUT for job in plan.prepare}
    runs = {
        name: folder for name, folder in outputs.items() if (folder / "metrics.jsonl").is_file()
    }
    if runs:
        paths += pretraining_curves(runs, folder / "pretraining_curves", formats)
    if (
        sum(
            isinstance(board["facts"].get(row, {}).get(config.corpus_fact), int | float)
            for row in board["rows"]
        )
        > 1
    ):
        paths += score_vs_corpus_size(
            board, config.corpus_fact, folder / "score_vs_corpus_size", formats
        )
    if board["cross_domain"]:
        paths += cross_domain_matrix(board, folder / "cross_domain", formats)
    return paths
