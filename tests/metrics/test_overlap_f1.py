"""QA exact match / token F1 and dialogue unigram F1 on normalised Spanish."""

from __future__ import annotations

import pytest

from seq2seq_es.metrics.overlap_f1 import exact_match, qa_stats, token_f1, unigram_f1_stats


def test_exact_match_ignores_case_punctuation_and_articles() -> None:
    assert exact_match("El Museo del Prado.", "museo del prado") == 1.0
    assert exact_match("«Unos libros»", "libros") == 1.0
    assert exact_match("sí", "si") == 0.0


def test_token_f1_is_the_f1_of_word_bags() -> None:
    # prediction [museo, prado, madrid] vs reference [museo, del, prado]: 2 common
    assert token_f1("el museo prado de Madrid", "museo del prado") == pytest.approx(
        2 * (2 / 4) * (2 / 3) / (2 / 4 + 2 / 3)
    )
    assert token_f1("", "museo") == 0.0
    assert token_f1("la", "el") == 0.0  # both normalise to nothing: no overlap


def test_qa_takes_the_best_reference_and_averages() -> None:
    stats = qa_stats(["1492", "Cristóbal Colón"], [["en 1492", "1492"], ["Colón"]])
    scores = stats.corpus_scores()
    assert scores["exact_match"] == pytest.approx(50.0)
    assert scores["token_f1"] == pytest.approx((100.0 + 100 * 2 * 0.5 * 1 / 1.5) / 2)


def test_dialogue_unigram_f1_equals_qa_token_f1() -> None:
    predictions, references = ["Buenos días, señoría."], [["Buenos días a todos, señorías."]]
    assert unigram_f1_stats(predictions, references).corpus_scores()["f1"] == pytest.approx(
        qa_stats(predictions, references).corpus_scores()["token_f1"]
    )
