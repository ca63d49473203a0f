"""``seq2seq-es humaneval …`` through the real console script: exit codes, messages, run records.

(The serve command runs through the console script in every server test; bad inputs are
covered in depth on the library in test_study.py.)"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

from .conftest import CLI, make_predictions


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CLI, "humaneval", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "COLUMNS": "200"},
    )


def test_create_refuse_and_analyze(tmp_path: Path) -> None:
    a, b = (str(p) for p in make_predictions(tmp_path / "systems", n=8))
    study = tmp_path / "study"
    done = cli(
        "create", a, b, "protocol=dialogue", f"output_dir={study}", "n_items=6", "annotators=2"
    )
    assert done.returncode == 0, done.stderr
    assert "anotador-1, anotador-2" in done.stdout and (study / "ratings.sqlite").is_file()

    again = cli("create", a, b, "protocol=qa", f"output_dir={study}", "n_items=6")
    assert (
        again.returncode == 2
        and "never overwritten" in again.stderr
        and "Traceback" not in again.stderr
    )
    assert (
        json.loads((study / "study.json").read_text(encoding="utf-8"))["protocol"]["name"]
        == "dialogue"
    )

    analyzed = cli("analyze", str(study))  # no ratings yet: a report full of dashes, not a crash
    assert analyzed.returncode == 0, analyzed.stderr
    assert (study / "analysis" / "report.md").is_file() and (
        study / "analysis" / "run_info.json"
    ).is_file()
