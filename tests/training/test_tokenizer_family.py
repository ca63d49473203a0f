"""A model is never trained through another family's tokenizer: ``pretrain`` and ``finetune``
refuse the pair before any work (``families.check_tokenizer_family``, one rule)."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from seq2seq_es.cli import app
from seq2seq_es.errors import ConfigError
from seq2seq_es.models.families import FAMILIES, check_tokenizer_family
from seq2seq_es.models.loading import save_seq2seq
from seq2seq_es.models.presets import build_model
from seq2seq_es.tokenizer.save import load_tokenizer_folder

runner = CliRunner()


def refusal(result_output: str) -> str:
    """The message as one line (the console wraps it)."""
    return " ".join(result_output.split())


def test_finetune_refuses_a_bart_preset_through_a_t5_tokenizer(
    finetune_settings: list[str], tiny_unigram_tokenizer: Path, tmp_path: Path
) -> None:
    out = tmp_path / "ft"
    result = runner.invoke(
        app,
        [
            "finetune",
            *finetune_settings,
            "model=barto-tiny",
            f"tokenizer={tiny_unigram_tokenizer}",
            "optim.steps=1",
            f"output_dir={out}",
        ],
    )
    text = refusal(result.output)
    assert result.exit_code == 2, result.output
    assert "model=barto-tiny is a BART model" in text and str(tiny_unigram_tokenizer) in text
    assert "unigram tokenizer" in text and "Traceback" not in text
    assert not out.exists()


def test_finetune_refuses_a_bart_folder_through_a_t5_tokenizer(
    finetune_settings: list[str],
    tiny_tokenizer: Path,
    tiny_unigram_tokenizer: Path,
    tmp_path: Path,
) -> None:
    """``tokenizer=`` beside a model folder replaces the folder's own, so it is checked too."""
    tokenizer = load_tokenizer_folder(tiny_tokenizer)
    model = save_seq2seq(build_model("barto-tiny", tokenizer), tokenizer, tmp_path / "bart")
    out = tmp_path / "ft"
    result = runner.invoke(
        app,
        [
            "finetune",
            *finetune_settings,
            f"model={model}",
            f"tokenizer={tiny_unigram_tokenizer}",
            "optim.steps=1",
            f"output_dir={out}",
        ],
    )
    text = refusal(result.output)
    assert result.exit_code == 2, result.output
    assert f"model={model} is a BART model" in text and str(tiny_unigram_tokenizer) in text
    assert not out.exists()


def test_pretrain_refuses_a_t5_preset_through_a_bpe_tokenizer(
    tiny_pretrain: list[str], tmp_path: Path
) -> None:
    out = tmp_path / "pt"
    result = runner.invoke(
        app, ["pretrain", *tiny_pretrain, "model=t5s-tiny", "optim.steps=1", f"output_dir={out}"]
    )
    text = refusal(result.output)
    assert result.exit_code == 2, result.output
    assert "model=t5s-tiny is a T5 model" in text and "bpe tokenizer" in text, text
    assert not out.exists()


@pytest.mark.parametrize("family", ["bart", "t5"])
def test_a_tokenizer_of_the_familys_kind_passes_and_the_other_kind_does_not(
    family: str, tiny_tokenizer: Path, tiny_unigram_tokenizer: Path
) -> None:
    own, other = (
        (tiny_tokenizer, tiny_unigram_tokenizer)
        if family == "bart"
        else (tiny_unigram_tokenizer, tiny_tokenizer)
    )
    check_tokenizer_family(FAMILIES[family], load_tokenizer_folder(own), "m", str(own))
    with pytest.raises(ConfigError, match="tokenizer="):
        check_tokenizer_family(FAMILIES[family], load_tokenizer_folder(other), "m", str(other))
