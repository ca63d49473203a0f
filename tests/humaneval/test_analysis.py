"""Analysis on synthetic studies whose answers are known: agreement, effects and correlations are
recovered."""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from seq2seq_es.humaneval.analysis import analyze
from seq2seq_es.humaneval.config import AnalyzeConfig
from seq2seq_es.humaneval.statistics import cohen_kappa, holm, krippendorff_alpha, sign_test
from seq2seq_es.humaneval.store import TIE, Answers, RatingStore
from seq2seq_es.humaneval.study import Presentation, Study

from .conftest import new_study

Rule = Callable[[str, Presentation, str, str], int]  # (annotator, page, system, criterion) → score


def fill(
    study: Study,
    rule: Rule,
    preference: Callable[[str, Presentation], str] | None = None,
    annotators: list[str] | None = None,
) -> None:
    """Submit every page of the given annotators through the real store."""
    store = RatingStore(study.database)
    for annotator in annotators or list(study.queues):
        for page in study.queues[annotator]:
            scores = {
                (s, c.name): rule(annotator, page, s, c.name)
                for s in page.order
                for c in study.protocol.criteria
            }
            choice = preference(annotator, page) if preference and study.asks_preference else None
            store.submit(annotator, page.position, page.item, 0, Answers(scores, choice))


def settings_for(study: Study, **changes: object) -> AnalyzeConfig:
    return AnalyzeConfig(study=str(study.path), bootstrap_samples=300, **changes)  # type: ignore[arg-type]


def true_scores(study: Study, seed: int = 0) -> dict[tuple[str, str, str], int]:
    rng = np.random.default_rng(seed)
    return {
        (item, system, c.name): int(rng.integers(1, 6))
        for item in sorted(study.items)
        for system in study.systems
        for c in study.protocol.criteria
    }


def test_identical_annotators_agree_perfectly(tmp_path: Path) -> None:
    study = new_study(tmp_path, n_items=20, annotators=3, repeat_share=0.2)
    truth = true_scores(study)
    fill(
        study,
        lambda a, page, s, c: truth[(page.item, s, c)],
        lambda a, page: (
            "mejor"
            if truth[(page.item, "mejor", "adequacy")] >= truth[(page.item, "base", "adequacy")]
            else "base"
        ),
    )
    result = analyze(study, RatingStore(study.database).pages(), settings_for(study))
    assert result["kept_annotators"] == ["anotador-1", "anotador-2", "anotador-3"]
    for criterion in ("adequacy", "fluency", "preference"):
        entry = result["agreement"][criterion]
        assert entry["alpha_nominal"] == pytest.approx(1.0)
        assert (
            all(k["kappa"] == pytest.approx(1.0) for k in entry["cohen_kappa"])
            and len(entry["cohen_kappa"]) == 3
        )
    assert result["agreement"]["adequacy"]["alpha_ordinal"] == pytest.approx(1.0)
    assert result["agreement"]["adequacy"]["units"] == 40
    assert (
        result["intra_agreement"]["fluency"]["exact"] == 1.0
        and result["intra_agreement"]["fluency"]["pairs"] > 0
    )
    for annotator in result["annotators"].values():
        assert annotator["repeat_difference"] == 0.0 and annotator["share_rated"] == 1.0
    scores = result["system_scores"]["adequacy"]["mejor"]
    expected = np.mean([truth[(i, "mejor", "adequacy")] for i in study.items])
    assert (
        scores["value"] == pytest.approx(expected) and scores["low"] <= expected <= scores["high"]
    )


def test_random_annotators_agree_at_chance(tmp_path: Path) -> None:
    study = new_study(tmp_path, n_items=40, annotators=3, n_ids=40, repeat_share=0.1)
    rng = np.random.default_rng(1)
    fill(
        study,
        lambda a, page, s, c: int(rng.integers(1, 6)),
        lambda a, page: str(rng.choice([*page.order, TIE])),
    )
    result = analyze(
        study, RatingStore(study.database).pages(), settings_for(study, max_repeat_difference=None)
    )
    for criterion in ("adequacy", "fluency"):
        assert abs(result["agreement"][criterion]["alpha_ordinal"]) < 0.15
        assert abs(result["agreement"][criterion]["alpha_nominal"]) < 0.15
        assert all(abs(k["kappa"]) < 0.25 for k in result["agreement"][criterion]["cohen_kappa"])
    assert abs(result["agreement"]["preference"]["alpha_nominal"]) < 0.15
    # the default exclusion rule drops annotators whose repeats look random (1.6 of 4 points apart
    # on average)
    default = analyze(study, RatingStore(study.database).pages(), settings_for(study))
    dropped = [a for a, row in default["annotators"].items() if not row["kept"]]
    assert dropped and all(
        "repeats differ" in default["annotators"][a]["excluded_because"][0] for a in dropped
    )


def test_known_difference_is_found_and_unfinished_annotator_excluded(tmp_path: Path) -> None:
    study = new_study(tmp_path, n_items=20, annotators=3, repeat_share=0.1)
    rng = np.random.default_rng(2)

    def rule(annotator: str, page: Presentation, system: str, criterion: str) -> int:
        base = 2 + int(page.item[-1]) % 2  # 2 or 3, same for every annotator
        return int(np.clip(base + (2 if system == "mejor" else 0) + rng.integers(-1, 2), 1, 5))

    fill(study, rule, lambda a, page: "mejor", annotators=["anotador-1", "anotador-2"])
    store = RatingStore(study.database)
    first = study.queues["anotador-3"][0]  # the third annotator stops after one page
    store.submit(
        "anotador-3",
        0,
        first.item,
        0,
        Answers({(s, c.name): 1 for s in study.systems for c in study.protocol.criteria}, "base"),
    )
    result = analyze(study, store.pages(), settings_for(study))
    assert result["kept_annotators"] == ["anotador-1", "anotador-2"]
    assert "rated 5%" in result["annotators"]["anotador-3"]["excluded_because"][0]
    rows = {r["criterion"]: r for r in result["pairwise"]}
    assert rows["adequacy"]["system_a"] == "base" and rows["adequacy"]["win_rate"] < 0.2
    assert rows["adequacy"]["p_value"] < 0.001 and rows["preference"]["losses"] == 20
    assert rows["adequacy"]["p_holm"] >= rows["adequacy"]["p_value"]
    better, worse = (result["system_scores"]["fluency"][s] for s in ("mejor", "base"))
    assert better["low"] > worse["high"]


def test_human_scores_correlate_with_chrf_when_they_follow_it(tmp_path: Path) -> None:
    study = new_study(tmp_path, n_items=24, annotators=2, repeat_share=0.1)
    changed = {
        (i.item, s): sum(
            a != b for a, b in zip(i.outputs[s].split(), i.references[0].split(), strict=True)
        )
        for i in study.items.values()
        for s in study.systems
    }
    fill(study, lambda a, page, s, c: 5 - min(changed[(page.item, s)], 4), lambda a, page: TIE)
    result = analyze(study, RatingStore(study.database).pages(), settings_for(study))
    rows = {(r["criterion"], r["metric"]): r for r in result["correlations"]}
    chrf = rows[("adequacy", "chrf.score")]
    assert chrf["n"] == 48 and chrf["rho"] > 0.5 and chrf["low"] < chrf["rho"] < chrf["high"] <= 1.0
    assert chrf["p_value"] < 0.01
    assert result["position_check"]["decided"] == 0  # every preference was a tie


def test_cohen_kappa_textbook_example() -> None:
    # Two readers, 50 cases: yes/yes 20, yes/no 5, no/yes 10, no/no 15 → po 0.7, pe 0.5, kappa 0.4
    first = [1] * 20 + [1] * 5 + [0] * 10 + [0] * 15
    second = [1] * 20 + [0] * 5 + [1] * 10 + [0] * 15
    assert cohen_kappa(first, second, [0, 1]) == pytest.approx(0.4)
    assert cohen_kappa(first, first, [0, 1]) == 1.0


@settings(max_examples=50, deadline=None)
@given(st.lists(st.tuples(st.integers(1, 5), st.integers(1, 5)), min_size=2, max_size=40))
def test_quadratic_kappa_is_the_moment_formula(pairs: list[tuple[int, int]]) -> None:
    """Quadratic-weighted kappa = 2 cov(x, y) / (var x + var y + (mean x − mean y)²) (Cohen
    1968)."""
    x, y = np.array([a for a, _ in pairs], float), np.array([b for _, b in pairs], float)
    denominator = x.var() + y.var() + (x.mean() - y.mean()) ** 2
    kappa = cohen_kappa(
        x.astype(int).tolist(), y.astype(int).tolist(), [1, 2, 3, 4, 5], "quadratic"
    )
    if denominator == 0:
        assert math.isnan(kappa)
    else:
        assert kappa == pytest.approx(
            2 * np.mean((x - x.mean()) * (y - y.mean())) / denominator, abs=1e-9
        )


def test_small_statistics() -> None:
    assert holm([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.06, 0.06])
    test = sign_test([1, 1, 1, 1, 1, 1, 1, 1, 0, -1])
    assert (test.wins, test.losses, test.ties) == (8, 1, 1)
    assert test.p_value == pytest.approx(20 / 512)  # 2 × P(X ≤ 1), X ~ Bin(9, 1/2)
    assert math.isnan(
        krippendorff_alpha(np.array([[3.0, 3.0], [3.0, 3.0]]), "ordinal", [1, 2, 3, 4, 5])
    )
    assert math.isnan(krippendorff_alpha(np.array([[1.0, np.nan], [np.nan, 2.0]]), "nominal"))
