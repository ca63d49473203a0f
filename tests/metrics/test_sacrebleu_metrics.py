"""BLEU/chrF: our vectorized corpus scores equal sacreBLEU's API and its command line."""

from __future__ import annotations

import json
import random
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from sacrebleu.metrics import BLEU, CHRF

from seq2seq_es.metrics.sacrebleu_metrics import bleu_stats, chrf_stats
from seq2seq_es.metrics.scoring import score_predictions

VOCAB = [
    "el",
    "niño",
    "come",
    "pan",
    "con",
    "su",
    "madre",
    "en",
    "la",
    "casa",
    "grande",
    ".",
    "¿",
    "dónde",
    "está",
    "perro",
    "?",
    "¡",
    "qué",
    "día",
    "!",
]


def _corpus(seed: int, n: int, n_refs: int = 1) -> tuple[list[str], list[list[str]]]:
    rng = random.Random(seed)
    hyps = [" ".join(rng.choice(VOCAB) for _ in range(rng.randint(0, 12))) for _ in range(n)]
    refs = [
        [" ".join(rng.choice(VOCAB) for _ in range(rng.randint(1, 12))) for _ in range(n_refs)]
        for _ in range(n)
    ]
    return hyps, refs


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_corpus_scores_equal_sacrebleu_api(seed: int) -> None:
    hyps, refs = _corpus(seed, 50, n_refs=2)
    streams = [list(s) for s in zip(*refs, strict=True)]
    assert bleu_stats(hyps, refs).corpus_scores()["score"] == pytest.approx(
        BLEU().corpus_score(hyps, streams).score, abs=1e-9
    )
    assert chrf_stats(hyps, refs).corpus_scores()["score"] == pytest.approx(
        CHRF().corpus_score(hyps, streams).score, abs=1e-9
    )


def test_degenerate_corpora_match_sacrebleu() -> None:
    for hyps, refs in (
        (["a"], [["b c d"]]),
        (["a b"], [["a b"]]),
        (["x y z w v"], [["x y q w v"]]),
        (["", "a"], [["a b", ""], ["a", "a"]]),
    ):
        streams = [list(s) for s in zip(*refs, strict=True)]
        assert bleu_stats(hyps, refs).corpus_scores()["score"] == pytest.approx(
            BLEU().corpus_score(hyps, streams).score, abs=1e-9
        )
        assert chrf_stats(hyps, refs).corpus_scores()["score"] == pytest.approx(
            CHRF().corpus_score(hyps, streams).score, abs=1e-9
        )


def test_weighted_sums_equal_rescoring_a_resample() -> None:
    hyps, refs = _corpus(3, 40)
    rng = np.random.default_rng(0)
    counts = np.bincount(rng.integers(0, 40, 40), minlength=40)
    resampled = [i for i in range(40) for _ in range(counts[i])]
    stats = bleu_stats(hyps, refs)
    ours = stats.scores_of_sums(counts @ stats.stats)["score"][0]
    theirs = (
        BLEU().corpus_score([hyps[i] for i in resampled], [[refs[i][0] for i in resampled]]).score
    )
    assert ours == pytest.approx(theirs, abs=1e-9)


def test_variable_reference_counts_use_sacrebleu_none_slots() -> None:
    hyps = ["el niño come", "la casa grande"]
    refs = [["el niño come pan", "un niño come"], ["la casa es grande"]]
    stats = bleu_stats(hyps, refs)
    assert "nrefs:var" in stats.signature
    expected = BLEU().corpus_score(
        hyps, [["el niño come pan", "la casa es grande"], ["un niño come", None]]
    )
    assert stats.corpus_scores()["score"] == pytest.approx(expected.score, abs=1e-9)


def _cli(refs: list[Path], hyp: Path) -> dict[str, dict]:
    """Run the sacrebleu command and return {metric name: its JSON result}."""
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "sacrebleu",
            *map(str, refs),
            "-i",
            str(hyp),
            "-m",
            "bleu",
            "chrf",
            "-w",
            "6",
            "--format",
            "json",
        ],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    parsed = json.loads(out)
    return {entry["name"]: entry for entry in (parsed if isinstance(parsed, list) else [parsed])}


def test_equal_to_the_sacrebleu_command_on_the_same_files(tmp_path: Path) -> None:
    hyps, refs = _corpus(7, 80)
    hyp, ref = tmp_path / "hyp.txt", tmp_path / "ref.txt"
    hyp.write_text("\n".join(hyps) + "\n", encoding="utf-8")
    ref.write_text("\n".join(r[0] for r in refs) + "\n", encoding="utf-8")
    cli = _cli([ref], hyp)
    ours = score_predictions(hyp, ["bleu", "chrf"], references=ref, bootstrap_samples=0)
    assert round(ours["bleu"]["score"], 6) == pytest.approx(float(cli["BLEU"]["score"]), abs=1e-9)
    assert round(ours["chrf"]["score"], 6) == pytest.approx(float(cli["chrF2"]["score"]), abs=1e-9)
    assert ours["bleu"]["signature"] == cli["BLEU"]["signature"]
    assert ours["chrf"]["signature"] == cli["chrF2"]["signature"]


def test_equal_to_the_sacrebleu_command_with_two_references(tmp_path: Path) -> None:
    hyps, refs = _corpus(8, 60, n_refs=2)
    hyp = tmp_path / "hyp.txt"
    hyp.write_text("\n".join(hyps) + "\n", encoding="utf-8")
    ref_files = []
    for k in range(2):
        ref_files.append(tmp_path / f"ref{k}.txt")
        ref_files[-1].write_text("\n".join(r[k] for r in refs) + "\n", encoding="utf-8")
    cli = _cli(ref_files, hyp)
    assert round(bleu_stats(hyps, refs).corpus_scores()["score"], 6) == pytest.approx(
        float(cli["BLEU"]["score"]), abs=1e-9
    )
    assert round(chrf_stats(hyps, refs).corpus_scores()["score"], 6) == pytest.approx(
        float(cli["chrF2"]["score"]), abs=1e-9
    )
