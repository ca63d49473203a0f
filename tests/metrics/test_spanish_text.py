"""Spanish words, stems and answer normalisation."""

from __future__ import annotations

import string
import unicodedata

from hypothesis import given
from hypothesis import strategies as st
from rouge_score import tokenize as rouge_tokenize

from seq2seq_es.metrics.spanish_text import SpanishStemmer, is_punctuation, normalize_answer, words


def test_accented_letters_and_enye_stay_inside_words() -> None:
    assert words("El NIÑO comió ñandú, ¿verdad? ¡Sí! «pingüino»") == [
        "el",
        "niño",
        "comió",
        "ñandú",
        "verdad",
        "sí",
        "pingüino",
    ]
    # rouge-score's default cuts every such word apart (the paper's bug):
    assert rouge_tokenize.tokenize("El niño comió", None) == ["el", "ni", "o", "comi"]


def test_decomposed_text_gives_the_same_words() -> None:
    nfd = unicodedata.normalize("NFD", "canción del niño")
    assert nfd != "canción del niño"
    assert words(nfd) == ["canción", "del", "niño"]


@given(st.text(alphabet=string.printable, max_size=80))
def test_on_ascii_words_equal_rouge_score_tokens(text: str) -> None:
    assert words(text) == rouge_tokenize.tokenize(text, None)


def test_snowball_stemmer_conflates_inflections_and_keeps_short_words() -> None:
    stem = SpanishStemmer()
    assert stem("niños") == stem("niño") == "niñ"
    assert stem("canciones") == stem("canción")
    assert stem("los") == "los" and stem.stem("sol") == "sol"


def test_normalize_answer_drops_spanish_articles_and_unicode_punctuation() -> None:
    assert normalize_answer("¡La  Casa Blanca!") == "casa blanca"
    assert normalize_answer("Unos «libros» viejos") == "libros viejos"
    assert normalize_answer("Los Ángeles") == "ángeles"
    assert normalize_answer("sí") != normalize_answer("si")  # accents carry meaning
    assert normalize_answer("el elefante") == "elefante"  # articles only as whole words
    assert is_punctuation("¿") and is_punctuation("$") and not is_punctuation("ñ")
