"""The write-safety rule of every command that writes, through the CLI as a user runs it.

Each writing command (``export``, ``model bert2bert|to-led|merge-adapter``, ``score``,
``predict output=``) is pointed at a non-empty folder of someone else, at its own input, at a
folder that holds its input, and at another run's folder: it exits 2 with one paragraph, and
every file that was there is byte-identical afterwards. Its own earlier run (same settings) it
may redo.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import torch
from peft import LoraConfig, TaskType, get_peft_model
from typer.testing import CliRunner

from seq2seq_es.cli import app
from seq2seq_es.models.loading import load_seq2seq
from seq2seq_es.run_record import write_run_record
from seq2seq_es.tasks.config import FinetuneConfig

os.environ.setdefault("HF_HUB_OFFLINE", "1")
runner = CliRunner()


def snapshot(root: Path) -> dict[str, bytes]:
    """Every file under ``root`` with its bytes."""
    return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def refused(args: list[str], root: Path, *words: str) -> str:
    """Run ``args``: exit 2, no traceback, the message has ``words``, nothing under ``root``
    changed."""
    before = snapshot(root)
    result = runner.invoke(app, args)
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    text = " ".join(result.output.split())
    for word in words:
        assert word in text, text
    assert snapshot(root) == before
    return text


def ok(args: list[str]) -> str:
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    return result.output


@pytest.fixture()
def user_folders(tmp_path: Path) -> dict[str, Path]:
    """A user's non-empty folder, and a fine-tuning run's folder (record, model, scores)."""
    notes = tmp_path / "x"
    notes.mkdir()
    (notes / "notes.txt").write_text("keep\n", encoding="utf-8")
    run = tmp_path / "lora"
    write_run_record(run, FinetuneConfig(), "finetune")
    (run / "model").mkdir()
    (run / "model" / "model.safetensors").write_bytes(b"weights")
    (run / "scores.json").write_text('{"chrf": {"score": 50.0}}\n', encoding="utf-8")
    (run / "predictions.jsonl").write_text(
        json.dumps({"id": "1", "prediction": "el niño come", "reference": "el niño come pan"})
        + "\n",
        encoding="utf-8",
    )
    return {"foreign": notes, "run": run}


@pytest.fixture(scope="module")
def adapter_dir(bart_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    model, _ = load_seq2seq(bart_dir)
    torch.manual_seed(0)
    peft_model = get_peft_model(
        model, LoraConfig(task_type=TaskType.SEQ_2_SEQ_LM, r=2, target_modules=["q_proj"])
    )
    folder = tmp_path_factory.mktemp("adapter") / "adapter"
    peft_model.save_pretrained(str(folder))
    return folder


def conversions(bart_dir: Path, bert_dir: Path, adapter_dir: Path) -> dict[str, list[str]]:
    """Each folder-writing command, without its output (appended by the tests)."""
    return {
        "export": ["export", f"model={bart_dir}", "output_dir={out}"],
        "bert2bert": ["model", "bert2bert", str(bert_dir), "--output", "{out}"],
        "to-led": ["model", "to-led", str(bart_dir), "--output", "{out}", "--max-positions", "128"],
        "merge-adapter": ["model", "merge-adapter", str(adapter_dir), "--output", "{out}"],
    }


COMMANDS = ("export", "bert2bert", "to-led", "merge-adapter")


def _with(args: list[str], out: Path) -> list[str]:
    return [arg.replace("{out}", str(out)) for arg in args]


def _input_of(name: str, bart_dir: Path, bert_dir: Path, adapter_dir: Path) -> Path:
    return {"bert2bert": bert_dir, "merge-adapter": adapter_dir}.get(name, bart_dir)


@pytest.mark.parametrize("name", COMMANDS)
def test_folder_writers_refuse_foreign_input_and_other_runs_folders(
    name: str,
    bart_dir: Path,
    bert_dir: Path,
    adapter_dir: Path,
    user_folders: dict[str, Path],
    tmp_path: Path,
) -> None:
    args = conversions(bart_dir, bert_dir, adapter_dir)[name]
    refused(_with(args, user_folders["foreign"]), tmp_path, "not empty", "holds no run record")
    refused(_with(args, user_folders["run"]), tmp_path, "seq2seq-es finetune")
    source = _input_of(name, bart_dir, bert_dir, adapter_dir)
    refused(_with(args, source), source, "this command's input", "would destroy it")
    refused(_with(args, source.parent), source.parent, "holds this command's input")


def test_export_into_its_own_earlier_run_only(
    bart_dir: Path, bert_dir: Path, adapter_dir: Path, tmp_path: Path
) -> None:
    """A new folder, then the same export again (its own run), but not with other settings."""
    args = conversions(bart_dir, bert_dir, adapter_dir)["export"]
    out = tmp_path / "ct2"
    ok(_with(args, out))
    ok(_with(args, out))
    assert (out / "model.bin").is_file() and (out / "config.yaml").is_file()
    refused([*_with(args, out), "quantization=float32"], tmp_path, "other settings", "quantization")


def test_score_never_replaces_a_runs_scores(user_folders: dict[str, Path], tmp_path: Path) -> None:
    run = user_folders["run"]
    kept = (run / "scores.json").read_bytes()
    output = ok(["score", "--pred", str(run / "predictions.jsonl"), "-m", "bleu"])
    assert (run / "scores.json").read_bytes() == kept
    assert "bleu" in json.loads((run / "score" / "scores.json").read_text(encoding="utf-8"))
    assert "score" in output
    pred = str(run / "predictions.jsonl")
    refused(["score", "--pred", pred, f"output={run / 'scores.json'}"], tmp_path, "finetune")
    refused(["score", "--pred", pred, f"output={pred}"], tmp_path, "would destroy it")


def test_predict_never_writes_over_its_input(bart_dir: Path, tmp_path: Path) -> None:
    source = tmp_path / "s.txt"
    source.write_text("el niño come pan\n", encoding="utf-8")
    refused(
        ["predict", f"model={bart_dir}", f"input={source}", f"output={source}"],
        tmp_path,
        "input=",
        "would destroy it",
    )


def test_a_model_folder_used_with_engine_ct2_is_told_a_new_export_folder(
    bart_dir: Path, tmp_path: Path
) -> None:
    """The message once advised `export model=M output_dir=M`, which destroys the model."""
    source = tmp_path / "s.txt"
    source.write_text("el niño come pan\n", encoding="utf-8")
    text = refused(
        ["predict", f"model={bart_dir}", "engine=ct2", f"input={source}"],
        bart_dir,
        "engine=transformers",
    )
    assert f"output_dir={bart_dir} " not in text + " " and f"{bart_dir.name}-ct2" in text
