"""Tiny Spanish corpora and tokenizers trained on them once per test session (each < 1 s)."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from transformers import PreTrainedTokenizerFast

from seq2seq_es.tokenizer.bpe import train_byte_level_bpe
from seq2seq_es.tokenizer.unigram import train_unigram

WORD_LIST = (
    "el la los las un una niño niña señor señora año mañana España pingüino cigüeña corazón "
    "canción acción nación está están qué cómo dónde cuándo quién porque también después así más "
    "sí tú él camión árbol lápiz fácil difícil útil música pájaro murciélago búho ñandú Ñoño Ángel "
    "Óscar comer beber vivir escribir leer hablar cantar bailar jugar trabajar estudiar caminar "
    "correr casa perro gato libro mesa silla ventana puerta ciudad pueblo río montaña mar cielo "
    "sol luna grande pequeño viejo nuevo bonito feo rápido lento alto bajo rojo azul verde "
    "amarillo blanco con sin por para entre sobre bajo hacia hasta desde según durante mediante y "
    "o pero ni que de en a"
)
SPANISH_WORDS = WORD_LIST.split()
PUNCTUATION = (
    ".",
    ",",
    ";",
    ":",
    "…",
    "?",
    "!",
    "«",
    "»",
    "—",
    "(",
    ")",
    "1",
    "2",
    "3",
    "42",
    "1936",
)


def spanish_text(rng: random.Random, n_words: int) -> str:
    """A pseudo-Spanish paragraph: words, ¿…? and ¡…! pairs, punctuation and digits."""
    parts = []
    for _ in range(n_words):
        word = rng.choice(SPANISH_WORDS)
        roll = rng.random()
        if roll < 0.05:
            word = f"¿{word.capitalize()}?"
        elif roll < 0.10:
            word = f"¡{word.capitalize()}!"
        elif roll < 0.25:
            word += rng.choice(PUNCTUATION)
        parts.append(word)
    return " ".join(parts)


@pytest.fixture(scope="session")
def spanish_corpus() -> list[str]:
    rng = random.Random(7)
    return [spanish_text(rng, rng.randint(40, 120)) for _ in range(400)]


@pytest.fixture(scope="session")
def spanish_jsonl(tmp_path_factory: pytest.TempPathFactory, spanish_corpus: list[str]) -> Path:
    from seq2seq_es.files import write_jsonl

    path = tmp_path_factory.mktemp("corpus") / "corpus.jsonl"
    write_jsonl(path, ({"id": str(i), "text": text} for i, text in enumerate(spanish_corpus)))
    return path


@pytest.fixture(scope="session")
def bpe(spanish_corpus: list[str]) -> PreTrainedTokenizerFast:
    return train_byte_level_bpe(spanish_corpus, vocab_size=500)


@pytest.fixture(scope="session")
def unigram(spanish_corpus: list[str]) -> PreTrainedTokenizerFast:
    return train_unigram(spanish_corpus, vocab_size=600)
