"""``seq2seq-es humaneval …`` through the real console script: exit codes, messages, nothing half-written."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from .conftest import CLI, make_predictions, write_jsonl


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, "humaneval", *args], capture_output=True, text=True, timeout=120,
                          env={"COLUMNS": "200", "PATH": "/usr/bin:/bin"})


def test_create_analyze_export_and_user_errors(tmp_path: Path) -> None:
    a, b = (str(p) for p in make_predictions(tmp_path / "systems", n=8))
    study = tmp_path / "study"
    done = cli("create", a, b, "protocol=dialogue", f"output_dir={study}", "n_items=6", "annotators=2")
    assert done.returncode == 0, done.stderr
    assert "anotador-1, anotador-2" in done.stdout and (study / "ratings.sqlite").is_file()

    again = cli("create", a, b, "protocol=qa", f"output_dir={study}", "n_items=6")
    assert again.returncode == 2 and "never overwritten" in again.stderr and "Traceback" not in again.stderr
    assert json.loads((study / "study.json").read_text(encoding="utf-8"))["protocol"]["name"] == "dialogue"

    rows = [json.loads(line) for line in Path(b).read_text(encoding="utf-8").splitlines()]
    write_jsonl(Path(b), rows[1:])
    mismatch = cli("create", a, b, "protocol=dialogue", f"output_dir={tmp_path / 'other'}", "n_items=2")
    assert mismatch.returncode == 2 and b in mismatch.stderr and "'ej-000'" in mismatch.stderr
    assert not (tmp_path / "other").exists()

    analyzed = cli("analyze", str(study))  # no ratings yet: a report full of dashes, not a crash
    assert analyzed.returncode == 0, analyzed.stderr
    assert (study / "analysis" / "report.md").is_file() and (study / "analysis" / "run_info.json").is_file()
    exported = cli("export", str(study))
    assert exported.returncode == 0 and "0 answers" in exported.stdout
