"""The walking skeleton end to end: corpus → tokenizer → pretrain → finetune → predict → score."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from transformers import AutoModelForSeq2SeqLM, AutoTokenizer
from typer.testing import CliRunner

from seq2seq_es.cli import app

runner = CliRunner()


def _run(args: list[str]) -> str:
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    return result.output


def test_pipeline_end_to_end_on_tiny_generated_data(tiny_data: Path, tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    # Generated word salad has no sentence punctuation: C4 line cleaning would drop it all.
    _run(
        [
            "corpus",
            f"input={tiny_data / 'pretrain'}",
            f"output_dir={runs / 'corpus'}",
            "length.min_chars=20",
            "lines.enabled=false",
        ]
    )
    stats = json.loads((runs / "corpus" / "stats.json").read_text(encoding="utf-8"))
    length_step = stats["steps"]["length"]
    assert length_step["dropped"]["too_short"]["docs"] == 1 and length_step["docs_out"] == 300
    rejects = list((runs / "corpus" / "rejects").rglob("*.jsonl.gz"))
    assert rejects, "the dropped document is kept in rejects/"

    _run(
        [
            "tokenizer",
            f"input={runs / 'corpus' / 'shards'}",
            f"output_dir={runs / 'tok'}",
            "vocab_size=400",
        ]
    )
    tokenizer = AutoTokenizer.from_pretrained(str(runs / "tok"))
    text = "¿Dónde está el niño? ¡Qué día!"
    assert tokenizer.decode(tokenizer(text)["input_ids"], skip_special_tokens=True) == text

    _run(
        [
            "pretrain",
            f"data={runs / 'corpus' / 'shards'}",
            f"tokenizer={runs / 'tok'}",
            f"output_dir={runs / 'pre'}",
            "seq_len=32",
            "validation_blocks=4",
            "optim.steps=30",
            "optim.batch_size=8",
            "optim.warmup_steps=3",
        ]
    )
    summary = json.loads((runs / "pre" / "summary.json").read_text(encoding="utf-8"))
    losses = [
        json.loads(line)["loss"]
        for line in (runs / "pre" / "metrics.jsonl").read_text().splitlines()
    ]
    assert losses[-1] < losses[0], "pretraining loss goes down"
    assert 1_000_000 < summary["parameters"] < 5_000_000
    info = json.loads((runs / "pre" / "run_info.json").read_text(encoding="utf-8"))
    assert info["versions"]["transformers"] and "commit" in info["git"]
    assert (
        yaml.safe_load((runs / "pre" / "config.yaml").read_text(encoding="utf-8"))["seq_len"] == 32
    )
    AutoModelForSeq2SeqLM.from_pretrained(
        str(runs / "pre" / "model")
    )  # loads with plain transformers

    task = tiny_data / "copy_task.yaml"
    finetuned = _run(
        [
            "finetune",
            f"task={task}",
            f"data_dir={tiny_data}",
            f"model={runs / 'pre' / 'model'}",
            f"output_dir={runs / 'ft'}",
            "optim.steps=40",
            "optim.batch_size=8",
            "optim.lr=2e-3",
        ]
    )
    assert f"model: {runs / 'ft' / 'model'} " in finetuned, "finetune says where its model is"
    scores = json.loads((runs / "ft" / "scores.json").read_text(encoding="utf-8"))
    assert (
        "model_dir" not in scores and scores["n"] == 16 and {"bleu", "chrf", "rouge"} <= set(scores)
    )
    assert "nrefs:1" in scores["bleu"]["signature"]

    _run(
        [
            "predict",
            f"task={task}",
            f"data_dir={tiny_data}",
            f"model={runs / 'ft' / 'model'}",
            f"output={runs / 'pred' / 'predictions.jsonl'}",
            "max_examples=5",
        ]
    )
    records = [
        json.loads(line) for line in (runs / "pred" / "predictions.jsonl").read_text().splitlines()
    ]
    assert len(records) == 5 and {"id", "source", "reference", "prediction"} <= set(records[0])
    # 30 + 40 steps cannot teach a 2M-parameter model to copy: it may decode nothing but special
    # tokens.
    output = _run(
        [
            "score",
            "--pred",
            str(runs / "pred" / "predictions.jsonl"),
            "-m",
            "chrf",
            "allow_empty_predictions=true",
        ]
    )
    assert "chrf" in output
    # The predictions belong to a predict run: its folder is not score's to fill, so the scores go
    # to a score/ folder inside it (and the command says where).
    assert (runs / "pred" / "score" / "scores.json").is_file()
    assert not (runs / "pred" / "scores.json").exists()


@pytest.mark.shared_data
def test_demo_on_shared_data_short(shared_data: Path, tmp_path: Path) -> None:
    """The demo command itself on the real Spanish data, with few steps."""
    output = _run(
        [
            "demo",
            "--data",
            str(shared_data),
            f"output_dir={tmp_path / 'demo'}",
            "pretrain.steps=20",
            "finetune.steps=20",
            "max_eval_examples=16",
            "max_train_examples=200",
        ]
    )
    scores = json.loads(
        (tmp_path / "demo" / "finetune" / "scores.json").read_text(encoding="utf-8")
    )
    assert scores["task"] == "tatoeba-en-es" and scores["n"] == 16
    assert "bleu" in output and "chrf" in output
    for stage in ("corpus", "tokenizer", "pretrain", "finetune"):
        assert (tmp_path / "demo" / stage / "run_info.json").is_file()


def test_demo_on_tiny_generated_data_shows_scores_examples_and_curves(
    tiny_data: Path, tmp_path: Path
) -> None:
    """The demo command end to end on generated data: the final screen has what a new user needs."""
    out = tmp_path / "demo"
    args = [
        "demo",
        "--data",
        str(tiny_data),
        "corpus_file=pretrain/corpus.jsonl",
        "corpus_overrides=[length.min_chars=20, lines.enabled=false]",
        f"task={tiny_data / 'copy_task.yaml'}",
        f"output_dir={out}",
        "vocab_size=400",
        "seq_len=32",
        "pretrain.steps=20",
        "pretrain.batch_size=8",
        "finetune.steps=20",
        "finetune.batch_size=8",
        "max_eval_examples=16",
        "examples_shown=3",
    ]
    output = _run(args)
    scores = json.loads((out / "finetune" / "scores.json").read_text(encoding="utf-8"))
    assert scores["task"] == "copy" and scores["n"] == 16
    png = (out / "losses.png").read_bytes()
    assert png.startswith(b"\x89PNG") and len(png) > 5_000, "a real picture of the loss curves"
    assert "validation examples" in output and output.count("│") > 10
    first = json.loads(
        (out / "finetune" / "predictions.jsonl").read_text(encoding="utf-8").splitlines()[0]
    )
    assert first["reference"][:20] in output.replace("\n", " ") or first["source"][:10] in output
    assert "bleu:" in output and "95% bootstrap interval" in output
    flat = output.replace("\n", "")  # a long path may be wrapped at the terminal's width
    assert "what next:" in output and "seq2seq-es finetune" in output
    assert str(out / "losses.png") in flat
    for command in (
        "seq2seq-es finetune",
        "seq2seq-es predict",
        "seq2seq-es export",
        "seq2seq-es serve",
    ):
        assert command in flat, f"what next names `{command}`"

    before = (out / "finetune" / "scores.json").read_bytes()
    changed = runner.invoke(app, [*args[:-1], "examples_shown=2"])
    assert changed.exit_code == 2 and "examples_shown" in changed.output, changed.output
    assert (out / "finetune" / "scores.json").read_bytes() == before, (
        "a refused demo leaves the earlier one alone"
    )

    # Each stage went through its own command's claim: the same demo again continues this one,
    # and the finished trainings are nothing to do (not redone), their results read back.
    scores_written = (out / "finetune" / "scores.json").stat().st_mtime_ns
    again = _run(args)
    assert again.count("nothing to do") == 2, again
    assert (out / "finetune" / "scores.json").stat().st_mtime_ns == scores_written
    assert "bleu" in again and "what next:" in again
