"""Generated Spanish documents with the hard cases of sentence splitting."""

from __future__ import annotations

import random

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
