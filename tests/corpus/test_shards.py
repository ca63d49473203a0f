"""The shard writer: gzip at the configured level, readable by gzip, the same bytes on a rerun."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest
from datatrove.data import Document

from seq2seq_es.corpus.shards import GzipJsonlWriter


def _write(folder: Path, level: int, docs: list[Document]) -> bytes:
    with GzipJsonlWriter(str(folder), "${rank}.jsonl.gz", level) as writer:
        for doc in docs:
            writer.write(doc, rank=3)
    return (folder / "00003.jsonl.gz").read_bytes()


def test_levels_trade_size_and_reruns_write_the_same_bytes(tmp_path: Path) -> None:
    docs = [
        Document(text=f"Documento número {i}: " + "la casa de la pradera, " * (i % 40), id=f"d{i}")
        for i in range(300)
    ]
    fast, small = _write(tmp_path / "1", 1, docs), _write(tmp_path / "9", 9, docs)
    assert len(fast) > len(small)
    assert _write(tmp_path / "again", 1, docs) == fast  # header time stamp 0: reproducible
    records = [json.loads(line) for line in gzip.decompress(fast).splitlines()]
    assert [(r["id"], r["text"]) for r in records] == [(d.id, d.text) for d in docs]
    assert gzip.decompress(small) == gzip.decompress(fast)


def test_a_bad_level_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="gzip level"):
        GzipJsonlWriter(str(tmp_path), "${rank}.jsonl.gz", 0)


def test_document_record_is_datatroves_record(tmp_path: Path) -> None:
    from datatrove.data import Media
    from datatrove.pipeline.writers import JsonlWriter
    from datatrove.pipeline.writers.disk_base import DiskWriter

    from seq2seq_es.corpus.shards import document_record

    writer = JsonlWriter(str(tmp_path))
    docs = [
        Document(
            text="hola", id="a", metadata={"language": "es", "score": 0.5, "nested": {"k": [1, 2]}}
        ),
        Document(text="adiós", id="b"),
        Document(text="", id="c", metadata={"x": 1}),
        Document(text="con imagen", id="d", media=[Media(id="m", type=0, url="file://x")]),
    ]
    for doc in docs:
        assert document_record(writer, doc) == DiskWriter._default_adapter(writer, doc)
