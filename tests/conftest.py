"""Shared fixtures: the real Spanish data in ../shared/data, and tiny generated data.

Tests that need ../shared/data skip with a reason when it is absent, except under
CI=true, where its absence is a failure (CI always has it).
"""

from __future__ import annotations

import json
import os
import random
from importlib.metadata import version
from pathlib import Path

import pytest
from packaging.version import Version

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("SEQ2SEQ_ES_SHARED_DATA", REPO_ROOT.parent / "shared" / "data"))


def pytest_configure(config: pytest.Config) -> None:
    """Refuse ``--dist loadgroup`` where it does not group: the cluster tests share one Slurm
    cluster per worker, and several tests share 2-process reference runs made once per worker
    (``xdist_group`` marks). pytest 9.2's structured node ids keep pytest-xdist 3.8 from tagging
    them (``@group``), so it silently spreads every group over the workers (pytest-xdist#1386)."""
    if config.getoption("dist", "no") != "loadgroup" or hasattr(config, "workerinput"):
        return
    pytest_version, xdist_version = (version(name) for name in ("pytest", "pytest-xdist"))
    if Version(pytest_version) >= Version("9.2") and Version(xdist_version) <= Version("3.8.0"):
        raise pytest.UsageError(
            f"--dist loadgroup does not group tests with pytest {pytest_version} and pytest-xdist "
            f"{xdist_version} (pytest-xdist#1386). Install the pinned test tools: "
            "pip install -e '.[dev]' (pytest<9.2)."
        )


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """Path of ../shared/data; skip (locally) or fail (CI=true) when it is missing."""
    if not (SHARED_DATA / "README.md").is_file():
        message = (
            f"needs the shared Spanish data at {SHARED_DATA} "
            "(set SEQ2SEQ_ES_SHARED_DATA to its path)"
        )
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message + "; under CI=true it must be present")
        pytest.skip(message)
    return SHARED_DATA


WORDS = [
    "el",
    "niño",
    "come",
    "pan",
    "con",
    "su",
    "madre",
    "en",
    "la",
    "casa",
    "grande",
    ".",
    "¿",
    "dónde",
    "está",
    "el",
    "perro",
    "?",
    "¡",
    "qué",
    "día",
    "tan",
    "bonito",
    "!",
    "la",
    "señora",
    "lee",
    "un",
    "libro",
    "viejo",
    "y",
    "el",
    "señor",
    "bebe",
    "café",
    "caliente",
    "por",
    "la",
    "mañana",
]


def spanish_like_text(rng: random.Random, n_words: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(n_words))


def write_jsonl(path: Path, records: list[dict]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8") as handle:
        for record in records:
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")
    return path


@pytest.fixture(scope="session")
def tiny_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder with a small generated corpus and a copy task (source → same text)."""
    root = tmp_path_factory.mktemp("tiny_data")
    rng = random.Random(0)
    docs = [
        {"id": f"doc-{i}", "text": spanish_like_text(rng, rng.randint(60, 200))} for i in range(300)
    ]
    docs.append({"id": "short", "text": "corto"})  # dropped by the length filter
    write_jsonl(root / "pretrain" / "corpus.jsonl", docs)
    for split, n in (("train", 200), ("validation", 16)):
        pairs = []
        for i in range(n):
            text = spanish_like_text(rng, rng.randint(3, 8))
            pairs.append({"id": f"{split}-{i}", "src": text, "tgt": text})
        write_jsonl(root / "copy" / f"{split}.jsonl", pairs)
    (root / "copy_task.yaml").write_text(
        "name: copy\nkind: copy\nlocal: {train: copy/train.jsonl, validation: "
        "copy/validation.jsonl}\nsource_template: '{src}'\ntarget_field: tgt\nmetrics: [bleu, "
        "chrf, rouge]\nselection_metric: chrf.score\nmax_source_length: 32\nmax_target_length: "
        "32\ndecoding: {num_beams: 1}\n",
        encoding="utf-8",
    )
    return root
