"""Compare several systems on the same references, with significance.

The first file is the baseline; every other system is tested against it with the
paired bootstrap and approximate randomization tests (``significance.py``) for
every score of every metric, and the p-values of each score are Holm-corrected over
the systems (the family of a leaderboard column). Writes ``compare.json`` and
``report.md`` to ``output_dir``.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

from seq2seq_es.errors import ConfigError, DataError
from seq2seq_es.files import atomic_write, write_json
from seq2seq_es.metrics.config import CompareConfig
from seq2seq_es.metrics.prediction_files import ScoringInput, read_scoring_input
from seq2seq_es.metrics.report import comparison_markdown
from seq2seq_es.metrics.scoring import check_metric_names, metric_stats, scores_with_intervals
from seq2seq_es.metrics.significance import compare_systems, holm


def align_to(baseline: ScoringInput, other: ScoringInput) -> ScoringInput:
    """``other`` reordered to the baseline's ids; its references (and sources) must be the same."""
    index = {key: k for k, key in enumerate(other.ids)}
    for key, line in zip(baseline.ids, baseline.lines, strict=True):
        if key not in index:
            raise DataError(
                f"{other.path}: no prediction for id {key!r} (present in {baseline.path}:{line}); "
                "systems must answer the same examples."
            )
    if len(other.ids) != len(baseline.ids):
        extra = next(k for k in other.ids if k not in set(baseline.ids))
        raise DataError(
            f"{other.path}:{other.lines[index[extra]]}: id {extra!r} is not in {baseline.path}; "
            "systems must answer the same examples."
        )
    order = [index[key] for key in baseline.ids]
    for k, j in enumerate(order):
        if other.references[j] != baseline.references[k]:
            raise DataError(
                f"{other.path}:{other.lines[j]}: the reference of id {baseline.ids[k]!r} differs "
                f"from {baseline.path}:{baseline.lines[k]}; systems must be compared on the same "
                "references."
            )
    sources = [other.sources[j] for j in order] if other.sources is not None else None
    if sources is not None and baseline.sources is not None and sources != baseline.sources:
        k = next(
            k for k, (a, b) in enumerate(zip(sources, baseline.sources, strict=True)) if a != b
        )
        raise DataError(
            f"{other.path}:{other.lines[order[k]]}: the source of id {baseline.ids[k]!r} differs "
            f"from {baseline.path}:{baseline.lines[k]}."
        )
    return replace(
        other,
        ids=list(baseline.ids),
        predictions=[other.predictions[j] for j in order],
        references=list(baseline.references),
        sources=sources,
        lines=[other.lines[j] for j in order],
    )


def compare_files(config: CompareConfig) -> tuple[dict[str, Any], Path]:
    """Score every system, test each against the baseline, write compare.json + report.md."""
    if len(config.systems) < 2:
        raise ConfigError(
            f"compare needs at least two prediction files, got {len(config.systems)}: "
            "seq2seq-es compare BASELINE.jsonl OTHER.jsonl [...]"
        )
    if len(set(config.systems)) != len(config.systems):
        raise ConfigError(f"compare got the same file twice: {config.systems}")
    check_metric_names(config.metrics)
    baseline = read_scoring_input(config.systems[0], config.references)
    inputs = [baseline] + [
        align_to(baseline, read_scoring_input(path, config.references))
        for path in config.systems[1:]
    ]
    stats = {
        path: metric_stats(data, config.metrics)
        for path, data in zip(config.systems, inputs, strict=True)
    }
    results = {
        path: scores_with_intervals(s, config.bootstrap_samples, config.confidence, config.seed)
        for path, s in stats.items()
    }
    tests: list[dict[str, Any]] = []
    for path in config.systems[1:]:
        for system_stats, baseline_stats in zip(stats[path], stats[config.systems[0]], strict=True):
            for t in compare_systems(
                system_stats,
                baseline_stats,
                config.bootstrap_samples,
                config.randomization_trials,
                config.seed,
            ):
                tests.append(
                    {
                        "system": path,
                        "metric": system_stats.metric,
                        "score": t.score,
                        "value": t.a,
                        "baseline": t.b,
                        "delta": t.delta,
                        "p_bootstrap": t.p_bootstrap,
                        "a_wins": t.a_wins,
                        "p_randomization": t.p_randomization,
                    }
                )
    for key in ("p_bootstrap", "p_randomization"):
        families: dict[tuple[str, str], list[dict[str, Any]]] = {}
        for test in tests:
            families.setdefault((str(test["metric"]), str(test["score"])), []).append(test)
        for family in families.values():
            for test, adjusted in zip(family, holm([t[key] for t in family]), strict=True):
                test[f"{key}_holm"] = adjusted
    comparison = {
        "baseline": config.systems[0],
        "systems": list(config.systems),
        "n": len(baseline.ids),
        "metrics": {s.metric: {"signature": s.signature} for s in stats[config.systems[0]]},
        "results": results,
        "tests": tests,
        "settings": {
            "bootstrap_samples": config.bootstrap_samples,
            "randomization_trials": config.randomization_trials,
            "confidence": config.confidence,
            "alpha": config.alpha,
            "seed": config.seed,
            "correction": "holm",
            "references": config.references,
        },
    }
    output_dir = Path(config.output_dir)
    write_json(output_dir / "compare.json", comparison)
    with atomic_write(output_dir / "report.md") as handle:
        handle.write(comparison_markdown(comparison))
    return comparison, output_dir
