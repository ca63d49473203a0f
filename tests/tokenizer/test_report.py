"""``tokenizer-report``: tokenizers side by side, with an English baseline trained the same way."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
from typer.testing import CliRunner

from seq2seq_es.cli import app
from seq2seq_es.errors import DataError
from seq2seq_es.files import write_jsonl
from seq2seq_es.tokenizer.config import (
    EnglishBaselineConfig,
    HeldOutText,
    TokenizerConfig,
    TokenizerReportConfig,
)
from seq2seq_es.tokenizer.report import REPORT_FILE, run_tokenizer_report
from seq2seq_es.tokenizer.train import run_tokenizer

from .conftest import spanish_text

ENGLISH_TEXT = (
    "the a man woman child house dog cat book table water city river mountain sea sky sun moon big "
    "small old new good bad fast slow eat drink live write read speak sing dance play work study "
    "walk run where when who what why how is are was were be have has do does not and or but with "
    "without"
)
ENGLISH = ENGLISH_TEXT.split()


@pytest.fixture(scope="module")
def folders(tmp_path_factory: pytest.TempPathFactory, spanish_jsonl: Path) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("report")
    rng = random.Random(3)
    english = [
        {"en": " ".join(rng.choice(ENGLISH) for _ in range(rng.randint(5, 15))) + "."}
        for _ in range(600)
    ]
    write_jsonl(root / "english.jsonl", english)
    heldout = [{"es": spanish_text(rng, 30), "en": english[i]["en"]} for i in range(40)]
    write_jsonl(root / "heldout.jsonl", heldout)
    for kind, vocab_size in (("bpe", 500), ("unigram", 600)):
        run_tokenizer(
            TokenizerConfig(
                input=str(spanish_jsonl),
                output_dir=str(root / kind),
                kind=kind,
                vocab_size=vocab_size,
            )
        )
    return {
        "root": root,
        "bpe": root / "bpe",
        "unigram": root / "unigram",
        "english": root / "english.jsonl",
        "heldout": root / "heldout.jsonl",
    }


def _config(folders: dict[str, Path], out: Path) -> TokenizerReportConfig:
    return TokenizerReportConfig(
        tokenizers={"es-bpe": str(folders["bpe"]), "es-unigram": str(folders["unigram"])},
        english_baseline=EnglishBaselineConfig(input=str(folders["english"]), vocab_size=500),
        heldout=[
            HeldOutText(name="es", path=str(folders["heldout"]), text_key="es"),
            HeldOutText(name="en", path=str(folders["heldout"]), text_key="en", max_texts=10),
        ],
        output_dir=str(out),
    )


def test_report_side_by_side(folders: dict[str, Path], tmp_path: Path) -> None:
    report = run_tokenizer_report(_config(folders, tmp_path))
    assert json.loads((tmp_path / REPORT_FILE).read_text(encoding="utf-8")) == report
    assert set(report["tokenizers"]) == {"es-bpe", "es-unigram", "english-bpe"}
    assert report["tokenizers"]["es-unigram"]["kind"] == "unigram"
    assert report["tokenizers"]["english-bpe"]["trained_on"]["texts"] == 600
    assert (tmp_path / "english-bpe" / "tokenizer.json").is_file()
    assert report["heldout"]["en"]["texts"] == 10
    rows = {(row["tokenizer"], row["heldout"]): row for row in report["results"]}
    assert len(rows) == 6
    for row in rows.values():
        assert row["unk_rate"] == 0.0 and row["round_trip"] == 1.0
    # what a Spanish vocabulary buys: fewer tokens per Spanish word than the English BPE, and vice
    # versa
    assert rows[("es-bpe", "es")]["fertility"] < rows[("english-bpe", "es")]["fertility"]
    assert rows[("english-bpe", "en")]["fertility"] < rows[("es-bpe", "en")]["fertility"]


def test_missing_tokenizer_folder_is_a_clear_error(
    folders: dict[str, Path], tmp_path: Path
) -> None:
    config = _config(folders, tmp_path).model_copy(
        update={"tokenizers": {"x": str(tmp_path / "nowhere")}}
    )
    with pytest.raises(DataError, match=r"no tokenizer\.json"):
        run_tokenizer_report(config)


def test_cli_prints_the_table(folders: dict[str, Path], tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app,
        [
            "tokenizer-report",
            f"tokenizers={{es-bpe: {folders['bpe']}}}",
            "english_baseline=null",
            f"heldout=[{{name: es, path: {folders['heldout']}, text_key: es}}]",
            f"output_dir={tmp_path}",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "tok/word" in result.output and "es-bpe" in result.output
    assert (tmp_path / REPORT_FILE).is_file() and (tmp_path / "run_info.json").is_file()
