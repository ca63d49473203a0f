"""Write a small bigram language model in ARPA format, readable by ``kenlm.Model``.

Why: KenLM's model builder (``lmplz``) is a C++ binary not shipped in the ``kenlm``
wheel, and tests and benchmarks need a real model file to score with. This is an
add-k smoothed bigram with back-off to unigrams: fine for exercising the perplexity
step, far from BERTIN's 5-gram Wikipedia model (use that one for real sampling).
"""

from __future__ import annotations

import itertools
import math
from collections import Counter
from collections.abc import Iterable
from pathlib import Path

from seq2seq_es.files import atomic_write


def write_bigram_arpa(lines: Iterable[str], path: str | Path, k: float = 0.1) -> Path:
    """Train on whitespace-split ``lines`` (already normalized as they will be scored)."""
    unigrams: Counter[str] = Counter()
    bigrams: Counter[tuple[str, str]] = Counter()
    for line in lines:
        words = ["<s>", *line.split(), "</s>"]
        unigrams.update(words)
        bigrams.update(itertools.pairwise(words))
    unigrams["<unk>"] += 1
    total = sum(count for word, count in unigrams.items() if word != "<s>")
    vocab = len(unigrams)
    path = Path(path)
    with atomic_write(path) as handle:
        handle.write(f"\\data\\\nngram 1={len(unigrams)}\nngram 2={len(bigrams)}\n\n\\1-grams:\n")
        for word, count in sorted(unigrams.items()):
            logp = -99.0 if word == "<s>" else math.log10((count + k) / (total + k * vocab))
            handle.write(f"{logp:.6f}\t{word}\t{math.log10(0.4):.6f}\n")
        handle.write("\n\\2-grams:\n")
        for (first, second), count in sorted(bigrams.items()):
            handle.write(f"{math.log10(count / unigrams[first]):.6f}\t{first} {second}\n")
        handle.write("\n\\end\\\n")
    return path
