"""SARI against its published values: Xu et al.'s SARI.py, HF evaluate, EASSE."""

from __future__ import annotations

import pytest

from seq2seq_es.metrics.sari import corpus_sari, sari_evaluate_stats, sari_stats, sentence_sari

SOURCE = "About 95 species are currently accepted ."
REFERENCES = [
    "About 95 species are currently known .",
    "About 95 species are now accepted .",
    "95 species are now accepted .",
]


@pytest.mark.parametrize(
    ("prediction", "expected"),
    [
        # printed by cocoxu/simplification SARI.py main() (Xu et al. 2016's worked example),
        # the values EASSE's tests/test_sari.py quote
        ("About 95 you now get in .", 26.82782411698074),
        ("About 95 species are now agreed .", 58.89995423074248),
        ("About 95 species are currently agreed .", 50.71608864657479),
    ],
)
def test_xu2016_sentence_sari(prediction: str, expected: float) -> None:
    assert sentence_sari(SOURCE, prediction, REFERENCES, "xu2016") == pytest.approx(
        expected, abs=1e-9
    )


def test_hf_evaluate_sari_docstring_value() -> None:
    # evaluate/metrics/sari: {'sari': 26.953601953601954}
    assert sentence_sari(
        SOURCE, "About 95 you now get in .", REFERENCES, "evaluate"
    ) == pytest.approx(26.953601953601954, abs=1e-9)
    stats = sari_evaluate_stats([SOURCE], ["About 95 you now get in ."], [REFERENCES])
    assert stats.corpus_scores()["sari"] == pytest.approx(26.953601953601954, abs=1e-9)


EASSE_SOURCES = ["About 95 species are currently accepted.", "The cat perched on the mat."]
EASSE_PREDICTIONS = ["About 95 you now get in.", "Cat on mat."]
EASSE_REFERENCES = [
    [
        "About 95 species are currently known.",
        "About 95 species are now accepted.",
        "95 species are now accepted.",
    ],
    ["The cat sat on the mat.", "The cat is on the mat.", "The cat sat."],
]


@pytest.mark.parametrize("tokenize", ["13a", "intl"])
def test_easse_corpus_sari_readme_value(tokenize: str) -> None:
    # EASSE README: corpus_sari(...) -> 33.17472563619544 (13a; intl tokenizes this text
    # identically)
    assert corpus_sari(
        EASSE_SOURCES, EASSE_PREDICTIONS, EASSE_REFERENCES, tokenize
    ) == pytest.approx(33.17472563619544, abs=1e-9)


def test_corpus_sari_is_not_the_mean_of_sentence_saris() -> None:
    """Corpus SARI sums add/keep/delete counts over the corpus before dividing."""
    each = [
        corpus_sari([s], [p], [r])
        for s, p, r in zip(EASSE_SOURCES, EASSE_PREDICTIONS, EASSE_REFERENCES, strict=True)
    ]
    corpus = corpus_sari(EASSE_SOURCES, EASSE_PREDICTIONS, EASSE_REFERENCES)
    mean_of_sentences = sum(each) / 2
    assert corpus == pytest.approx(33.17472563619544)
    # 33.17 for the corpus, but 31.35 and 33.58 for the two sentences alone: mean 32.46
    assert each == pytest.approx([31.350246975246975, 33.57765691099024])
    assert mean_of_sentences == pytest.approx(32.46395194311861)
    assert corpus - mean_of_sentences == pytest.approx(0.7108, abs=1e-4)
    # and both differ from evaluate's sentence formula averaged
    evaluate = sari_evaluate_stats(
        EASSE_SOURCES, EASSE_PREDICTIONS, EASSE_REFERENCES
    ).corpus_scores()["sari"]
    assert abs(evaluate - corpus) > 1.0


def test_parts_and_signature() -> None:
    """The default tokenizer is EASSE's (13a), and the signature says which one was used."""
    stats = sari_stats(EASSE_SOURCES, EASSE_PREDICTIONS, EASSE_REFERENCES)
    scores = stats.corpus_scores()
    assert scores["sari"] == pytest.approx((scores["add"] + scores["keep"] + scores["delete"]) / 3)
    assert "formula:easse-corpus" in stats.signature and "|tok:13a|" in stats.signature
    assert (
        "|tok:intl|"
        in sari_stats(EASSE_SOURCES, EASSE_PREDICTIONS, EASSE_REFERENCES, "intl").signature
    )


def test_default_equals_easse_13a_where_intl_differs() -> None:
    """On Spanish with ¿ ¡ the two tokenizers disagree; the default is 13a's value (EASSE's
    default)."""
    sources = ["¿Dónde está el perro de la señora?", "¡Qué día tan bonito hace hoy!"]
    predictions = ["¿Dónde está el perro?", "¡Qué día tan bonito!"]
    references = [["¿Dónde está el perro?"], ["¡Qué día bonito!"]]
    default = corpus_sari(sources, predictions, references)
    assert default == corpus_sari(sources, predictions, references, "13a")
    assert default != pytest.approx(corpus_sari(sources, predictions, references, "intl"))


def test_intl_tokenization_splits_spanish_opening_marks() -> None:
    """13a leaves "¿dónde" as one token, so a kept word is scored as an addition."""
    source, refs = "¿Dónde está el perro ?", ["¿ Dónde está el perro ?"]
    intl = sari_stats([source], ["¿Dónde está el perro?"], [refs], "intl").corpus_scores()
    with_13a = sari_stats([source], ["¿Dónde está el perro?"], [refs], "13a").corpus_scores()
    assert intl["keep"] == pytest.approx(100.0)
    assert with_13a["keep"] < 100.0
