"""Leaderboard from fixture score files: means over seeds, intervals, best and
not-significantly-different marks."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from tests.bench.conftest import system_predictions

from seq2seq_es.bench.config import BenchConfig
from seq2seq_es.bench.grid import Plan, expand
from seq2seq_es.bench.leaderboard import (
    build_leaderboard,
    format_cell,
    leaderboard_markdown,
    write_leaderboard,
)
from seq2seq_es.bench.status import new_status, write_status
from seq2seq_es.files import write_json
from seq2seq_es.metrics.scoring import score_predictions

QUALITY = {"Strong": 0.9, "Twin": 0.9, "Weak": 0.2}  # share of examples each system copies exactly
TWIN_ERRORS = 1  # Twin: Strong's outputs with one more example wrong per seed


def fixture_config(task_dir: Path, out: Path, seeds: list[int]) -> BenchConfig:
    return BenchConfig.model_validate(
        {
            "name": "fixture",
            "output_dir": str(out),
            "data_dir": str(task_dir),
            "models": [{"name": name, "model": f"{name.lower()}-model"} for name in QUALITY],
            "tasks": [
                {
                    "name": str(task_dir / "copy_task.yaml"),
                    "columns": ["chrf.score", "rouge.rouge1", "rouge-paper.rouge1"],
                }
            ],
            "seeds": seeds,
            "pipeline": [{"name": "score", "argv": ["score", "predictions={model}"]}],
            "published": [
                {
                    "label": "Some paper",
                    "values": {"copy": {"rouge-paper.rouge1": 55.5, "bleu.score": 1.0}},
                }
            ],
            "leaderboard": {"samples": 400},
            "network": "offline",
        }
    )


def write_fixture_cells(plan: Plan, task_dir: Path) -> None:
    """What a finished cell leaves: predictions, scores.json (the score step's), status.json
    done."""
    for job in plan.cells:
        folder = Path(job.folder)
        seed = job.labels["seed"]
        name = job.labels["model"]
        # Strong and Twin share their random draws, so they differ on one example per seed
        predictions = system_predictions(
            task_dir,
            folder / "finetune" / "predictions.jsonl",
            QUALITY[name],
            seed * 100 + (0 if name in ("Strong", "Twin") else 1),
            TWIN_ERRORS if name == "Twin" else 0,
        )
        scores = score_predictions(
            predictions, ["chrf", "rouge", "rouge-paper"], bootstrap_samples=400
        )
        scores["predictions_file"] = str(predictions)
        write_json(folder / "scores.json", scores)
        decoded = dict(
            scores,
            nll={
                "nll_per_token": 2.0 + QUALITY[name],
                "perplexity": 9.0,
                "ci": {"nll_per_token": [1.9, 3.1]},
                "signature": "nll|x",
            },
        )
        write_json(folder / "finetune" / "scores.json", decoded)
        status = new_status(job)
        status["state"] = "done"
        status["steps"] = {s.name: {"hash": s.hash, "state": "done"} for s in job.steps}
        write_status(folder, status)


@pytest.fixture(scope="module")
def fixture_root(
    copy_task: Path, tmp_path_factory: pytest.TempPathFactory
) -> tuple[dict[str, Any], Path]:
    out = tmp_path_factory.mktemp("board")
    config = fixture_config(copy_task, out, [1, 2])
    plan = expand(config, out)
    write_fixture_cells(plan, copy_task)
    return build_leaderboard(config, plan, out), out


@pytest.fixture(scope="module")
def board(fixture_root: tuple[dict[str, Any], Path]) -> dict[str, Any]:
    return fixture_root[0]


def test_means_std_and_intervals_over_seeds(fixture_root: tuple[dict[str, Any], Path]) -> None:
    board, root = fixture_root
    assert not board["missing"]
    assert [c["id"] for c in board["columns"]] == [
        "copy:chrf.score",
        "copy:rouge.rouge1",
        "copy:rouge-paper.rouge1",
    ]
    for row in QUALITY:
        cell = board["cells"][row]["copy:chrf.score"]
        per_seed = [
            json.loads(
                (root / "cells" / f"{row.lower()}__copy__s{seed}" / "scores.json").read_text(
                    "utf-8"
                )
            )["chrf"]["score"]
            for seed in (1, 2)
        ]
        assert cell["mean"] == pytest.approx(np.mean(per_seed))
        assert (
            cell["std"] == pytest.approx(np.std(per_seed, ddof=1))
            and cell["n_seeds"] == 2
            and cell["n"] == 40
        )
        low, high = cell["ci"]
        assert low < high
        rouge = board["cells"][row]["copy:rouge.rouge1"]
        assert rouge["ci"][0] <= rouge["mean"] <= rouge["ci"][1], (
            "ROUGE is a mean: pooled score = mean of seeds"
        )


def test_best_and_significance_marks(board: dict[str, Any]) -> None:
    for column in board["columns"]:
        cells = {row: board["cells"][row][column["id"]] for row in QUALITY}
        assert cells["Strong"]["best"] and not cells["Twin"]["best"] and not cells["Weak"]["best"]
        assert cells["Twin"]["mean"] < cells["Strong"]["mean"], "Twin is slightly worse"
        assert cells["Twin"]["tied"] and cells["Twin"]["p_holm"] >= board["alpha"]
        assert not cells["Weak"]["tied"] and cells["Weak"]["p_holm"] < board["alpha"]
        assert cells["Weak"]["p_holm"] >= cells["Weak"]["p"], "Holm never lowers a p-value"
    text = leaderboard_markdown(board)
    strong = format_cell(board["cells"]["Strong"]["copy:chrf.score"])
    assert strong.startswith("**") and "±" in strong and "[" in strong
    assert "≈" in format_cell(board["cells"]["Twin"]["copy:chrf.score"])
    assert "≈" not in format_cell(board["cells"]["Weak"]["copy:chrf.score"])
    assert "copy ROUGE-1 | copy ROUGE-1 (paper)" in text, (
        "Spanish and paper-compatible ROUGE side by side"
    )
    assert "*Some paper (published, test)*" in text and "*55.50*" in text
    assert "Reference NLL" in text and "2.20 ± 0.00" in text


def test_written_files(board: dict[str, Any], tmp_path: Path) -> None:
    paths = write_leaderboard(board, tmp_path)
    rows = list(csv.DictReader(io.StringIO(paths["csv"].read_text(encoding="utf-8"))))
    models = [r for r in rows if r["kind"] == "model"]
    assert len(models) == 3 * 3 and {r["row"] for r in models} == set(QUALITY)
    assert sum(r["best"] == "True" for r in models) == 3
    published = [r for r in rows if r["kind"].startswith("published")]
    assert {(r["task"], r["score"]) for r in published} == {
        ("copy", "rouge-paper.rouge1"),
        ("copy", "bleu.score"),
    }
    assert json.loads(paths["json"].read_text(encoding="utf-8"))["columns"] == board["columns"]
    assert paths["markdown"].read_text(encoding="utf-8").startswith("# Leaderboard: fixture")


def test_one_seed_interval_is_the_cells_own(copy_task: Path, tmp_path: Path) -> None:
    """With one seed the pooled statistics are the cell's own: same interval as its scores.json."""
    config = fixture_config(copy_task, tmp_path, [3])
    plan = expand(config, tmp_path)
    write_fixture_cells(plan, copy_task)
    board = build_leaderboard(config, plan, tmp_path)
    for row in QUALITY:
        scores = json.loads(
            (tmp_path / "cells" / f"{row.lower()}__copy__s3" / "scores.json").read_text("utf-8")
        )
        cell = board["cells"][row]["copy:chrf.score"]
        assert cell["mean"] == scores["chrf"]["score"] and cell["ci"] == pytest.approx(
            scores["chrf"]["ci"]["score"]
        )
        assert "±" not in format_cell(cell)


def test_unfinished_cells_are_listed_not_scored(copy_task: Path, tmp_path: Path) -> None:
    config = fixture_config(copy_task, tmp_path, [1])
    plan = expand(config, tmp_path)
    write_fixture_cells(plan, copy_task)
    failed = plan.job("weak__copy__s1")
    status = new_status(failed)
    status.update(
        state="failed", error="step score exited 2: error: no such file", log="somewhere.log"
    )
    write_status(Path(failed.folder), status)
    board = build_leaderboard(config, plan, tmp_path)
    assert "copy:chrf.score" not in board["cells"]["Weak"]
    assert board["missing"] == [
        {
            "row": "Weak",
            "task": "copy",
            "cell": "weak__copy__s1",
            "seed": 1,
            "state": "failed",
            "error": "step score exited 2: error: no such file",
            "log": "somewhere.log",
        }
    ]
    assert "| weak__copy__s1 | failed |" in leaderboard_markdown(board)
