"""Generated Spanish-looking documents and a helper to run the corpus pipeline on them."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import pytest

from seq2seq_es.corpus.pipeline import CorpusConfig, run_corpus

SUBJECTS = [
    "El alcalde",
    "La maestra",
    "Mi abuelo",
    "Una vecina",
    "El médico",
    "La señora García",
    "Nuestro equipo",
    "El niño",
    "La periodista",
    "Un pescador",
    "La directora",
    "El cocinero",
    "Mi hermana",
    "El campesino",
]
VERBS = [
    "compró",
    "escribió",
    "encontró",
    "explicó",
    "vendió",
    "pintó",
    "leyó",
    "preparó",
    "olvidó",
    "buscó",
    "recordó",
    "defendió",
    "describió",
    "cuidó",
]
OBJECTS = [
    "un libro antiguo",
    "la carta del ayuntamiento",
    "una canción popular",
    "el informe anual",
    "una receta de su pueblo",
    "el mapa de la región",
    "la historia del puerto",
    "un cuadro pequeño",
    "las cuentas de la empresa",
    "el camino hacia la montaña",
    "una novela policíaca",
    "la leña del invierno",
]
PLACES = [
    "en Sevilla",
    "junto al río",
    "en la plaza mayor",
    "cerca de la estación",
    "en el mercado",
    "en la biblioteca",
    "durante el viaje",
    "en la escuela",
    "en su casa de Toledo",
    "frente al mar",
    "en el hospital",
    "en la sierra de Gredos",
]
TIMES = [
    "el lunes por la mañana",
    "después de la cena",
    "antes del amanecer",
    "hace muchos años",
    "cuando llegó el otoño",
    "con gran cuidado",
    "sin decir nada a nadie",
    "para sorpresa de todos",
    "mientras llovía sin parar",
    "con la ayuda de sus amigos",
]


def spanish_doc(rng: random.Random, paragraphs: int = 2, sentences: int = 4) -> str:
    """A few paragraphs of grammatical Spanish that every default filter keeps.

    Each part of speech is drawn without replacement within a document, so no phrase
    repeats enough to trip the Gopher repetition rules (at most 10 sentences).
    """
    n = paragraphs * sentences
    parts = [rng.sample(words, n) for words in (SUBJECTS, VERBS, OBJECTS, PLACES, TIMES)]
    lines = [" ".join(parts_of) + "." for parts_of in zip(*parts, strict=True)]
    return "\n".join(" ".join(lines[i : i + sentences]) for i in range(0, n, sentences))


def write_jsonl(path: Path, records: list[dict[str, Any]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8"
    )
    return path


def read_shards(output_dir: Path) -> list[dict[str, Any]]:
    import gzip

    records = []
    for path in sorted((output_dir / "shards").glob("*.jsonl.gz")):
        with gzip.open(path, "rt", encoding="utf-8") as handle:
            records += [json.loads(line) for line in handle]
    return records


def read_rejects(output_dir: Path, step: str) -> list[dict[str, Any]]:
    import gzip

    records = []
    for path in sorted((output_dir / "rejects" / step).rglob("*.jsonl.gz")):
        with gzip.open(path, "rt", encoding="utf-8") as handle:
            records += [json.loads(line) for line in handle]
    return records


def run(input_path: Path, output_dir: Path, **overrides: Any) -> dict[str, Any]:
    config = CorpusConfig.model_validate(
        {"input": str(input_path), "output_dir": str(output_dir), **overrides}
    )
    return run_corpus(config)


@pytest.fixture()
def rng() -> random.Random:
    return random.Random(7)
