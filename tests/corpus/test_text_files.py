"""Streaming the text field of shard folders: file order and round-robin interleaving."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from seq2seq_es.corpus.text_files import iter_texts, iter_texts_interleaved
from seq2seq_es.errors import DataError


def _shard(path: Path, texts: list[str]) -> None:
    path.write_text("".join(json.dumps({"text": t}) + "\n" for t in texts), encoding="utf-8")


def test_interleaving_takes_one_text_of_each_shard_in_turn(tmp_path: Path) -> None:
    _shard(tmp_path / "00000.jsonl", ["a1", "a2", "a3"])
    _shard(tmp_path / "00001.jsonl", ["b1"])
    _shard(tmp_path / "00002.jsonl", ["c1", "  ", "c2"])
    assert list(iter_texts(tmp_path)) == ["a1", "a2", "a3", "b1", "c1", "c2"]
    assert list(iter_texts_interleaved(tmp_path)) == ["a1", "b1", "c1", "a2", "c2", "a3"]


def test_interleaving_names_the_broken_file(tmp_path: Path) -> None:
    _shard(tmp_path / "00000.jsonl", ["a1", "a2"])
    (tmp_path / "00001.jsonl").write_text('{"text": "b1"}\n{"text": 3}\n', encoding="utf-8")
    with pytest.raises(DataError, match=r"00001\.jsonl: field 'text' must be a string"):
        list(iter_texts_interleaved(tmp_path))
