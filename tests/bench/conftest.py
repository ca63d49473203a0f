"""Generated data for the bench tests: a copy task, and prediction files of systems of known
quality."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
from tests.conftest import spanish_like_text, write_jsonl


@pytest.fixture(scope="session")
def copy_task(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder with a copy task (target = source) and its YAML; ROUGE in both variants among its
    metrics."""
    root = tmp_path_factory.mktemp("bench_data")
    rng = random.Random(7)
    for split, n in (("train", 64), ("validation", 40)):
        rows = []
        for i in range(n):
            text = spanish_like_text(rng, rng.randint(4, 9))
            rows.append({"id": f"{split}-{i}", "src": text, "tgt": text})
        write_jsonl(root / "copy" / f"{split}.jsonl", rows)
    (root / "copy_task.yaml").write_text(
        "name: copy\nkind: copy\nlocal: {train: copy/train.jsonl, validation: "
        "copy/validation.jsonl}\nsource_template: '{src}'\ntarget_field: tgt\nmetrics: [chrf, "
        "rouge, rouge-paper]\nselection_metric: chrf.score\nmax_source_length: "
        "32\nmax_target_length: 32\ndecoding: {num_beams: 1}\n",
        encoding="utf-8",
    )
    return root


def system_predictions(
    task_dir: Path, path: Path, correct: float, seed: int, extra_errors: int = 0
) -> Path:
    """predictions.jsonl of a system that copies ``correct`` of the validation examples and garbles
    the rest
    (and the first ``extra_errors`` examples it would have copied)."""
    rng = random.Random(seed)
    rows = []
    for line in (task_dir / "copy" / "validation.jsonl").read_text(encoding="utf-8").splitlines():
        record = json.loads(line)
        words = record["tgt"].split()
        copies = rng.random() < correct
        if copies and extra_errors > 0:
            copies, extra_errors = False, extra_errors - 1
        prediction = (
            record["tgt"] if copies else " ".join(reversed(words[: max(1, len(words) // 3)]))
        )
        rows.append(
            {
                "id": record["id"],
                "source": record["src"],
                "reference": record["tgt"],
                "references": [record["tgt"]],
                "prediction": prediction,
            }
        )
    return write_jsonl(path, rows)
