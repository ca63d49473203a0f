"""METEOR with Spanish stems and no WordNet."""

from __future__ import annotations

import pytest
from nltk.translate.meteor_score import single_meteor_score

from seq2seq_es.metrics.meteor_spanish import NoSynonyms, meteor_stats, sentence_meteor
from seq2seq_es.metrics.spanish_text import SpanishStemmer, words


def test_identical_sentence_scores_one_minus_the_fragmentation_penalty() -> None:
    text = "La señora lee un libro viejo por la mañana."
    m = len(words(text))  # one chunk of m matches: penalty 0.5 · (1/m)^3
    assert sentence_meteor(text, [text]) == pytest.approx(100 * (1 - 0.5 * (1 / m) ** 3))


def test_spanish_inflections_match_through_the_snowball_stemmer() -> None:
    score = sentence_meteor("los niños cantaban canciones", ["el niño cantaba una canción"])
    exact_only = 100 * single_meteor_score(
        words("el niño cantaba una canción"),
        words("los niños cantaban canciones"),
        preprocess=str,
        stemmer=_Identity(),
        wordnet=NoSynonyms(),
    )
    assert exact_only == 0.0 and score > 50.0


class _Identity:
    def stem(self, word: str) -> str:
        return word


def test_no_synonyms_are_used_and_nothing_is_downloaded() -> None:
    # With English WordNet "car" and "automobile" would align; here they must not.
    assert sentence_meteor("automobile", ["car"]) == 0.0
    assert NoSynonyms().synsets("coche") == []


def test_corpus_meteor_is_the_mean_of_sentences_and_best_reference_wins() -> None:
    predictions = ["el perro come", "la casa grande"]
    references = [["un gato duerme", "el perro come"], ["la casa es grande"]]
    stats = meteor_stats(predictions, references)
    expected = (
        sentence_meteor(predictions[0], references[0][1:], SpanishStemmer())
        + sentence_meteor(predictions[1], references[1])
    ) / 2
    assert stats.corpus_scores()["meteor"] == pytest.approx(expected)
    assert "stem:snowball-es|synonyms:none" in stats.signature
