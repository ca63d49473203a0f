import json
import pickle
from pathlib import Path

import numpy as np
import pytest

from seq2seq_es.errors import DataError
from seq2seq_es.tokenizer.bpe import train_byte_level_bpe
from seq2seq_es.training.token_stream import TokenBlocks, build_token_stream


@pytest.fixture(scope="module")
def tokenizer(tiny_data: Path):  # type: ignore[no-untyped-def]
    from seq2seq_es.corpus.text_files import iter_texts

    return train_byte_level_bpe(iter_texts(tiny_data / "pretrain"), vocab_size=400)


def test_stream_is_documents_joined_by_eos(tokenizer, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    corpus = tmp_path / "c.jsonl"
    corpus.write_text(
        json.dumps({"text": "hola niño"}) + "\n" + json.dumps({"text": "¿qué tal?"}) + "\n",
        encoding="utf-8",
    )
    path, meta = build_token_stream(corpus, "text", tokenizer, tmp_path / "out", max_tokens=10_000)
    tokens = np.fromfile(path, dtype=meta["dtype"]).tolist()
    expected = [
        *tokenizer("hola niño", add_special_tokens=False)["input_ids"],
        tokenizer.eos_token_id,
        *tokenizer("¿qué tal?", add_special_tokens=False)["input_ids"],
        tokenizer.eos_token_id,
    ]
    assert tokens == expected and meta["documents"] == 2


def test_reused_until_the_corpus_changes(tokenizer, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    corpus = tmp_path / "c.jsonl"
    corpus.write_text(json.dumps({"text": "uno dos tres"}) + "\n", encoding="utf-8")
    path, first = build_token_stream(corpus, "text", tokenizer, tmp_path / "out", 10_000)
    stamp = path.stat().st_mtime_ns
    build_token_stream(corpus, "text", tokenizer, tmp_path / "out", 10_000)
    assert path.stat().st_mtime_ns == stamp, "same corpus and tokenizer: not rebuilt"
    corpus.write_text(json.dumps({"text": "uno dos tres cuatro cinco"}) + "\n", encoding="utf-8")
    _, second = build_token_stream(corpus, "text", tokenizer, tmp_path / "out", 10_000)
    assert second["tokens"] > first["tokens"]


def test_blocks_are_contiguous_slices_and_pickle(
    tokenizer, tiny_data: Path, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    path, meta = build_token_stream(tiny_data / "pretrain", "text", tokenizer, tmp_path, 5_000)
    assert meta["tokens"] == 5_000
    stream = np.fromfile(path, dtype=meta["dtype"])
    blocks = TokenBlocks(path, meta["dtype"], 30, first=2, count=5)
    assert len(blocks) == 5
    assert blocks[1].tolist() == stream[90:120].tolist()
    clone = pickle.loads(pickle.dumps(blocks))
    assert clone[4].tolist() == blocks[4].tolist()
    with pytest.raises(IndexError):
        blocks[5]


def test_empty_corpus(tokenizer, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    corpus = tmp_path / "empty.jsonl"
    corpus.write_text(json.dumps({"text": "   "}) + "\n", encoding="utf-8")
    with pytest.raises(DataError, match="no text"):
        build_token_stream(corpus, "text", tokenizer, tmp_path / "out", 100)
