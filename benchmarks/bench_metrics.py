"""Benchmark the metrics: scoring 100k pairs, and 1,000 bootstrap resamples over 10k pairs.

Run: .venv/bin/python benchmarks/bench_metrics.py [--pairs 100000] [--bootstrap-pairs 10000]
     [--samples 1000] [--naive-samples 10] [--quick | --smoke]

``--smoke`` (500 pairs scored, 50 resamples over 200, 1 naive resample) checks that the
benchmark runs to its ratio lines; its numbers mean nothing.

Texts: Spanish sentences of 10-40 words cut from ../shared/data/pretrain/sample.jsonl.gz
(falls back to generated Spanish-like text when the shared data is absent); a
"prediction" is its reference with 15% of the words dropped and 15% replaced.

Baselines, measured in the same run:
* scoring: ``rouge_score.RougeScorer`` with all four ROUGE types called on every pair
  (what ``evaluate``'s rouge does), and ``sacrebleu.BLEU().corpus_score``;
* bootstrap: the naive approach — re-scoring every resample from text with
  sacreBLEU ``corpus_score`` and ``RougeScorer`` — timed on ``--naive-samples``
  resamples and extrapolated linearly to ``--samples`` (it would take too long in
  full); plus sacreBLEU's own ``corpus_score(n_bootstrap=...)``, which reuses
  sentence statistics but loops over resamples in Python, timed in full.
"""

from __future__ import annotations

import argparse
import gzip
import json
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from rouge_score import rouge_scorer
from sacrebleu.metrics import BLEU

from seq2seq_es.metrics.bootstrap import confidence_intervals, resample_counts
from seq2seq_es.metrics.rouge_spanish import (
    ROUGE_TYPES,
    SPANISH,
    SpanishRougeTokenizer,
    rouge_stats,
)
from seq2seq_es.metrics.sacrebleu_metrics import bleu_stats, chrf_stats
from seq2seq_es.metrics.significance import compare_systems

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data" / "pretrain" / "sample.jsonl.gz"
FALLBACK_WORDS = [
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
    "¿",
    "dónde",
    "está",
    "el",
    "perro",
    "?",
    "la",
    "señora",
    "lee",
    "un",
    "libro",
    "viejo",
    "y",
    "el",
    "señor",
    "bebe",
    "café",
    "caliente",
    "por",
    "la",
    "mañana",
]


def reference_sentences(limit: int, rng: np.random.Generator) -> list[str]:
    """Spanish sentences of 10-40 words (real text when ../shared/data is present)."""
    sentences: list[str] = []
    if SHARED.is_file():
        with gzip.open(SHARED, "rt", encoding="utf-8") as handle:
            for line in handle:
                for sentence in re.split(r"(?<=[.!?])\s+", json.loads(line)["text"]):
                    words = sentence.split()
                    if len(words) >= 10:
                        sentences.append(" ".join(words[:40]))
                if len(sentences) >= limit:
                    break
    while len(sentences) < min(limit, 1000):
        sentences.append(" ".join(rng.choice(FALLBACK_WORDS, size=int(rng.integers(10, 40)))))
    return sentences


def noisy(reference: str, vocabulary: list[str], rng: np.random.Generator) -> str:
    out = []
    for word in reference.split():
        roll = rng.random()
        if roll < 0.15:
            continue
        out.append(vocabulary[int(rng.integers(len(vocabulary)))] if roll < 0.30 else word)
    return " ".join(out)


def make_pairs(n: int, seed: int) -> tuple[list[str], list[list[str]]]:
    rng = np.random.default_rng(seed)
    sentences = reference_sentences(n, rng)
    vocabulary = sorted({w for s in sentences[:2000] for w in s.split()})
    references = [sentences[i % len(sentences)] for i in range(n)]
    return [noisy(r, vocabulary, rng) for r in references], [[r] for r in references]


CPU_SECONDS: dict[str, float] = {}


def timed(work: Callable[[], Any], label: str = "") -> tuple[Any, float]:
    """Wall-clock seconds (returned) and process CPU seconds (kept in CPU_SECONDS[label]).

    The machine is shared: when wall time is much larger than CPU time, other jobs
    were competing for the 2 cores; ratios are computed from wall time in the same run.
    """
    start, cpu = time.perf_counter(), time.process_time()
    result = work()
    CPU_SECONDS[label] = time.process_time() - cpu
    return result, time.perf_counter() - start


def cpu(label: str) -> str:
    return f"[cpu {CPU_SECONDS[label]:.2f} s]"


def bench_scoring(n: int, seed: int) -> None:
    predictions, references = make_pairs(n, seed)
    print(
        f"\n## scoring {n:,} pairs (mean {np.mean([len(r[0].split()) for r in references]):.1f} "
        "words/reference)"
    )
    rouge, t_rouge = timed(lambda: rouge_stats(predictions, references, SPANISH), "rouge")
    scorer = rouge_scorer.RougeScorer(list(ROUGE_TYPES), tokenizer=SpanishRougeTokenizer())
    _, t_rouge_naive = timed(
        lambda: [scorer.score(r[0], p) for p, r in zip(predictions, references, strict=True)],
        "rouge_naive",
    )
    bleu, t_bleu = timed(lambda: bleu_stats(predictions, references), "bleu")
    _, t_bleu_lib = timed(
        lambda: BLEU().corpus_score(predictions, [[r[0] for r in references]]), "bleu_lib"
    )
    _, t_chrf = timed(lambda: chrf_stats(predictions, references), "chrf")
    print(
        f"ROUGE-1/2/L/Lsum (spanish): {t_rouge:7.2f} s {cpu('rouge')} ({n / t_rouge:,.0f} "
        f"pairs/s); RougeScorer on every pair, 4 types: {t_rouge_naive:7.2f} s "
        f"{cpu('rouge_naive')}"
    )
    print(
        f"BLEU statistics (sacreBLEU): {t_bleu:7.2f} s {cpu('bleu')} ({n / t_bleu:,.0f} pairs/s); "
        f"sacreBLEU corpus_score: {t_bleu_lib:7.2f} s {cpu('bleu_lib')}"
    )
    print(f"ratio RougeScorer / ours (ROUGE scoring seconds): {t_rouge_naive / t_rouge:.2f}x")
    print(f"ratio sacreBLEU corpus_score / ours (BLEU seconds): {t_bleu_lib / t_bleu:.2f}x")
    print(f"chrF statistics (sacreBLEU): {t_chrf:7.2f} s {cpu('chrf')}")
    print(
        f"corpus: rouge1 {rouge.corpus_scores()['rouge1']:.2f}, BLEU "
        f"{bleu.corpus_scores()['score']:.2f}"
    )


def naive_bootstrap(
    predictions: list[str], references: list[list[str]], n_samples: int, rng: np.random.Generator
) -> None:
    """Re-score every resample from text: what you do without sentence statistics."""
    scorer = rouge_scorer.RougeScorer(list(ROUGE_TYPES), tokenizer=SpanishRougeTokenizer())
    n = len(predictions)
    for counts in resample_counts(rng, n, n_samples):
        for row in counts:
            pick = np.repeat(np.arange(n), row.astype(np.int64))
            hyps = [predictions[i] for i in pick]
            BLEU().corpus_score(hyps, [[references[i][0] for i in pick]])
            [scorer.score(references[i][0], predictions[i]) for i in pick]


def bench_bootstrap(n: int, n_samples: int, naive_samples: int, seed: int) -> None:
    predictions, references = make_pairs(n, seed + 1)
    print(f"\n## bootstrap: {n_samples:,} resamples over {n:,} pairs (ROUGE-1/2/L/Lsum + BLEU)")
    stats, t_stats = timed(
        lambda: [
            rouge_stats(predictions, references, SPANISH),
            bleu_stats(predictions, references),
        ],
        "stats",
    )
    intervals, t_boot = timed(
        lambda: confidence_intervals(stats, n_samples, 0.95, np.random.default_rng(seed)), "boot"
    )
    _, t_naive = timed(
        lambda: naive_bootstrap(
            predictions, references, naive_samples, np.random.default_rng(seed)
        ),
        "naive",
    )
    naive_total = t_naive / naive_samples * n_samples
    _, t_sacrebleu = timed(
        lambda: BLEU().corpus_score(
            predictions, [[r[0] for r in references]], n_bootstrap=n_samples
        ),
        "sacrebleu_bs",
    )
    ours_total = t_stats + t_boot
    print(
        f"ours: sentence statistics {t_stats:.2f} s {cpu('stats')} (once) + {n_samples} resamples "
        f"{t_boot:.3f} s {cpu('boot')} = {ours_total:.2f} s (target < 10 s)"
    )
    print(
        f"naive re-scoring: {t_naive:.2f} s {cpu('naive')} for {naive_samples} resamples -> "
        f"extrapolated {naive_total:,.0f} s for {n_samples}"
    )
    print(
        f"sacreBLEU corpus_score(n_bootstrap={n_samples}) for BLEU alone: {t_sacrebleu:.2f} s "
        f"{cpu('sacrebleu_bs')} (its per-resample Python loop)"
    )
    print(
        f"ratio naive / ours (bootstrap seconds): {naive_total / ours_total:,.2f}x (resampling "
        f"part alone: {naive_total / t_boot:,.0f}x)"
    )
    print(
        f"ratio sacreBLEU n_bootstrap (BLEU alone) / ours (BLEU + ROUGE resampling seconds): "
        f"{t_sacrebleu / t_boot:.2f}x"
    )
    print(
        f"rouge1 95% CI [{intervals[0]['rouge1'].low:.2f}, {intervals[0]['rouge1'].high:.2f}], "
        f"BLEU 95% CI [{intervals[1]['score'].low:.2f}, {intervals[1]['score'].high:.2f}]"
    )

    other, _ = make_pairs(n, seed + 2)
    other_stats = [rouge_stats(other, references, SPANISH), bleu_stats(other, references)]
    _, t_test = timed(
        lambda: [
            compare_systems(a, b, n_samples, 10_000, seed)
            for a, b in zip(stats, other_stats, strict=True)
        ],
        "test",
    )
    print(
        f"paired bootstrap ({n_samples}) + approximate randomization (10,000 trials), ROUGE + "
        f"BLEU, two systems: {t_test:.2f} s {cpu('test')}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--pairs", type=int, default=100_000)
    parser.add_argument("--bootstrap-pairs", type=int, default=10_000)
    parser.add_argument("--samples", type=int, default=1000)
    parser.add_argument("--naive-samples", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quick", action="store_true", help="10k pairs scored, 2 naive resamples.")
    parser.add_argument("--smoke", action="store_true", help="Tiny sizes, seconds.")
    args = parser.parse_args()
    if args.quick:
        args.pairs, args.naive_samples = 10_000, 2
    if args.smoke:
        args.pairs, args.bootstrap_pairs, args.samples, args.naive_samples = 500, 200, 50, 1
    print(
        "text: "
        f"{'shared pretrain sample' if SHARED.is_file() else 'generated (shared data absent)'}"
    )
    bench_scoring(args.pairs, args.seed)
    bench_bootstrap(args.bootstrap_pairs, args.samples, args.naive_samples, args.seed)


if __name__ == "__main__":
    main()
