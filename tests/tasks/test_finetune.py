"""finetune → eval → eval-matrix end to end on tiny generated data (random-init tiny preset)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from transformers import AutoModelForSeq2SeqLM, AutoTokenizer
from typer.testing import CliRunner

from seq2seq_es.cli import app
from seq2seq_es.corpus.text_files import iter_texts
from seq2seq_es.inference.config import TextPredictConfig
from seq2seq_es.inference.predict_texts import predict_texts
from seq2seq_es.models.model_card import card_task
from seq2seq_es.tasks.finetune import BestTracker
from seq2seq_es.tokenizer.bpe import train_byte_level_bpe
from seq2seq_es.tokenizer.save import save_tokenizer

runner = CliRunner()


@pytest.fixture(scope="module")
def tokenizer_dir(tiny_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("tok")
    save_tokenizer(train_byte_level_bpe(iter_texts(tiny_data / "pretrain"), vocab_size=400), folder)
    return folder


def _ok(args: list[str]) -> str:
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    return result.output


def test_best_tracker_patience() -> None:
    tracker = BestTracker(patience=2)
    assert tracker.update(1.0, 10) and not tracker.update(0.5, 20)
    assert not tracker.should_stop()
    assert not tracker.update(1.0, 30) and tracker.should_stop() and tracker.best_step == 10


def test_selection_early_stopping_eval_and_matrix(
    tiny_data: Path, tokenizer_dir: Path, tmp_path: Path
) -> None:
    task = str(tiny_data / "copy_task.yaml")
    out = tmp_path / "ft"
    _ok(
        [
            "finetune",
            f"task={task}",
            f"data_dir={tiny_data}",
            "model=barto-tiny",
            f"tokenizer={tokenizer_dir}",
            f"output_dir={out}",
            "optim.steps=40",
            "optim.batch_size=8",
            "optim.lr=3e-3",
            "engine.eval_every=5",
            "patience=1",
            "selection_examples=8",
            "bootstrap_samples=50",
            "engine.measure_mfu=false",
            "generation.num_beams=2",  # over the task's greedy: the folder must say so
        ]
    )
    scores = json.loads((out / "scores.json").read_text(encoding="utf-8"))
    assert scores["decoding"] == {
        "num_beams": 2,
        "max_new_tokens": 32,
        "length_penalty": 1.0,
        "no_repeat_ngram_size": 0,
    }
    assert_the_folder_decodes_as_it_was_scored(out)
    selection = scores["training"]["selection"]
    assert selection["metric"] == "chrf.score" and selection["best"] is not None
    evaluations = [
        json.loads(line)
        for line in (out / "metrics.jsonl").read_text().splitlines()
        if "validation_chrf.score" in line
    ]
    assert evaluations, "selection ran during training"
    if scores["training"]["steps"] < 40:
        assert selection["evaluations_without_improvement"] >= 1, (
            "stopped early only after no improvement"
        )
    assert (out / "model" / "config.json").is_file() and not (out / "best_model").exists()
    run_info = json.loads((out / "run_info.json").read_text(encoding="utf-8"))
    assert run_info["attn_implementation"] == "sdpa"
    assert "ci" in scores["chrf"] and scores["n"] == 16
    nll = scores["nll"]  # teacher-forced validation loss, with its interval
    assert (
        nll["nll_per_token"] > 0
        and nll["ci"]["nll_per_token"][0] <= nll["nll_per_token"] <= nll["ci"]["nll_per_token"][1]
    )
    assert "nll" not in json.loads((out / "selection.scores.json").read_text(encoding="utf-8"))

    _ok(
        [
            "eval",
            f"task={task}",
            f"data_dir={tiny_data}",
            f"model={out / 'model'}",
            f"output_dir={tmp_path / 'ev'}",
            "max_examples=4",
            "bootstrap_samples=20",
        ]
    )
    evaluated = json.loads((tmp_path / "ev" / "scores.json").read_text(encoding="utf-8"))
    assert evaluated["n"] == 4 and evaluated["split"] == "validation"

    output = _ok(
        [
            "eval-matrix",
            f"models=[{out / 'model'}]",
            f"tasks=[{task}]",
            f"data_dir={tiny_data}",
            f"output_dir={tmp_path / 'mx'}",
            "max_examples=4",
            "bootstrap_samples=20",
        ]
    )
    assert "copy (chrf.score)" in output
    matrix = json.loads((tmp_path / "mx" / "matrix.json").read_text(encoding="utf-8"))
    assert matrix["cells"][str(out / "model")]["copy"]["metric"] == "chrf.score"


def assert_the_folder_decodes_as_it_was_scored(run: Path) -> None:
    """``from_pretrained(run/model).generate()`` alone, and ``predict`` on the folder, give the
    predictions ``finetune`` scored; the card names the task."""
    folder = run / "model"
    records = [json.loads(line) for line in (run / "predictions.jsonl").read_text().splitlines()]
    stored = json.loads((folder / "generation_config.json").read_text())
    assert (stored["num_beams"], stored["max_new_tokens"]) == (2, 32)
    assert json.loads((folder / "tokenizer_config.json").read_text())["model_max_length"] == 32
    assert card_task(folder) == "copy"
    model = AutoModelForSeq2SeqLM.from_pretrained(folder)
    tokenizer = AutoTokenizer.from_pretrained(folder)
    sources = sorted((r["source"] for r in records), key=len)  # one length-sorted batch, as eval
    with torch.inference_mode():
        generated = model.generate(
            **tokenizer(sources, truncation=True, padding=True, return_tensors="pt")
        )
    plain = dict(
        zip(sources, tokenizer.batch_decode(generated, skip_special_tokens=True), strict=True)
    )
    assert [plain[r["source"]].strip() for r in records] == [r["prediction"] for r in records]
    texts = run / "sources.txt"
    texts.write_text("".join(r["source"] + "\n" for r in records), encoding="utf-8")
    predicted = predict_texts(
        TextPredictConfig(model=str(folder), input=str(texts), output=str(run / "own.jsonl"))
    )
    assert predicted["written"] == len(records)
    own = [json.loads(line)["output"] for line in (run / "own.jsonl").read_text().splitlines()]
    assert own == [r["prediction"] for r in records]


def test_evaluation_only_task_cannot_be_trained(
    tmp_path: Path, shared_data: Path, tokenizer_dir: Path
) -> None:
    result = runner.invoke(
        app,
        [
            "finetune",
            "task=ntrex-es-en",
            f"data_dir={shared_data}",
            "model=barto-tiny",
            f"tokenizer={tokenizer_dir}",
            f"output_dir={tmp_path / 'x'}",
        ],
    )
    assert result.exit_code == 2 and "evaluation-only" in result.output
