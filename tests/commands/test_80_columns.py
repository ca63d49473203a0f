"""Tables that do not fit 80 columns print as blocks (issue 39): ``tasks --wide``, ``compare``,
``bench --dry-run`` (a summary; ``--all`` lists every job). Rendered by Rich as a user's
80-column terminal gets them (``COLUMNS=80``): no line is wider, no name is cut or folded."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from seq2seq_es.cli import app

REPO = Path(__file__).resolve().parents[2]
NARROW = {"COLUMNS": "80"}


def narrow(args: list[str]) -> list[str]:
    result = CliRunner().invoke(app, args, env=NARROW)
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert max(len(line) for line in lines) <= 80, result.output
    return [line.rstrip() for line in lines]


def test_tasks_wide_names_every_task_and_source_whole() -> None:
    from seq2seq_es.tasks.registry import get_task, task_names

    lines = narrow(["tasks", "--wide"])
    for name in task_names():
        assert name in lines, f"{name} is cut or folded"
    mlsum = get_task("mlsum-es")
    assert mlsum.hub is not None
    assert any(
        line.split()
        == ["source", "hub", *mlsum.hub.dataset.split()]
        + ([f"({mlsum.hub.config})"] if mlsum.hub.config else [])
        for line in lines
    )


def test_compare_names_each_system_and_score_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sys.path.insert(0, str(REPO / "tests" / "metrics"))
    from test_score_commands import _write_systems

    # names too long for a table row at 80 columns, yet shorter than a line: a test's absolute
    # tmp path alone (a pytest-xdist worker's is longer) can be wider than 80 columns
    monkeypatch.chdir(tmp_path)
    written = _write_systems(tmp_path, n=10)
    base, good = (
        Path(f"runs/finetune-{name}-on-tatoeba-es-en-with-three-seeds/predictions.jsonl")
        for name in ("baseline", "improved")
    )
    for source, path in zip(written, (base, good), strict=False):
        path.parent.mkdir(parents=True)
        source.rename(path)
    lines = narrow(
        [
            "compare",
            str(base),
            str(good),
            "-m",
            "bleu",
            "-m",
            "chrf",
            f"output_dir={tmp_path / 'c'}",
            "bootstrap_samples=10",
            "randomization_trials=10",
        ]
    )
    assert any(line.startswith(str(base)) for line in lines) and str(good) in lines
    assert f"{base} (baseline)" in " ".join(lines)
    scores = [line.split()[0] for line in lines if line.startswith("  ")]
    assert scores.count("chrf") == 2 and scores.count("bleu") == 2


def test_bench_dry_run_summarizes_and_all_lists_every_job(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.chdir(REPO)
    args = ["bench", "-c", "configs/bench/tiny-quick.yaml", "--dry-run", f"output_dir={tmp_path}"]
    summary = narrow(args)
    text = " ".join(" ".join(summary).split())
    assert "7 prepare jobs, 24 cells" in text and "seeds (3) 1, 2, 3" in text
    assert "(4) BARTO tiny (300 steps), T5S tiny (300 steps)" in text
    assert (
        "--all" in text
        and len(summary) < 15
        and "barto-tiny-300-steps__tatoeba-en-es__s2" not in text
    )
    every = narrow([*args, "--all"])
    assert "barto-tiny-300-steps__tatoeba-en-es__s2" in every and len(every) > 10 * len(summary)
    assert not any(tmp_path.iterdir()), "a dry run writes nothing"
