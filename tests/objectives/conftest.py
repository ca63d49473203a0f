"""Fixtures for the objectives tests: a small byte-level BPE trained on generated Spanish."""

from __future__ import annotations

import random

import numpy as np
import pytest
from transformers import PreTrainedTokenizerFast

from seq2seq_es.objectives.packing import pack_blocks
from seq2seq_es.objectives.token_tables import TokenTables
from seq2seq_es.tokenizer.bpe import train_byte_level_bpe

SENTENCES = [
    "El Sr. García llegó a las 3.5 horas con la Dra. Pérez.",
    "¿Dónde está el perro de la señora?",
    "¡Qué día tan bonito hace hoy!",
    "Viven en EE. UU. desde hace muchos años.",
    "Compró pan, leche, huevos, etc. y volvió a casa.",
    "La Sra. Martínez lee un libro viejo por la mañana.",
    "«Nadie sabe nada», dijo el niño.",
    "El precio subió un 2.5 % en el último año.",
    "J. R. R. Tolkien escribió muchos libros.",
    "Me preguntó ¿vienes mañana? y no supe qué decir.",
    "Los datos son de 1990.",
    "Hay que pensar... pero no demasiado.",
    "El niño come pan con su madre en la casa grande.",
    "Sin embargo, la empresa cerró sus puertas.",
]


def spanish_documents(seed: int, count: int) -> list[str]:
    """Documents of 3-12 template sentences, sometimes with a paragraph break."""
    rng = random.Random(seed)
    documents = []
    for _ in range(count):
        parts = []
        for _ in range(rng.randint(3, 12)):
            parts.append(rng.choice(SENTENCES))
            parts.append("\n" if rng.random() < 0.1 else " ")
        documents.append("".join(parts[:-1]))
    return documents


@pytest.fixture(scope="session")
def tokenizer() -> PreTrainedTokenizerFast:
    return train_byte_level_bpe(spanish_documents(0, 200), vocab_size=600)


@pytest.fixture(scope="session")
def tables(tokenizer: PreTrainedTokenizerFast) -> TokenTables:
    return TokenTables.from_tokenizer(tokenizer)


@pytest.fixture(scope="session")
def blocks(tokenizer: PreTrainedTokenizerFast) -> list[np.ndarray]:
    """~300 packed blocks of 126 tokens (a BART example body at seq_len 128)."""
    ids = tokenizer(spanish_documents(1, 400), add_special_tokens=False)["input_ids"]
    return list(pack_blocks(ids, 126, tokenizer.eos_token_id))
