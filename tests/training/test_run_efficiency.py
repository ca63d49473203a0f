"""summary.json states the whole run's throughput and MFU, and the peak it divided by."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from seq2seq_es.cli import app

PEAK = 2e11  # FLOP/s, set explicitly: no probe, a known denominator


def test_summary_has_the_whole_runs_mfu_between_its_windows(
    tiny_pretrain: list[str], tmp_path: Path
) -> None:
    out = tmp_path / "run"
    result = CliRunner().invoke(
        app,
        [
            "pretrain",
            *tiny_pretrain,
            "engine.measure_mfu=true",
            f"engine.peak_flops={PEAK}",
            "engine.log_every=3",
            "engine.eval_every=3",
            "optim.steps=9",
            f"output_dir={out}",
        ],
    )
    assert result.exit_code == 0, result.output
    # The peak and its source are recorded, and printed only with --verbose (issue 39).
    assert "MFU peak" not in result.output
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    windows = [
        json.loads(line)
        for line in (out / "metrics.jsonl").read_text().splitlines()
        if "tflops" in line
    ]
    assert len(windows) == 3
    assert summary["peak_flops"] == PEAK and summary["peak_source"].startswith("engine.peak_flops")
    assert summary["mfu"] == pytest.approx(summary["tflops"] * 1e12 / PEAK)
    # The run's FLOPs over its tokens is a token-weighted mean of the windows' FLOPs per token.
    per_token = [w["tflops"] / w["tokens_per_s"] for w in windows]
    assert (
        min(per_token) * 0.999
        <= summary["tflops"] / summary["tokens_per_s"]
        <= max(per_token) * 1.001
    )
    # Over the run's whole time (evaluations and the final checkpoint after the last window
    # included), so never faster than the fastest window.
    assert 0 < summary["tflops"] <= max(w["tflops"] for w in windows) * 1.001


def test_a_run_without_a_known_peak_reports_mfu_unknown_and_how_to_get_one(
    tiny_pretrain: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The default (measure_mfu on, no engine.peak_flops) on a CPU whose peak `bench-peak` never
    measured: the run does not probe, records MFU as unknown and, with --verbose, says in one
    line how to get a peak."""
    from seq2seq_es.training.flops import NO_PEAK_HINT

    monkeypatch.setenv("HOME", str(tmp_path / "home"))  # an empty peak cache
    out = tmp_path / "run"
    args = [a for a in tiny_pretrain if not a.startswith("engine.measure_mfu")]
    result = CliRunner().invoke(
        app, ["--verbose", "pretrain", *args, "optim.steps=2", f"output_dir={out}"]
    )
    assert result.exit_code == 0, result.output
    assert NO_PEAK_HINT in " ".join(result.output.split())
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert summary["mfu"] is None and summary["peak_flops"] is None and summary["tflops"] > 0
    assert summary["peak_source"].startswith("unknown")
    assert not (tmp_path / "home").exists(), "nothing probed, nothing cached"
