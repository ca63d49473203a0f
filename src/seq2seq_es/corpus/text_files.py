"""Find and stream the ``text`` field of JSONL(.gz) files: the corpus shard format.

Stages after the corpus stage (tokenizer, pretraining) read shards through here, so
the shard format is defined in one place: one JSON object per line with a text field.
"""

from __future__ import annotations

from collections.abc import Iterator
from itertools import chain
from pathlib import Path

from seq2seq_es.errors import DataError
from seq2seq_es.files import iter_jsonl

JSONL_SUFFIXES = (".jsonl", ".jsonl.gz")


def list_jsonl_files(path: str | Path) -> list[Path]:
    """One file, or every ``*.jsonl[.gz]`` file under a folder (sorted, recursive)."""
    path = Path(path)
    if path.is_file():
        return [path]
    if not path.is_dir():
        raise DataError(
            f"{path}: no such file or folder. Pass a JSONL(.gz) file or a folder of them."
        )
    files = sorted(
        p
        for p in path.rglob("*")
        if p.is_file() and p.name.endswith(JSONL_SUFFIXES) and not p.name.startswith(".")
    )
    if not files:
        raise DataError(f"{path}: folder holds no *.jsonl or *.jsonl.gz files.")
    return files


def _file_texts(file: Path, text_key: str) -> Iterator[str]:
    for record in iter_jsonl(file, required=(text_key,)):
        text = record[text_key]
        if not isinstance(text, str):
            raise DataError(
                f"{file}: field {text_key!r} must be a string, got {type(text).__name__}."
            )
        if text.strip():
            yield text


def iter_texts(path: str | Path, text_key: str = "text") -> Iterator[str]:
    """Yield the non-empty text of every record of every JSONL file under ``path``, file by file."""
    return chain.from_iterable(_file_texts(file, text_key) for file in list_jsonl_files(path))


def iter_texts_interleaved(path: str | Path, text_key: str = "text") -> Iterator[str]:
    """Like ``iter_texts``, but one text from each file in turn (round robin).

    Why: the corpus stage writes one shard per input source, so a prefix of ``iter_texts``
    is a prefix of the first sources only (theatre and novels, no parliament or law). A
    prefix of this stream mixes every shard, yet it still streams and is deterministic.
    """
    streams = [_file_texts(file, text_key) for file in list_jsonl_files(path)]
    while streams:
        alive = []
        for stream in streams:
            text = next(stream, None)
            if text is not None:
                yield text
                alive.append(stream)
        streams = alive
