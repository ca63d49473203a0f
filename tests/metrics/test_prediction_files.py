"""Bad input gives a DataError naming the file and the line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from seq2seq_es.errors import DataError
from seq2seq_es.metrics.prediction_files import read_scoring_input
from seq2seq_es.metrics.scoring import score_predictions


def _jsonl(path: Path, records: list[dict]) -> Path:
    path.write_text(
        "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8"
    )
    return path


def _error(*args, **kwargs) -> str:
    with pytest.raises(DataError) as info:
        read_scoring_input(*args, **kwargs)
    return str(info.value)


def test_inline_references_and_sources(tmp_path: Path) -> None:
    path = _jsonl(
        tmp_path / "p.jsonl",
        [
            {"id": "a", "prediction": "hola", "reference": "hola", "source": "hello"},
            {"id": "b", "prediction": "adiós", "references": ["adiós", "chao"], "source": "bye"},
        ],
    )
    data = read_scoring_input(path)
    assert data.references == [["hola"], ["adiós", "chao"]] and data.sources == ["hello", "bye"]


def test_separate_references_are_joined_on_id(tmp_path: Path) -> None:
    pred = _jsonl(
        tmp_path / "p.jsonl", [{"id": "2", "prediction": "b"}, {"id": "1", "prediction": "a"}]
    )
    refs = _jsonl(
        tmp_path / "r.jsonl",
        [{"id": "1", "reference": "A"}, {"id": "2", "references": ["B", "BB"]}],
    )
    assert read_scoring_input(pred, refs).references == [["B", "BB"], ["A"]]


def test_missing_and_unanswered_ids(tmp_path: Path) -> None:
    pred = _jsonl(
        tmp_path / "p.jsonl", [{"id": "1", "prediction": "a"}, {"id": "9", "prediction": "b"}]
    )
    refs = _jsonl(
        tmp_path / "r.jsonl", [{"id": "1", "reference": "A"}, {"id": "2", "reference": "B"}]
    )
    assert "p.jsonl:2: id '9' has no reference in" in _error(pred, refs)
    pred = _jsonl(tmp_path / "p.jsonl", [{"id": "1", "prediction": "a"}])
    assert "r.jsonl:2: reference id '2' has no prediction" in _error(pred, refs)


def test_record_without_id_or_reference(tmp_path: Path) -> None:
    pred = _jsonl(
        tmp_path / "p.jsonl",
        [{"id": "1", "prediction": "a", "reference": "a"}, {"prediction": "b"}],
    )
    assert "p.jsonl:2: missing field(s) ['id']" in _error(pred)
    pred = _jsonl(tmp_path / "p.jsonl", [{"id": "1", "prediction": "a"}])
    assert "p.jsonl:1: missing field 'reference'" in _error(pred)


def test_duplicate_id_and_non_string_prediction(tmp_path: Path) -> None:
    pred = _jsonl(
        tmp_path / "p.jsonl",
        [
            {"id": "1", "prediction": "a", "reference": "a"},
            {"id": "1", "prediction": "b", "reference": "b"},
        ],
    )
    assert "p.jsonl:2: id '1' already used on line 1" in _error(pred)
    pred = _jsonl(tmp_path / "p.jsonl", [{"id": "1", "prediction": None, "reference": "a"}])
    assert "p.jsonl:1: field 'prediction' must be a string" in _error(pred)


def test_line_numbers_count_blank_lines(tmp_path: Path) -> None:
    pred = tmp_path / "p.jsonl"
    pred.write_text(
        '{"id": "1", "prediction": "a", "reference": "a"}\n\n{"id": "2", "prediction": 3}\n',
        encoding="utf-8",
    )
    assert "p.jsonl:3:" in _error(pred)


def test_text_files_with_different_line_counts(tmp_path: Path) -> None:
    hyp, ref = tmp_path / "hyp.txt", tmp_path / "ref.txt"
    hyp.write_text("a\nb\nc\n", encoding="utf-8")
    ref.write_text("a\nb\n", encoding="utf-8")
    assert "hyp.txt has 3 lines but" in _error(hyp, ref) and "ref.txt has 2" in _error(hyp, ref)
    assert "needs a references file" in _error(hyp)


def test_empty_file_and_all_empty_predictions(tmp_path: Path) -> None:
    empty = tmp_path / "empty.jsonl"
    empty.write_text("", encoding="utf-8")
    assert "no predictions to score" in _error(empty)
    blank = _jsonl(
        tmp_path / "blank.jsonl",
        [{"id": str(i), "prediction": " ", "reference": "x"} for i in range(3)],
    )
    assert "all 3 predictions are empty" in _error(blank)
    assert read_scoring_input(blank, allow_all_empty=True).empty_predictions == 3
    assert (
        score_predictions(blank, ["rouge"], bootstrap_samples=0)["rouge"]["rouge1"] == 0.0
    )  # fine-tuning's default
    some = _jsonl(
        tmp_path / "some.jsonl",
        [
            {"id": "1", "prediction": "", "reference": "x"},
            {"id": "2", "prediction": "x", "reference": "x"},
        ],
    )
    assert read_scoring_input(some).empty_predictions == 1


def test_non_utf8_names_file_and_line(tmp_path: Path) -> None:
    pred = tmp_path / "latin.jsonl"
    pred.write_bytes(
        b'{"id": "1", "prediction": "a", "reference": "a"}\n'
        + '{"id": "2", "prediction": "año", "reference": "a"}\n'.encode("latin-1")
    )
    assert "latin.jsonl:2: not UTF-8" in _error(pred)
    hyp, ref = tmp_path / "hyp.txt", tmp_path / "ref.txt"
    hyp.write_bytes("niño\n".encode("latin-1"))
    ref.write_text("niño\n", encoding="utf-8")
    assert "hyp.txt:1: not UTF-8" in _error(hyp, ref)


def test_sari_needs_sources_and_unknown_metric(tmp_path: Path) -> None:
    pred = _jsonl(tmp_path / "p.jsonl", [{"id": "1", "prediction": "a", "reference": "a"}])
    with pytest.raises(DataError, match="need the source text"):
        score_predictions(pred, ["sari"])
    with pytest.raises(DataError, match="Valid metrics"):
        score_predictions(pred, ["rouge-l"])
