"""Human-readable reports of scores and comparisons: Rich tables and Markdown.

Every number is shown with its bootstrap confidence interval; in a comparison, a
system's cell carries ``*`` when the paired bootstrap test and ``†`` when the
approximate randomization test says it differs from the baseline at level α after
Holm correction. The signatures are listed under the tables, so a table pasted into
a paper still says how each number was computed.
"""

from __future__ import annotations

from typing import Any

from rich.table import Table

BOOTSTRAP_MARK, RANDOMIZATION_MARK = "*", "†"


def metric_entries(scores: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The per-metric entries of a score dict (those with a signature)."""
    return {
        name: entry
        for name, entry in scores.items()
        if isinstance(entry, dict) and "signature" in entry
    }


def score_names(entry: dict[str, Any]) -> list[str]:
    return [
        key
        for key, value in entry.items()
        if isinstance(value, int | float) and not isinstance(value, bool)
    ]


def _label(metric: str, score: str) -> str:
    return metric if score in ("score", metric) else f"{metric}/{score}"


def _cell(entry: dict[str, Any], score: str) -> tuple[str, str]:
    value = f"{entry[score]:.2f}"
    interval = entry.get("ci", {}).get(score)
    return value, (f"[{interval[0]:.2f}, {interval[1]:.2f}]" if interval else "")


def _score_rows(scores: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    rows = []
    for metric, entry in metric_entries(scores).items():
        for score in score_names(entry):
            value, interval = _cell(entry, score)
            rows.append((_label(metric, score), value, interval, entry["signature"]))
    return rows


def _confidence(scores: dict[str, Any]) -> str:
    bootstrap = scores.get("bootstrap") or scores.get("settings") or {}
    return f"{100 * float(bootstrap.get('confidence', 0.95)):g}% CI"


def scores_table(scores: dict[str, Any]) -> Table:
    """One row per reported score: value, CI, signature."""
    table = Table(
        title=f"scores ({scores.get('task', scores.get('predictions_file', 'predictions'))}, "
        f"n={scores.get('n')})"
    )
    for column in ("metric", "value", _confidence(scores), "signature"):
        table.add_column(column)
    for row in _score_rows(scores):
        table.add_row(*row)
    if scores.get("empty_predictions"):
        table.caption = (
            f"warning: {scores['empty_predictions']} of {scores.get('n')} predictions are empty"
        )
    return table


def scores_markdown(scores: dict[str, Any]) -> str:
    lines = [
        f"# Scores: {scores.get('predictions_file', '')}",
        "",
        f"n = {scores.get('n')}, empty predictions = {scores.get('empty_predictions', 0)}",
        "",
        f"| metric | value | {_confidence(scores)} |",
        "|---|---:|---|",
    ]
    signatures = []
    for label, value, interval, signature in _score_rows(scores):
        lines.append(f"| {label} | {value} | {interval} |")
        if signature not in signatures:
            signatures.append(signature)
    bootstrap = scores.get("bootstrap")
    if bootstrap:
        lines += [
            "",
            f"Percentile bootstrap, {bootstrap['samples']} resamples, seed {bootstrap['seed']}.",
        ]
    lines += ["", "Signatures:", ""] + [f"- `{s}`" for s in signatures]
    return "\n".join(lines) + "\n"


def comparison_cells(comparison: dict[str, Any]) -> tuple[list[str], list[list[str]]]:
    """Header and rows (one per system) of a comparison, markers included."""
    alpha = comparison["settings"]["alpha"]
    tests = {(t["system"], t["metric"], t["score"]): t for t in comparison["tests"]}
    first = comparison["results"][comparison["baseline"]]
    columns = [
        (metric, score)
        for metric, entry in metric_entries(first).items()
        for score in score_names(entry)
    ]
    header = ["system"] + [_label(metric, score) for metric, score in columns]
    rows = []
    for system in comparison["systems"]:
        name = system + (" (baseline)" if system == comparison["baseline"] else "")
        row = [name]
        for metric, score in columns:
            value, interval = _cell(comparison["results"][system][metric], score)
            test = tests.get((system, metric, score))
            marks = ""
            if test is not None:
                marks += BOOTSTRAP_MARK if test["p_bootstrap_holm"] < alpha else ""
                marks += RANDOMIZATION_MARK if test["p_randomization_holm"] < alpha else ""
            row.append(f"{value} {interval}{(' ' + marks) if marks else ''}")
        rows.append(row)
    return header, rows


def comparison_legend(comparison: dict[str, Any]) -> str:
    s = comparison["settings"]
    return (
        f"Cells: score [{100 * s['confidence']:g}% bootstrap CI]. {BOOTSTRAP_MARK}: paired "
        f"bootstrap ({s['bootstrap_samples']} resamples), {RANDOMIZATION_MARK}: approximate "
        f"randomization ({s['randomization_trials']} trials): differs from the baseline at α = "
        f"{s['alpha']} after Holm correction over the {len(comparison['systems']) - 1} "
        f"comparison(s) of each score. Seed {s['seed']}."
    )


def comparison_markdown(comparison: dict[str, Any]) -> str:
    header, rows = comparison_cells(comparison)
    lines = [
        "# Comparison",
        "",
        f"n = {comparison['n']} segments, baseline `{comparison['baseline']}`.",
        "",
        "| " + " | ".join(header) + " |",
        "|" + "---|" * len(header),
    ]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    lines += [
        "",
        comparison_legend(comparison),
        "",
        (
            "| system | score | Δ vs baseline | p bootstrap (Holm) | "
            "p randomization (Holm) | system > baseline in |"
        ),
        "|---|---|---:|---:|---:|---:|",
    ]
    for t in comparison["tests"]:
        lines.append(
            f"| {t['system']} | {_label(t['metric'], t['score'])} | {t['delta']:+.2f} | "
            f"{t['p_bootstrap']:.4f} ({t['p_bootstrap_holm']:.4f}) | {t['p_randomization']:.4f} "
            f"({t['p_randomization_holm']:.4f}) | {100 * t['a_wins']:.1f}% |"
        )
    lines += ["", "Signatures:", ""]
    lines += [
        f"- {metric}: `{info['signature']}`" for metric, info in comparison["metrics"].items()
    ]
    return "\n".join(lines) + "\n"
