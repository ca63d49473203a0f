"""``seq2seq-es model info | bert2bert | to-led`` end to end on tiny local checkpoints."""

from __future__ import annotations

import json
from pathlib import Path

import huggingface_hub.constants
import pytest
from transformers import AutoModelForSeq2SeqLM, EncoderDecoderModel, LEDForConditionalGeneration
from typer.testing import CliRunner

from seq2seq_es.cli import app
from seq2seq_es.models.info import model_info

runner = CliRunner()


def _ok(args: list[str]) -> str:
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    return result.output


def test_info_on_presets_prints_paper_sizes() -> None:
    output = _ok(["model", "info", "barto-base"])
    assert "139,419,648" in output and "~140M" in output and "50,264" in output
    rows = model_info("t5s-base")
    assert rows["parameters"] == "247,577,856" and rows["LM head tied to embeddings"] is False
    assert rows["ffn"] == "2048 (gated-gelu)" and rows["dropout"] == 0.0
    bert = model_info("bert-tiny")  # encoder-only: no decoder, no generation settings
    assert bert["class"] == "BertForMaskedLM" and bert["decoder layers"] == "none (encoder-only)"
    assert (bert["encoder layers"], bert["heads"], bert["ffn"], bert["positions"]) == (
        2,
        4,
        512,
        512,
    )
    assert "generation" not in bert


def test_info_on_a_folder_shows_tokenizer_and_special_tokens(bart_dir: Path) -> None:
    rows = model_info(bart_dir)
    assert rows["class"] == "BartForConditionalGeneration"
    assert (
        rows["pad"] == "1 (<pad>)"
        and rows["eos"] == "2 (</s>)"
        and rows["decoder start"] == "2 (</s>)"
    )
    assert rows["mask"] == "4 (<mask>)" and "300 tokens" in rows["tokenizer"]


@pytest.mark.filterwarnings("ignore:Version v4.12.0 introduces:FutureWarning")
def test_bert2bert_command_writes_a_loadable_shared_model(bert_dir: Path, tmp_path: Path) -> None:
    _ok(["model", "bert2bert", str(bert_dir), "--output", str(tmp_path / "b2b"), "--share"])
    assert isinstance(EncoderDecoderModel.from_pretrained(tmp_path / "b2b"), EncoderDecoderModel)
    assert json.loads((tmp_path / "b2b" / "warm_start.json").read_text())["share"] is True
    rows = model_info(tmp_path / "b2b")
    assert rows["shared encoder/decoder"] is True
    assert rows["decoder start"] == "2 ([CLS])" and rows["eos"] == "3 ([SEP])"
    assert "num_beams=4" in rows["generation"] and "length_penalty=2.0" in rows["generation"]


def test_to_led_command_and_info(bart_dir: Path, tmp_path: Path) -> None:
    output = _ok(
        [
            "model",
            "to-led",
            str(bart_dir),
            "--output",
            str(tmp_path / "led"),
            "--max-positions",
            "1024",
            "--attention-window",
            "32",
        ]
    )
    assert "LED" in output
    assert isinstance(
        AutoModelForSeq2SeqLM.from_pretrained(tmp_path / "led"), LEDForConditionalGeneration
    )
    rows = model_info(tmp_path / "led")
    assert rows["positions"] == "encoder 1024, decoder 64" and rows["attention window"] == "32"


def test_info_errors_are_one_line_without_traceback(bert_dir: Path, tmp_path: Path) -> None:
    for target, expected in (
        (bert_dir, "not a sequence-to-sequence"),
        (tmp_path / "missing", "no such model folder"),
    ):
        result = runner.invoke(app, ["model", "info", str(target)])
        assert result.exit_code == 2
        assert expected in result.output and "Traceback" not in result.output


def test_info_on_a_misspelt_preset_says_did_you_mean_instead_of_asking_the_hub(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)  # before: a Hub error
    result = runner.invoke(app, ["model", "info", "barto-tinny"])
    text = " ".join(result.output.split())
    assert result.exit_code == 2, result.output
    assert "Did you mean 'barto-tiny'?" in text and "Hub" in text and "Traceback" not in text
