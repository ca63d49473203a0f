"""README lines that describe behaviour, checked against the code that has it (they drifted:
the demo's corpus row named 3 of its 8 steps, ``score``'s row and ``predict resume=true``)."""

from __future__ import annotations

import json
from pathlib import Path

from seq2seq_es.commands.demo import DemoConfig
from seq2seq_es.corpus.config import CorpusConfig
from seq2seq_es.inference.config import TextPredictConfig
from seq2seq_es.metrics.config import ScoreConfig

README = Path(__file__).parents[1] / "README.md"


def table_row(first_cell: str) -> str:
    """The README table row whose first cell is ``first_cell``."""
    rows = [line for line in README.read_text(encoding="utf-8").splitlines() if line[:1] == "|"]
    found = [row for row in rows if row.split("|")[1].strip() == first_cell]
    assert len(found) == 1, f"no single README row {first_cell!r}"
    return found[0]


def test_the_demo_corpus_row_names_every_step_the_demo_runs() -> None:
    assert DemoConfig().corpus_overrides == []  # the demo runs the corpus command's defaults
    corpus = CorpusConfig()
    steps = {
        "normalisation": corpus.normalize,
        "length filter": True,
        "language ID": corpus.language.enabled,
        "line cleaning": corpus.lines.enabled,
        "repetition": corpus.repetition.enabled,
        "quality": corpus.quality.enabled,
        "exact": corpus.dedup.exact,
        "MinHash": corpus.dedup.minhash,
    }
    row = table_row("corpus")
    assert {step for step, on in steps.items() if on} == {step for step in steps if step in row}


def test_the_predict_row_says_how_a_stopped_run_continues() -> None:
    assert "resume" in TextPredictConfig.model_fields
    assert "`resume=true`" in table_row("`seq2seq-es predict`")


def test_the_score_row_says_where_scores_go(tmp_path: Path) -> None:
    row = table_row("`seq2seq-es score`")
    plain = tmp_path / "plain" / "predictions.jsonl"
    plain.parent.mkdir()
    assert ScoreConfig(predictions=str(plain)).output_path() == plain.parent / "scores.json"
    run = tmp_path / "run"
    run.mkdir()
    (run / "config.yaml").write_text("task: copy\n")
    (run / "run_info.json").write_text(json.dumps({"command": "finetune"}))
    predictions = str(run / "predictions.jsonl")
    assert ScoreConfig(predictions=predictions).output_path() == run / "score" / "scores.json"
    assert "next to the predictions" in row and "`score/scores.json` in their folder" in row
    assert "`output=FILE`" in row
