"""Short pseudo-Spanish sentences for the inference tests (inputs, tokenizer training text)."""

from __future__ import annotations

import random

WORDS = [
    "el",
    "la",
    "los",
    "las",
    "un",
    "una",
    "niño",
    "niña",
    "señora",
    "señor",
    "come",
    "bebe",
    "lee",
    "escribe",
    "pan",
    "agua",
    "café",
    "libro",
    "carta",
    "casa",
    "perro",
    "gato",
    "grande",
    "pequeño",
    "viejo",
    "nuevo",
    "con",
    "en",
    "y",
    "de",
    "por",
    "para",
    "qué",
    "dónde",
    "cuándo",
    "mañana",
    "tarde",
]


def spanish_sentences(n: int, seed: int = 0) -> list[str]:
    rng = random.Random(seed)
    return [" ".join(rng.choice(WORDS) for _ in range(rng.randint(3, 14))) for _ in range(n)]
