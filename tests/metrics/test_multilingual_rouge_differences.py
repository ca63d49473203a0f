"""Where our ``rouge`` (variant ``spanish``) and ``multilingual-rouge`` (XL-Sum's ROUGE,
``use_stemmer=False``) differ: one test per difference the metrics README documents.

multilingual-rouge splits text with OpenNMT's "aggressive" tokenizer for ROUGE-1/2/L (it
cuts between letters and digits and makes every symbol a token), does not normalise
Unicode, and tokenizes ROUGE-Lsum with a different tokenizer (BERT's basic one, no
letter/digit cut). We take maximal runs of Unicode letters and digits of NFC text.
"""

from __future__ import annotations

import unicodedata

import numpy as np
import pytest

from seq2seq_es.metrics.rouge_spanish import ROUGE_TYPES, SPANISH, sentence_rouge
from seq2seq_es.metrics.spanish_text import words

mrouge = pytest.importorskip("multilingual_rouge.rouge_scorer")


def theirs(reference: str, prediction: str) -> np.ndarray:
    scores = mrouge.RougeScorer(list(ROUGE_TYPES), use_stemmer=False).score(reference, prediction)
    return np.array([100 * scores[t].fmeasure for t in ROUGE_TYPES])


def ours(reference: str, prediction: str) -> np.ndarray:
    return sentence_rouge([prediction], [[reference]], SPANISH)[0]


def test_equal_on_nfc_spanish_without_symbols_or_letter_digit_runs() -> None:
    pairs = [
        ("El niño comió pan con su madre en la casa grande.", "El niño comió pan en la casa."),
        ("¿Dónde está el perro? ¡Qué día tan bonito!", "El perro está en el jardín, qué bonito."),
        (
            "La Comisión aprobó 1.200 millones de euros en 2020.",
            "Se aprobaron 1.200 millones en 2020.",
        ),
        (
            "Según el artículo 5 de la ley, la señora Núñez dirige el Instituto.",
            "La señora Núñez dirige.",
        ),
    ]
    for reference, prediction in pairs:
        assert np.allclose(ours(reference, prediction), theirs(reference, prediction))


@pytest.mark.parametrize(
    ("run", "part", "pieces"), [("L1111", "L", 2), ("1º", "1", 2), ("3x4", "3", 3), ("H2O", "H", 3)]
)
def test_letter_digit_runs_are_one_word_for_us_split_by_them(
    run: str, part: str, pieces: int
) -> None:
    """ "la ley L1111" vs "la ley L": they see "l" "1111" (so "l" matches), we see "l1111"
    (nothing)."""
    reference, prediction = f"según la ley {run} vigente", f"según la ley {part} vigente"
    assert words(run) == [run.lower()]
    rouge1_theirs, rouge1_ours = theirs(reference, prediction)[0], ours(reference, prediction)[0]
    assert rouge1_ours == pytest.approx(100 * 4 / 5)  # 4 of 5 words on both sides
    assert rouge1_theirs == pytest.approx(
        100 * 2 * 5 / (4 + pieces + 5)
    )  # all 5 predicted tokens match
    assert rouge1_theirs > rouge1_ours


def test_ordinal_indicator_is_a_letter_we_keep() -> None:
    """ "º" and "ª" are Unicode letters (Lo): we keep them in the word ("5º", "nº", "1ª"); they make
    "º" a token of its own."""
    assert unicodedata.category("º") == "Lo" and unicodedata.category("ª") == "Lo"
    assert words("el artículo 5º y el nº 3 de la 1ª") == [
        "el",
        "artículo",
        "5º",
        "y",
        "el",
        "nº",
        "3",
        "de",
        "la",
        "1ª",
    ]
    reference, prediction = "el artículo 5º", "el artículo 5"
    assert ours(reference, prediction)[0] == pytest.approx(100 * 2 / 3)
    assert theirs(reference, prediction)[0] == pytest.approx(100 * 2 * 3 / (4 + 3))


def test_symbols_are_tokens_for_them_and_dropped_by_us() -> None:
    """ "€" (Sc) and "°" (So) are not letters, digits or punctuation: their tokens, not ours."""
    reference, prediction = "Subió 5 € y llegó a 30°C", "Subió 5 y llegó a 30 C"
    assert words(reference) == ["subió", "5", "y", "llegó", "a", "30", "c"]
    assert ours(reference, prediction)[0] == 100.0
    assert theirs(reference, prediction)[0] < 100.0


def test_decomposed_text_is_normalised_by_us_only() -> None:
    """NFD "niño" (n + U+0303) is the same word as NFC "niño" for us, a different one for them."""
    reference = "El niño comió pan"
    prediction = unicodedata.normalize("NFD", reference)
    assert prediction != reference
    assert np.all(ours(reference, prediction) == 100.0)
    assert theirs(reference, prediction)[0] == pytest.approx(
        50.0
    )  # "el" and "pan" match, "niño" and "comió" not


def test_their_rouge_lsum_tokenizes_unlike_their_rouge_l() -> None:
    """On one line ROUGE-Lsum should equal ROUGE-L: ours does; theirs tokenizes Lsum with BERT's
    basic
    tokenizer, which keeps "l1111" whole, while their ROUGE-L splits it."""
    reference, prediction = "según la ley L1111 vigente", "según la ley L vigente"
    rouge_l, rouge_lsum = ROUGE_TYPES.index("rougeL"), ROUGE_TYPES.index("rougeLsum")
    mine, their = ours(reference, prediction), theirs(reference, prediction)
    assert mine[rouge_l] == mine[rouge_lsum] == pytest.approx(80.0)
    assert their[rouge_l] == pytest.approx(100 * 10 / 11) and their[rouge_lsum] == pytest.approx(
        80.0
    )
