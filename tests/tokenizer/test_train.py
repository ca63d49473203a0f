"""The ``tokenizer`` stage and command: both kinds, saved folders that AutoTokenizer loads."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from transformers import AutoTokenizer
from typer.testing import CliRunner

from seq2seq_es.cli import app
from seq2seq_es.errors import DataError
from seq2seq_es.tokenizer.config import TokenizerConfig
from seq2seq_es.tokenizer.train import run_tokenizer

runner = CliRunner()


@pytest.mark.parametrize(("kind", "vocab_size"), [("bpe", 400), ("unigram", 600)])
def test_run_tokenizer_saves_a_loadable_folder_and_keeps_other_files(
    kind: str, vocab_size: int, spanish_jsonl: Path, tmp_path: Path
) -> None:
    out = tmp_path / kind
    out.mkdir()
    (out / "config.yaml").write_text("kept: true\n", encoding="utf-8")
    summary = run_tokenizer(
        TokenizerConfig(
            input=str(spanish_jsonl), output_dir=str(out), kind=kind, vocab_size=vocab_size
        )
    )
    assert (out / "config.yaml").read_text(encoding="utf-8") == "kept: true\n"
    assert json.loads((out / "summary.json").read_text(encoding="utf-8")) == summary
    assert summary["vocab_size"] == vocab_size and summary["trained_on"]["texts"] == 400
    tokenizer = AutoTokenizer.from_pretrained(str(out))
    assert len(tokenizer) == vocab_size
    text = "¿Dónde está el pingüino? ¡Kiwi 😀!"
    ids = tokenizer(text)["input_ids"]
    assert tokenizer.unk_token_id not in ids
    assert tokenizer.decode(ids, skip_special_tokens=True) == text
    if kind == "bpe":
        assert summary["special_token_ids"] == {"bos": 0, "pad": 1, "eos": 2, "unk": 3, "mask": 4}
        assert tokenizer("la <mask> casa", add_special_tokens=False)["input_ids"][1] == 4
    else:
        assert summary["special_token_ids"] == {"pad": 0, "eos": 1, "unk": 2}
        assert summary["sentinel_ids"] == {
            "<extra_id_0>": 599,
            "min": 500,
            "max": 599,
            "count": 100,
        }
        assert tokenizer.convert_tokens_to_ids("<extra_id_99>") == 500
        reloaded = tokenizer("la <extra_id_0> casa", add_special_tokens=False)["input_ids"]
        assert tokenizer.convert_ids_to_tokens(reloaded) == ["▁la", "<extra_id_0>", "▁casa"]


def test_normalization_is_applied_at_encoding_time(spanish_jsonl: Path, tmp_path: Path) -> None:
    run_tokenizer(
        TokenizerConfig(input=str(spanish_jsonl), output_dir=str(tmp_path), vocab_size=400)
    )
    tokenizer = AutoTokenizer.from_pretrained(str(tmp_path))
    assert tokenizer("nin\u0303o")["input_ids"] == tokenizer("niño")["input_ids"]


def test_max_chars_is_the_sample_size(spanish_jsonl: Path, tmp_path: Path) -> None:
    summary = run_tokenizer(
        TokenizerConfig(
            input=str(spanish_jsonl), output_dir=str(tmp_path), vocab_size=400, max_chars=3000
        )
    )
    assert (
        3000 <= summary["trained_on"]["chars"] < 3000 + 2000 and summary["trained_on"]["texts"] < 10
    )


def test_empty_corpus_writes_no_tokenizer(tmp_path: Path) -> None:
    empty = tmp_path / "empty.jsonl"
    empty.write_text('{"text": "   "}\n', encoding="utf-8")
    with pytest.raises(DataError, match="empty"):
        run_tokenizer(
            TokenizerConfig(input=str(empty), output_dir=str(tmp_path / "out"), kind="unigram")
        )
    assert not (tmp_path / "out" / "tokenizer.json").exists()


def test_cli_trains_a_unigram_and_prints_its_ids(spanish_jsonl: Path, tmp_path: Path) -> None:
    result = runner.invoke(
        app,
        [
            "tokenizer",
            f"input={spanish_jsonl}",
            f"output_dir={tmp_path}",
            "kind=unigram",
            "vocab_size=600",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "sentinel_ids" in result.output and "unigram" in result.output
    assert (tmp_path / "run_info.json").is_file() and (tmp_path / "tokenizer.json").is_file()


def test_cli_shows_progress_reading_the_sample_and_learning(
    spanish_jsonl: Path, tmp_path: Path
) -> None:
    """Issue 39: training a tokenizer printed nothing until the end. Outside a terminal (a log
    file, this runner) Rich prints the bar once, finished, so a log holds one line per phase."""
    result = runner.invoke(
        app, ["tokenizer", f"input={spanish_jsonl}", f"output_dir={tmp_path}", "vocab_size=400"]
    )
    assert result.exit_code == 0, result.output
    chars = json.loads((tmp_path / "summary.json").read_text(encoding="utf-8"))["trained_on"]
    reading = next(line for line in result.output.splitlines() if "reading texts" in line)
    assert f"{chars['chars']}/{chars['chars']}" in reading and "characters read" in reading
    learning = next(line for line in result.output.splitlines() if "learning the vocab" in line)
    assert "1/1" in learning and "tokens" in learning
    assert "\x1b[" not in result.output, "no terminal control codes in a log"


def test_cli_vocab_too_small_is_a_clear_error(spanish_jsonl: Path, tmp_path: Path) -> None:
    result = runner.invoke(
        app, ["tokenizer", f"input={spanish_jsonl}", f"output_dir={tmp_path}", "vocab_size=100"]
    )
    assert result.exit_code == 2
    assert "byte alphabet" in result.output and "Traceback" not in result.output


@pytest.mark.parametrize("kind", ["bpe", "unigram"])
def test_configured_normalization_reaches_the_saved_tokenizer(
    kind: str, spanish_jsonl: Path, tmp_path: Path
) -> None:
    """normalization=none keeps decomposed text as is; nfkc also folds compatibility characters."""
    vocab_size = 400 if kind == "bpe" else 600
    for form in ("none", "nfkc"):
        out = tmp_path / form
        run_tokenizer(
            TokenizerConfig(
                input=str(spanish_jsonl),
                output_dir=str(out),
                kind=kind,
                vocab_size=vocab_size,
                normalization=form,
            )
        )
        tokenizer = AutoTokenizer.from_pretrained(str(out))
        same = tokenizer("nin\u0303o ²")["input_ids"] == tokenizer("niño 2")["input_ids"]
        assert same == (form == "nfkc")
