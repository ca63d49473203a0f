"""ROUGE: Spanish-correct, paper-compatible parity with rouge-score, multilingual-rouge
comparison."""

from __future__ import annotations

import random
import string

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rouge_score import rouge_scorer

from seq2seq_es.metrics.rouge_spanish import (
    PAPER_COMPATIBLE,
    ROUGE_TYPES,
    SPANISH,
    SPANISH_SNOWBALL,
    rouge_stats,
    sentence_rouge,
)
from seq2seq_es.metrics.spanish_text import SpanishStemmer

SPANISH_TEXTS = [
    "El niño comió pan con su madre en la casa grande.",
    "La señora leía un libro viejo; el señor bebía café.\n¿Dónde está el perro?",
    "Según el artículo 5º, la Comisión aprobó 1.200 millones de euros (un 3,5 % más).",
    "¡Qué día tan bonito! Los niños jugaban en el jardín.",
    "Se designa a la Dra. María Núñez como directora del Instituto Nacional.",
    "",
]


def _pairs(seed: int, n: int) -> tuple[list[str], list[list[str]]]:
    rng = random.Random(seed)
    words = " ".join(SPANISH_TEXTS).split(" ")
    predictions, references = [], []
    for _ in range(n):
        predictions.append(" ".join(rng.choice(words) for _ in range(rng.randint(0, 15))))
        refs = [rng.choice(SPANISH_TEXTS)] + [
            " ".join(rng.choice(words) for _ in range(8))
        ] * rng.randint(0, 1)
        references.append(refs)
    return predictions, references


def _reference_rows(
    scorer: rouge_scorer.RougeScorer, predictions: list[str], references: list[list[str]]
) -> np.ndarray:
    rows = [
        [100.0 * scorer.score_multi(refs, p)[t].fmeasure for t in ROUGE_TYPES]
        for p, refs in zip(predictions, references, strict=True)
    ]
    return np.asarray(rows)


def test_paper_compatible_equals_rouge_score_default_exactly() -> None:
    predictions, references = _pairs(0, 60)
    expected = _reference_rows(
        rouge_scorer.RougeScorer(list(ROUGE_TYPES), use_stemmer=True), predictions, references
    )
    got = sentence_rouge(predictions, references, PAPER_COMPATIBLE)
    assert np.array_equal(got, expected)  # bit-for-bit, including ROUGE-Lsum on multi-line texts
    assert (
        "variant:paper-compatible"
        in rouge_stats(predictions, references, PAPER_COMPATIBLE).signature
    )


_ascii_text = st.text(alphabet=string.ascii_letters + string.digits + " .,;:!?'-\n", max_size=60)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(_ascii_text, _ascii_text), min_size=1, max_size=4))
def test_spanish_rouge_without_stemming_equals_rouge_score_on_ascii(
    pairs: list[tuple[str, str]],
) -> None:
    predictions = [p for p, _ in pairs]
    references = [[r] for _, r in pairs]
    expected = _reference_rows(rouge_scorer.RougeScorer(list(ROUGE_TYPES)), predictions, references)
    assert np.array_equal(sentence_rouge(predictions, references, SPANISH), expected)


def test_spanish_rouge_keeps_accented_words_whole() -> None:
    spanish = sentence_rouge(["la niña"], [["la niño"]], SPANISH)[0]
    paper = sentence_rouge(["la niña"], [["la niño"]], PAPER_COMPATIBLE)[0]
    assert spanish[0] == pytest.approx(50.0)  # "la" matches, "niña" ≠ "niño"
    assert paper[0] == pytest.approx(100 * 2 / 3)  # "ni" matches too: [la, ni, a] vs [la, ni, o]


def test_snowball_variant_matches_inflections() -> None:
    plain = sentence_rouge(
        ["los niños cantaban canciones"], [["el niño cantaba una canción"]], SPANISH
    )[0, 0]
    stemmed = sentence_rouge(
        ["los niños cantaban canciones"], [["el niño cantaba una canción"]], SPANISH_SNOWBALL
    )[0, 0]
    assert plain == 0.0 and stemmed > 60.0


def test_multiple_references_keep_the_best_one_per_type() -> None:
    rows = sentence_rouge(["el perro come"], [["un gato duerme", "el perro come"]], SPANISH)
    assert np.allclose(rows, 100.0)


def test_compared_with_multilingual_rouge() -> None:
    """multilingual-rouge (XL-Sum's ROUGE) agrees with ours on Spanish words, stemmed or not.

    On plain Spanish words (no symbols, no letter–digit runs, NFC text) the two agree; every
    documented difference (symbols, "1º"/"L1111", NFD text, its ROUGE-Lsum tokenizer) has
    its own test in ``test_multilingual_rouge_differences.py``.
    """
    mrouge = pytest.importorskip("multilingual_rouge.rouge_scorer")
    clean = [t for t in SPANISH_TEXTS if "º" not in t and "%" not in t]
    predictions = [clean[(k + 1) % len(clean)] for k in range(len(clean))]
    references = [[t] for t in clean]
    for variant, kwargs in (
        (SPANISH, {"use_stemmer": False}),
        (SPANISH_SNOWBALL, {"use_stemmer": True, "callable_stemmer": SpanishStemmer()}),
    ):
        scorer = mrouge.RougeScorer(list(ROUGE_TYPES), **kwargs)
        expected = np.asarray(
            [
                [100 * scorer.score(r[0], p)[t].fmeasure for t in ROUGE_TYPES]
                for p, r in zip(predictions, references, strict=True)
            ]
        )
        assert np.allclose(sentence_rouge(predictions, references, variant), expected)

    scorer = mrouge.RougeScorer(["rouge1"], use_stemmer=False)
    text = "Subió 5 € y llegó a 30°C"
    assert scorer.score(text, text)["rouge1"].fmeasure == 1.0
    theirs = scorer.score(text, "Subió 5 y llegó a 30 C")["rouge1"].recall
    ours = sentence_rouge(["Subió 5 y llegó a 30 C"], [[text]], SPANISH)[0, 0]
    assert theirs < 1.0 and ours == 100.0  # "€" and "°" are words for multilingual-rouge only


def test_rouge_on_real_spanish_summaries(shared_data) -> None:
    """On 40 real legal summaries, the paper's tokenizer and ours disagree (accents)."""
    from seq2seq_es.files import iter_jsonl

    records = []
    for record in iter_jsonl(shared_data / "summarization" / "legal_ar_validation.jsonl.gz"):
        records.append(record)
        if len(records) == 40:
            break
    predictions = [r["title"] for r in records]
    references = [[r["summary_lc"]] for r in records]
    spanish = rouge_stats(predictions, references, SPANISH).corpus_scores()
    paper = rouge_stats(predictions, references, PAPER_COMPATIBLE).corpus_scores()
    assert set(spanish) == set(ROUGE_TYPES)
    assert spanish != paper
