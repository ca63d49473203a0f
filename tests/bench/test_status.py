"""What a rerun does with each step: skip, resume (only from checkpoints), or start over."""

from __future__ import annotations

from pathlib import Path

from seq2seq_es.bench.grid import Job, Step
from seq2seq_es.bench.status import job_state, new_status, step_action

TRAIN = Step("finetune", ("finetune",), "h1", output="finetune", resumable=True)
SCORE = Step("score", ("score",), "h2")


def test_actions(tmp_path: Path) -> None:
    done = {"hash": "h1", "state": "done"}
    interrupted = {"hash": "h1", "state": "running"}
    assert step_action(None, TRAIN, tmp_path, False) == "fresh"
    assert step_action(done, TRAIN, tmp_path, False) == "fresh", "done, but its output is gone"
    (tmp_path / "finetune").mkdir()
    assert step_action(done, TRAIN, tmp_path, False) == "skip"
    assert step_action(done, TRAIN, tmp_path, True) == "fresh", (
        "an earlier step ran again: new inputs"
    )
    assert step_action(interrupted, TRAIN, tmp_path, False) == "fresh", "nothing to resume from"
    (tmp_path / "finetune" / "checkpoints" / "step-00000100").mkdir(parents=True)
    assert step_action(interrupted, TRAIN, tmp_path, False) == "resume"
    assert step_action({"hash": "h1", "state": "failed"}, TRAIN, tmp_path, False) == "resume"
    assert step_action({"hash": "other", "state": "running"}, TRAIN, tmp_path, False) == "fresh", (
        "settings changed"
    )
    assert step_action({"hash": "h2", "state": "running"}, SCORE, tmp_path, False) == "fresh", (
        "not resumable"
    )


def test_job_states(tmp_path: Path) -> None:
    job = Job("cell", "c", str(tmp_path), (TRAIN, SCORE))
    assert job_state(job, None, online=True) == "pending"
    status = new_status(job)
    status["state"] = "running"
    status["steps"] = {"finetune": {"hash": "h1", "state": "running"}}
    assert job_state(job, status, online=True) == "interrupted"
    (tmp_path / "finetune" / "checkpoints" / "step-1").mkdir(parents=True)
    assert job_state(job, status, online=True) == "resume"
    status["steps"] = {
        "finetune": {"hash": "h1", "state": "done"},
        "score": {"hash": "h2", "state": "done"},
    }
    assert job_state(job, status, online=False) == "done"
    assert (
        job_state(
            Job("cell", "n", str(tmp_path / "n"), (SCORE,), network=("model x",)), None, False
        )
        == "needs network"
    )
    status["hash"] = "old"
    status["steps"]["score"]["hash"] = "old"
    assert job_state(job, status, online=True) == "changed"
