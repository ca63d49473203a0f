"""Running grids for real: CLI subprocesses, caching, failures, resume, submitit, the commands
file."""

from __future__ import annotations

import json
import random
import shutil
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest
from tests.bench.conftest import system_predictions
from tests.conftest import spanish_like_text

from seq2seq_es.bench.config import BenchConfig
from seq2seq_es.bench.grid import expand
from seq2seq_es.bench.job import job_lock, run_job
from seq2seq_es.bench.runner import run_bench
from seq2seq_es.bench.status import read_status

# A cheap real cell: `seq2seq-es score` on a system's prediction file (named by the row's `model`).
SCORE_PIPELINE = [
    {
        "name": "score",
        "argv": [
            "score",
            "predictions={model}",
            "metrics=[chrf]",
            "output={cell_dir}/scores.json",
            "bootstrap_samples=20",
        ],
    }
]


def score_grid(out: Path, task_dir: Path, models: dict[str, Path], **changes: Any) -> BenchConfig:
    return BenchConfig.model_validate(
        {
            "name": "cheap",
            "output_dir": str(out),
            "data_dir": str(task_dir),
            "models": [{"name": name, "model": str(path)} for name, path in models.items()],
            "tasks": [str(task_dir / "copy_task.yaml")],
            "seeds": [1],
            "pipeline": SCORE_PIPELINE,
            "plots": {"enabled": False},
            "leaderboard": {"samples": 50},
            "network": "offline",
            **changes,
        }
    )


def touched(folder: Path) -> dict[str, float]:
    """Modification times of a cell's status and logs: unchanged means nothing ran."""
    return {
        str(p): p.stat().st_mtime_ns
        for p in [folder / "status.json", *sorted((folder / "logs").glob("*"))]
    }


def test_second_run_computes_nothing_and_a_changed_setting_reruns_only_its_cell(
    copy_task: Path, tmp_path: Path
) -> None:
    systems = {
        name: system_predictions(copy_task, tmp_path / f"{name}.jsonl", quality, seed)
        for name, quality, seed in (("A", 0.9, 1), ("B", 0.5, 2))
    }
    out = tmp_path / "bench"
    report = run_bench(score_grid(out, copy_task, systems))
    assert {row["id"]: row["state"] for row in report.rows} == {
        "a__copy__s1": "done",
        "b__copy__s1": "done",
    }
    board = json.loads(Path(report.leaderboard["json"]).read_text(encoding="utf-8"))
    assert (
        board["cells"]["A"]["copy:chrf.score"]["best"]
        and not board["cells"]["B"]["copy:chrf.score"]["best"]
    )

    before = {cell: touched(out / "cells" / cell) for cell in ("a__copy__s1", "b__copy__s1")}
    report = run_bench(score_grid(out, copy_task, systems))
    assert {row["state"] for row in report.rows} == {"done"}
    assert {cell: touched(out / "cells" / cell) for cell in before} == before, (
        "the second run ran nothing"
    )

    systems["B"] = system_predictions(
        copy_task, tmp_path / "B2.jsonl", 0.95, 4
    )  # B's setting changes
    report = run_bench(score_grid(out, copy_task, systems))
    after = {cell: touched(out / "cells" / cell) for cell in before}
    assert [cell for cell in before if before[cell] != after[cell]] == ["b__copy__s1"]
    board = json.loads(Path(report.leaderboard["json"]).read_text(encoding="utf-8"))
    assert board["cells"]["B"]["copy:chrf.score"]["best"], (
        "the rerun cell's new scores are on the board"
    )


def test_a_run_of_some_rows_updates_the_whole_leaderboard(copy_task: Path, tmp_path: Path) -> None:
    """`only_models` runs only those rows; the grid's leaderboard still shows every row that is done
    (it was rewritten with the selected rows alone, so another row's best mark moved to them)."""
    systems = {
        name: system_predictions(copy_task, tmp_path / f"{name}.jsonl", quality, seed)
        for name, quality, seed in (("A", 0.9, 1), ("B", 0.5, 2))
    }
    out = tmp_path / "bench"
    run_bench(score_grid(out, copy_task, systems))
    systems["B"] = system_predictions(copy_task, tmp_path / "B2.jsonl", 0.6, 3)
    report = run_bench(score_grid(out, copy_task, systems, only_models=["B"]))
    assert [row["id"] for row in report.rows] == ["b__copy__s1"], "only B's cell is run and listed"
    board = json.loads(Path(report.leaderboard["json"]).read_text(encoding="utf-8"))
    assert board["cells"]["A"]["copy:chrf.score"]["best"], "A is still on the board, still the best"
    assert not board["cells"]["B"]["copy:chrf.score"]["best"]


def test_submitit_local_executor_runs_a_two_cell_grid_and_a_failed_cell_does_not_stop_the_other(
    copy_task: Path, tmp_path: Path
) -> None:
    systems = {
        "A": system_predictions(copy_task, tmp_path / "A.jsonl", 0.9, 1),
        "C": tmp_path / "C.jsonl",
    }  # never written: C's cell fails
    out = tmp_path / "bench"
    report = run_bench(
        score_grid(out, copy_task, systems, executor={"kind": "submitit", "cluster": "local"})
    )
    rows = {row["id"]: row for row in report.rows}
    assert (
        rows["a__copy__s1"]["state"] == "done"
        and (out / "cells" / "a__copy__s1" / "scores.json").is_file()
    )
    failed = rows["c__copy__s1"]
    assert (
        failed["state"] == "failed"
        and "C.jsonl" in failed["error"]
        and Path(failed["log"]).is_file()
    )
    assert list((out / "submitit").rglob("*_log.out")), "the jobs ran through submitit"
    text = Path(report.leaderboard["markdown"]).read_text(encoding="utf-8")
    assert "| c__copy__s1 | failed |" in text and "| A | **" in text


def test_a_cell_another_process_runs_is_left_alone(copy_task: Path, tmp_path: Path) -> None:
    systems = {"A": system_predictions(copy_task, tmp_path / "A.jsonl", 0.9, 1)}
    out = tmp_path / "bench"
    config = score_grid(out, copy_task, systems)
    with job_lock(
        out / "cells" / "a__copy__s1"
    ) as locked:  # as a second `bench` process would see it
        assert locked
        report = run_bench(config)
    assert (
        report.rows[0]["state"] == "busy" and not (out / "cells" / "a__copy__s1" / "logs").exists()
    )


def grid_with_prepare(out: Path, task_dir: Path, system: Path, prepare_input: Path) -> BenchConfig:
    """score_grid with one prepare job (a real `score` of ``prepare_input``) that the cell
    requires."""
    config = score_grid(
        out,
        task_dir,
        {"A": system},
        prepare=[
            {
                "name": "warm",
                "argv": [
                    "score",
                    f"predictions={prepare_input}",
                    "metrics=[chrf]",
                    "output={output}/scores.json",
                    "bootstrap_samples=20",
                ],
            }
        ],
    )
    config.models[0].tokenizer = "{prepare.warm}"  # the cell requires the prepare job
    return config


def test_a_prepare_job_another_process_finishes_unblocks_its_cells_here(
    copy_task: Path, tmp_path: Path
) -> None:
    """Two `bench` processes on one grid: the second passes the prepare job the first is running
    (busy), and by the time it reaches the cells that need it, the first has finished it: the
    cells run here instead of being marked blocked on a stale view."""
    system = system_predictions(copy_task, tmp_path / "A.jsonl", 0.9, 1)
    out = tmp_path / "bench"
    config = grid_with_prepare(out, copy_task, system, system)
    prepare = next(job for job in expand(config).jobs if job.kind == "prepare")
    other_process = ExitStack()
    assert other_process.enter_context(job_lock(out / prepare.folder)), (
        "the first process holds the prepare job"
    )
    seen: list[tuple[str, str]] = []

    def first_process_finishes(event: dict[str, Any]) -> None:
        seen.append((event["id"], event["state"]))
        if event["id"] == prepare.id:
            other_process.close()
            assert run_job(prepare)["state"] == "done"

    report = run_bench(config, on_update=first_process_finishes)
    assert seen == [("warm", "busy"), ("a__copy__s1", "done")]
    assert {row["id"]: row["state"] for row in report.rows} == {
        "warm": "done",
        "a__copy__s1": "done",
    }


def test_a_blocked_cell_another_process_holds_keeps_its_status(
    copy_task: Path, tmp_path: Path
) -> None:
    """A process that finds a cell's prepare job missing must not write "blocked" into a cell
    another process is running (its status is the runner's to write)."""
    out = tmp_path / "bench"
    missing = tmp_path / "missing.jsonl"  # the prepare job fails: its cells are blocked
    config = grid_with_prepare(out, copy_task, tmp_path / "A.jsonl", missing)
    cell = next(job for job in expand(config).jobs if job.kind == "cell")
    with job_lock(out / cell.folder) as locked:
        assert locked
        report = run_bench(config)
    assert {row["id"]: row["state"] for row in report.rows} == {
        "warm": "failed",
        "a__copy__s1": "busy",
    }
    assert read_status(out / cell.folder) is None, "nothing written into the held cell"
    report = run_bench(config)
    assert report.rows[1]["state"] == "blocked" and "warm" in report.rows[1]["error"]


def test_a_cell_blocked_by_an_earlier_run_runs_once_its_prepare_job_is_done(
    copy_task: Path, tmp_path: Path
) -> None:
    """Found running the corpus-quality grid in two processes: a cell one process had marked
    "blocked" (its pretraining was running elsewhere) stayed blocked in every later run, even in
    the process that had just finished that pretraining. A recorded block is re-checked each run."""
    system = system_predictions(copy_task, tmp_path / "A.jsonl", 0.9, 1)
    late = (
        tmp_path / "late.jsonl"
    )  # the prepare job's input does not exist yet: it fails, the cell is blocked
    config = grid_with_prepare(tmp_path / "bench", copy_task, system, late)
    report = run_bench(config)
    assert [row["state"] for row in report.rows] == ["failed", "blocked"]
    shutil.copy(system, late)
    report = run_bench(config)
    assert [row["state"] for row in report.rows] == ["done", "done"], report.rows


@pytest.fixture(scope="module")
def tokenizer_dir(copy_task: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    from seq2seq_es.tokenizer.bpe import train_byte_level_bpe
    from seq2seq_es.tokenizer.save import save_tokenizer

    rng = random.Random(3)
    folder = tmp_path_factory.mktemp("tok")
    save_tokenizer(
        train_byte_level_bpe([spanish_like_text(rng, 30) for _ in range(200)], vocab_size=300),
        folder,
    )
    return folder


def finetune_grid(out: Path, task_dir: Path, tokenizer: Path, **changes: Any) -> BenchConfig:
    """The default pipeline (finetune → score) on a few steps of a random-init tiny BART."""
    return BenchConfig.model_validate(
        {
            "name": "finetune",
            "output_dir": str(out),
            "data_dir": str(task_dir),
            "models": [{"name": "BART random", "model": "barto-tiny", "tokenizer": str(tokenizer)}],
            "tasks": [str(task_dir / "copy_task.yaml")],
            "seeds": [5],
            "finetune": {
                "optim": {"steps": 2, "batch_size": 8, "warmup_steps": 0},
                "engine": {
                    "threads": 1,
                    "checkpoint_every": 1,
                    "measure_mfu": False,
                    "tensorboard": False,
                },
            },
            "evaluation": {"max_examples": 6, "bootstrap_samples": 20},
            "leaderboard": {"samples": 20},
            "plots": {"enabled": False},
            "network": "offline",
            **changes,
        }
    )


def test_default_pipeline_resumes_an_interrupted_cell(
    copy_task: Path, tokenizer_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    out = tmp_path / "bench"
    config = finetune_grid(out, copy_task, tokenizer_dir)
    report = run_bench(config)
    cell = out / "cells" / "bart-random__copy__s5"
    assert report.rows[0]["state"] == "done", report.rows[0]
    assert (cell / "finetune" / "model" / "config.json").is_file() and (
        cell / "scores.json"
    ).is_file()
    board = json.loads(Path(report.leaderboard["json"]).read_text(encoding="utf-8"))
    assert board["cells"]["BART random"]["copy:chrf.score"]["n"] == 6
    assert board["nll"]["BART random"]["copy"]["mean"] > 0, "the reference NLL of the decoded split"

    # an interruption after the last checkpoint, before the model was saved and scored: the step is
    # left "running", its checkpoints stay
    status = json.loads((cell / "status.json").read_text(encoding="utf-8"))
    status["state"] = status["steps"]["finetune"]["state"] = "running"
    (cell / "status.json").write_text(json.dumps(status), encoding="utf-8")
    shutil.rmtree(cell / "finetune" / "model")
    for name in ("scores.json", "predictions.jsonl"):
        (cell / "finetune" / name).unlink()
    dry = run_bench(config.model_copy(update={"dry_run": True}))
    assert dry.rows[0]["state"] == "resume"
    report = run_bench(config)
    log = (cell / "logs" / "finetune.log").read_text(encoding="utf-8")
    assert (
        report.rows[0]["state"] == "done"
        and " finetune --resume " in log
        and "resuming from" in log
    )
    assert (cell / "finetune" / "model" / "config.json").is_file()
    assert read_status(cell)["steps"]["finetune"]["resumed"] is True

    # the same grid written as a commands file: one accelerate launch line per cell, nothing run
    changed = config.model_copy(
        update={
            "seeds": [6],
            "executor": config.executor.model_copy(
                update={"kind": "commands", "accelerate_config": "configs/accelerate/ddp-8gpu.yaml"}
            ),
        }
    )
    report = run_bench(changed)
    lines = Path(report.commands_file or "").read_text(encoding="utf-8").splitlines()
    line = next(line for line in lines if not line.startswith("#") and "finetune" in line)
    assert (
        line.count(
            "accelerate launch --config_file configs/accelerate/ddp-8gpu.yaml -m seq2seq_es.cli "
            "finetune --resume"
        )
        == 1
    )
    assert " -m seq2seq_es.cli score " in line and line.endswith(
        ".done-" + expand(changed).cells[0].hash
    )
    assert (
        report.rows[0]["state"] == "submitted"
        and not (out / "cells" / "bart-random__copy__s6" / "scores.json").exists()
    )
