"""From a study's ratings to the numbers of its report.

Units, so the statistics mean what they say: an *item* is what was sampled, so intervals
resample items; a system's score on an item is the mean over the (kept) annotators' first
showings; repeated showings are used only for intra-annotator consistency. Agreement is
computed on units (item, system) per criterion, from first showings only.

Exclusion rules (docs/human-eval-protocol.md, decided before looking at results): an
annotator who rated less than ``min_share_rated`` of their pages, or whose repeated
ratings differ on average by more than ``max_repeat_difference`` of the scale width (with
at least ``min_repeats`` repeats rated), is left out of every statistic but the
consistency table, which says why.
"""

from __future__ import annotations

import itertools
import math
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from seq2seq_es.errors import ConfigError
from seq2seq_es.humaneval.config import AnalyzeConfig, Criterion
from seq2seq_es.humaneval.statistics import (
    bootstrap_mean,
    cohen_kappa,
    holm,
    krippendorff_alpha,
    sign_test,
    spearman_with_interval,
)
from seq2seq_es.humaneval.store import TIE, StoredPage
from seq2seq_es.humaneval.study import Study

PREFERENCE = "preference"
Key = tuple[str, str, str]  # (annotator, item, system)


@dataclass
class Ratings:
    """A study's ratings regrouped: first showings per criterion, and (first, repeat) pairs."""

    first: dict[str, dict[Key, int]] = field(default_factory=lambda: defaultdict(dict))
    preference: dict[tuple[str, str], str] = field(
        default_factory=dict
    )  # (annotator, item) → system or tie
    repeats: dict[str, list[tuple[str, str, str, int, int]]] = field(
        default_factory=lambda: defaultdict(list)
    )
    preference_repeats: list[tuple[str, str, str]] = field(
        default_factory=list
    )  # (annotator, first, second)
    slot_preferences: list[tuple[str, int]] = field(
        default_factory=list
    )  # (annotator, slot chosen), 1-based
    rated: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    seconds: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))


def regroup(study: Study, pages: list[StoredPage]) -> Ratings:
    ratings = Ratings()
    stored = {(p.annotator, p.position): p for p in pages}
    for (annotator, position), page in stored.items():
        if annotator not in study.queues or position >= len(study.queues[annotator]):
            continue  # a page of an annotator or position no longer in the study
        shown = study.queues[annotator][position]
        ratings.rated[annotator] += 1
        if page.seconds is not None:
            ratings.seconds[annotator].append(page.seconds)
        if shown.repeat_of is None:
            for (system, criterion), value in page.answers.scores.items():
                ratings.first[criterion][(annotator, shown.item, system)] = value
            if page.answers.preference is not None:
                ratings.preference[(annotator, shown.item)] = page.answers.preference
                if page.answers.preference != TIE:
                    ratings.slot_preferences.append(
                        (annotator, shown.order.index(page.answers.preference) + 1)
                    )
            continue
        original = stored.get((annotator, shown.repeat_of))
        if original is None:
            continue
        for (system, criterion), value in page.answers.scores.items():
            if (system, criterion) in original.answers.scores:
                ratings.repeats[criterion].append(
                    (
                        annotator,
                        shown.item,
                        system,
                        original.answers.scores[(system, criterion)],
                        value,
                    )
                )
        if page.answers.preference is not None and original.answers.preference is not None:
            ratings.preference_repeats.append(
                (annotator, original.answers.preference, page.answers.preference)
            )
    return ratings


def consistency(study: Study, ratings: Ratings, config: AnalyzeConfig) -> dict[str, dict[str, Any]]:
    """Per annotator: share rated, repeat agreement, time per page, and whether they are kept."""
    widths = {c.name: c.scale_max - c.scale_min for c in study.protocol.criteria}
    table = {}
    for annotator, queue in study.queues.items():
        pairs = [
            (criterion, a, b)
            for criterion, rows in ratings.repeats.items()
            for who, _, _, a, b in rows
            if who == annotator
        ]
        repeated_items = {
            item for rows in ratings.repeats.values() for who, item, *_ in rows if who == annotator
        }
        share = ratings.rated[annotator] / len(queue) if queue else 0.0
        difference = (
            float(np.mean([abs(a - b) / widths[c] for c, a, b in pairs])) if pairs else math.nan
        )
        reasons = []
        if share < config.min_share_rated:
            reasons.append(f"rated {share:.0%} of their pages (< {config.min_share_rated:.0%})")
        if (
            config.max_repeat_difference is not None
            and len(repeated_items) >= config.min_repeats
            and difference > config.max_repeat_difference
        ):
            reasons.append(
                f"repeats differ by {difference:.2f} of the scale (> "
                f"{config.max_repeat_difference})"
            )
        seconds = ratings.seconds.get(annotator, [])
        table[annotator] = {
            "pages": len(queue),
            "rated": ratings.rated[annotator],
            "share_rated": share,
            "repeated_items": len(repeated_items),
            "repeat_pairs": len(pairs),
            "repeat_exact": float(np.mean([a == b for _, a, b in pairs])) if pairs else math.nan,
            "repeat_difference": difference,
            "median_seconds": float(np.median(seconds)) if seconds else math.nan,
            "kept": not reasons,
            "excluded_because": reasons,
        }
    return table


def item_means(first: dict[Key, int], kept: set[str]) -> dict[tuple[str, str], float]:
    """(item, system) → mean over kept annotators."""
    sums: dict[tuple[str, str], list[int]] = defaultdict(list)
    for (annotator, item, system), value in first.items():
        if annotator in kept:
            sums[(item, system)].append(value)
    return {key: float(np.mean(values)) for key, values in sums.items()}


def system_scores(
    study: Study, ratings: Ratings, kept: set[str], config: AnalyzeConfig
) -> dict[str, Any]:
    rng = np.random.default_rng(config.seed)
    result: dict[str, Any] = {}
    for criterion in study.protocol.criteria:
        means = item_means(ratings.first.get(criterion.name, {}), kept)
        result[criterion.name] = {
            system: asdict(
                bootstrap_mean(
                    [v for (_, s), v in sorted(means.items()) if s == system],
                    config.bootstrap_samples,
                    config.confidence,
                    rng,
                )
            )
            for system in study.systems
        }
    return result


def pairwise(study: Study, ratings: Ratings, kept: set[str]) -> list[dict[str, Any]]:
    """Win/loss/tie per item for every pair of systems and criterion (and the preference), sign
    tests."""
    rows = []
    for a, b in itertools.combinations(study.systems, 2):
        for criterion in study.protocol.criteria:
            means = item_means(ratings.first.get(criterion.name, {}), kept)
            items = sorted({item for item, _ in means})
            diffs = [
                means[(i, a)] - means[(i, b)] for i in items if (i, a) in means and (i, b) in means
            ]
            rows.append(
                {"system_a": a, "system_b": b, "criterion": criterion.name, **_test_row(diffs)}
            )
        if study.asks_preference:
            votes: dict[str, list[int]] = defaultdict(list)
            for (annotator, item), choice in ratings.preference.items():
                if annotator in kept:
                    votes[item].append(1 if choice == a else -1 if choice == b else 0)
            diffs = [float(np.mean(v)) for _, v in sorted(votes.items())]
            rows.append({"system_a": a, "system_b": b, "criterion": PREFERENCE, **_test_row(diffs)})
    for row, adjusted in zip(rows, holm([r["p_value"] for r in rows]), strict=True):
        row["p_holm"] = adjusted
    return rows


def _test_row(diffs: list[float]) -> dict[str, Any]:
    test = sign_test(diffs)
    return {
        "items": len(diffs),
        "wins": test.wins,
        "losses": test.losses,
        "ties": test.ties,
        "win_rate": test.win_rate,
        "mean_difference": float(np.mean(diffs)) if diffs else math.nan,
        "p_value": test.p_value,
    }


def _matrix(
    values: dict[tuple[str, Any], float], annotators: list[str]
) -> tuple[np.ndarray, list[Any]]:
    """(annotator, unit) → value as a coders × units matrix with NaN where missing."""
    units = sorted({unit for _, unit in values}, key=str)
    column = {u: k for k, u in enumerate(units)}
    row = {a: k for k, a in enumerate(annotators)}
    matrix = np.full((len(annotators), len(units)), np.nan)
    for (annotator, unit), value in values.items():
        if annotator in row:
            matrix[row[annotator], column[unit]] = value
    return matrix, units


def agreement(study: Study, ratings: Ratings, kept: list[str]) -> dict[str, Any]:
    """Krippendorff's alpha (ordinal and nominal) and pairwise Cohen's kappa, per criterion."""
    result: dict[str, Any] = {}
    for criterion in study.protocol.criteria:
        values: dict[tuple[str, Any], float] = {
            (a, (item, system)): float(v)
            for (a, item, system), v in ratings.first.get(criterion.name, {}).items()
        }
        result[criterion.name] = _agreement(values, kept, criterion.values, ordinal=True)
    if study.asks_preference:
        codes = {system: k for k, system in enumerate([*study.systems, TIE])}
        votes: dict[tuple[str, Any], float] = {
            (a, item): float(codes[c]) for (a, item), c in ratings.preference.items()
        }
        result[PREFERENCE] = _agreement(votes, kept, list(codes.values()), ordinal=False)
    return result


def _agreement(
    values: dict[tuple[str, Any], float], kept: list[str], domain: list[int], ordinal: bool
) -> dict[str, Any]:
    matrix, _ = _matrix(values, kept)
    entry: dict[str, Any] = {
        "units": int(((~np.isnan(matrix)).sum(axis=0) >= 2).sum()) if matrix.size else 0,
        "alpha_nominal": krippendorff_alpha(matrix, "nominal", domain),
        "alpha_ordinal": krippendorff_alpha(matrix, "ordinal", domain) if ordinal else math.nan,
    }
    kappas = []
    for (i, first), (j, second) in itertools.combinations(enumerate(kept), 2):
        both = ~np.isnan(matrix[i]) & ~np.isnan(matrix[j])
        if both.sum() < 2:
            continue
        x, y = matrix[i, both].astype(int).tolist(), matrix[j, both].astype(int).tolist()
        kappas.append(
            {
                "annotators": [first, second],
                "units": int(both.sum()),
                "kappa": cohen_kappa(x, y, domain),
                "kappa_quadratic": cohen_kappa(x, y, domain, "quadratic") if ordinal else math.nan,
            }
        )
    entry["cohen_kappa"] = kappas
    return entry


def intra_agreement(study: Study, ratings: Ratings, kept: set[str]) -> dict[str, Any]:
    """Per criterion, first vs repeated showing as two 'coders' (pooled over kept annotators)."""
    result: dict[str, Any] = {}
    for criterion in study.protocol.criteria:
        pairs = [
            (a, b) for who, _, _, a, b in ratings.repeats.get(criterion.name, []) if who in kept
        ]
        matrix = np.array(pairs, dtype=np.float64).T if pairs else np.empty((2, 0))
        result[criterion.name] = {
            "pairs": len(pairs),
            "exact": float(np.mean([a == b for a, b in pairs])) if pairs else math.nan,
            "alpha_ordinal": krippendorff_alpha(matrix, "ordinal", criterion.values),
        }
    if study.asks_preference:
        pairs_p = [(a, b) for who, a, b in ratings.preference_repeats if who in kept]
        result[PREFERENCE] = {
            "pairs": len(pairs_p),
            "exact": float(np.mean([a == b for a, b in pairs_p])) if pairs_p else math.nan,
        }
    return result


def segment_metrics(study: Study, names: list[str]) -> dict[str, dict[tuple[str, str], float]]:
    """metric.score → (item, system) → the metric on that one output (a corpus of one segment)."""
    from seq2seq_es.metrics.prediction_files import ScoringInput
    from seq2seq_es.metrics.scoring import METRICS

    items = [study.items[k] for k in sorted(study.items)]
    if not names or any(not item.references for item in items):
        return {}
    result: dict[str, dict[tuple[str, str], float]] = {name: {} for name in names}
    for metric in dict.fromkeys(name.partition(".")[0] for name in names):
        if metric not in METRICS:
            raise ConfigError(
                f"Protocol {study.protocol.name!r} lists metric {metric!r}, which is not one of "
                f"{', '.join(METRICS)}. Fix `metrics:` in the protocol (study.json)."
            )
        for system in study.systems:
            data = ScoringInput(
                study.path,
                [i.id for i in items],
                [i.outputs[system] for i in items],
                [i.references for i in items],
                [i.source for i in items],
                list(range(1, len(items) + 1)),
            )
            stats = METRICS[metric].compute(data)
            per_segment = stats.score_from_sums(stats.stats, 1)
            for name in names:
                head, _, key = name.partition(".")
                if head != metric:
                    continue
                if key not in per_segment:
                    raise ConfigError(
                        f"Protocol metric {name!r}: {metric} reports {', '.join(per_segment)}."
                    )
                for item, value in zip(items, per_segment[key], strict=True):
                    result[name][(item.item, system)] = float(value)
    return result


def correlations(
    study: Study, ratings: Ratings, kept: set[str], config: AnalyzeConfig
) -> list[dict[str, Any]]:
    """Spearman between each criterion's per-output human mean and each automatic metric."""
    metrics = segment_metrics(study, study.protocol.metrics)
    rng = np.random.default_rng(config.seed + 1)
    rows = []
    for criterion in study.protocol.criteria:
        means = item_means(ratings.first.get(criterion.name, {}), kept)
        for name, values in metrics.items():
            keys = sorted(k for k in means if k in values)
            result = spearman_with_interval(
                [means[k] for k in keys],
                [values[k] for k in keys],
                [item for item, _ in keys],
                config.bootstrap_samples,
                config.confidence,
                rng,
            )
            rows.append({"criterion": criterion.name, "metric": name, **asdict(result)})
    return rows


def position_check(ratings: Ratings, kept: set[str]) -> dict[str, Any]:
    """Did annotators prefer the output shown first? (order is random, so it should not matter)"""
    test = sign_test(
        [1 if slot == 1 else -1 for who, slot in ratings.slot_preferences if who in kept]
    )
    return {
        "decided": test.wins + test.losses,
        "first_slot_share": test.win_rate,
        "p_value": test.p_value,
    }


def analyze(study: Study, pages: list[StoredPage], config: AnalyzeConfig) -> dict[str, Any]:
    """Every number of the report, as plain data (NaN where a statistic is undefined)."""
    ratings = regroup(study, pages)
    annotators = consistency(study, ratings, config)
    kept_list = [a for a, row in annotators.items() if row["kept"]]
    kept = set(kept_list)
    return {
        "study": str(study.path),
        "protocol": study.protocol.name,
        "systems": study.systems,
        "criteria": [_criterion_info(c) for c in study.protocol.criteria],
        "items": len(study.items),
        "repeats_per_annotator": max(
            (sum(p.repeat_of is not None for p in q) for q in study.queues.values()), default=0
        ),
        "annotators": annotators,
        "kept_annotators": kept_list,
        "ratings": sum(len(v) for v in ratings.first.values()),
        "system_scores": system_scores(study, ratings, kept, config),
        "pairwise": pairwise(study, ratings, kept),
        "agreement": agreement(study, ratings, kept_list),
        "intra_agreement": intra_agreement(study, ratings, kept),
        "correlations": correlations(study, ratings, kept, config),
        "position_check": position_check(ratings, kept) if study.asks_preference else None,
        "settings": config.model_dump(mode="json"),
    }


def _criterion_info(criterion: Criterion) -> dict[str, Any]:
    return {
        "name": criterion.name,
        "label": criterion.label,
        "scale": [criterion.scale_min, criterion.scale_max],
    }
