"""Read the texts a user wants decoded: a plain text file, a JSONL file, or standard input.

Why a module of its own: a user's file is where most ``predict`` failures start (a
Latin-1 line, a JSONL line without the expected field, the same id twice), and each must
stop the run before any model is loaded, with an error naming the file, the line and the
fix. Plain text is one input a line (blank lines are skipped, ids are line numbers, so an
output still points back to its line); JSONL takes the ``text`` field, else ``source``, or
the field named by ``input_key``, and the record's ``id`` when it has one.
"""

from __future__ import annotations

import gzip
import json
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Literal

from seq2seq_es.errors import DataError

InputFormat = Literal["auto", "text", "jsonl"]
STDIN = "-"
TEXT_KEYS = ("text", "source")
JSONL_SUFFIXES = (".jsonl", ".jsonl.gz", ".ndjson")


@dataclass(frozen=True)
class TextInput:
    """One text to decode: its id (a JSONL ``id`` or the line number) and where it came from."""

    id: str | int
    text: str
    line: int


def read_inputs(
    path: str,
    input_format: InputFormat = "auto",
    input_key: str | None = None,
    stdin: IO[bytes] | None = None,
) -> list[TextInput]:
    """Every input of ``path`` (``-``: ``stdin``, by default the process's standard input)."""
    name = "<stdin>" if path == STDIN else path
    if path == STDIN:
        stream = stdin if stdin is not None else sys.stdin.buffer
        lines = list(_decoded_lines(stream, name))
    else:
        lines = list(_decoded_lines_of_file(Path(path)))
    kind = _format_of(path, lines) if input_format == "auto" else input_format
    if input_key is not None and kind != "jsonl":
        raise DataError(
            f"{name}: input_key={input_key} applies to JSONL input, but this input is read as "
            "plain text. Pass input_format=jsonl (or name the file *.jsonl), or drop input_key."
        )
    inputs = list(_jsonl_inputs(lines, name, input_key) if kind == "jsonl" else _text_inputs(lines))
    if not inputs:
        raise DataError(
            f"{name}: no input text found (the input is empty or has only blank lines)."
        )
    return inputs


def _decoded_lines_of_file(path: Path) -> Iterator[tuple[int, str]]:
    if not path.is_file():
        raise DataError(
            f"{path}: file not found. Pass an existing text or JSONL file (or - for stdin)."
        )
    try:
        with gzip.open(path, "rb") if path.name.endswith(".gz") else open(path, "rb") as handle:
            yield from _decoded_lines(handle, str(path))
    except (OSError, EOFError) as exc:
        raise DataError(
            f"{path}: cannot read ({exc}). Is the file truncated, or not gzip despite .gz?"
        ) from None


def _decoded_lines(stream: IO[bytes] | Iterable[bytes], name: str) -> Iterator[tuple[int, str]]:
    """``(line number, text)`` of each line, decoded as UTF-8 one line at a time (exact line in
    errors)."""
    for number, raw in enumerate(stream, start=1):
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise DataError(
                f"{name}:{number}: not UTF-8 ({exc.reason} at byte {exc.start} of the line). "
                "Re-encode the file as UTF-8, e.g. `iconv -f latin1 -t utf-8`."
            ) from None
        if number == 1:
            line = line.removeprefix("\ufeff")
        yield number, line.rstrip("\r\n")


def _format_of(path: str, lines: list[tuple[int, str]]) -> Literal["text", "jsonl"]:
    if path != STDIN:
        return "jsonl" if path.lower().endswith(JSONL_SUFFIXES) else "text"
    first = next((text.lstrip() for _, text in lines if text.strip()), "")
    return "jsonl" if first.startswith("{") else "text"


def _text_inputs(lines: list[tuple[int, str]]) -> Iterator[TextInput]:
    for number, line in lines:
        if line.strip():
            yield TextInput(number, line, number)


def _jsonl_inputs(
    lines: list[tuple[int, str]], name: str, input_key: str | None
) -> Iterator[TextInput]:
    seen: dict[str | int, int] = {}
    for number, line in lines:
        if not line.strip():
            continue
        where = f"{name}:{number}"
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise DataError(
                f"{where}: not valid JSON ({exc.msg} at column {exc.colno}). Each line must be one "
                'JSON object such as {"id": 1, "text": "..."}; for plain text pass '
                "input_format=text."
            ) from None
        if not isinstance(record, dict):
            raise DataError(f"{where}: expected a JSON object, got {type(record).__name__}.")
        text = record.get(_text_key(record, input_key, where))
        if not isinstance(text, str):
            raise DataError(f"{where}: the text must be a string, got {type(text).__name__}.")
        if not text.strip():
            raise DataError(f"{where}: the text is empty; remove the line or give it a text.")
        record_id = record.get("id", number)
        if isinstance(record_id, bool) or not isinstance(record_id, str | int):
            raise DataError(
                f"{where}: 'id' must be a string or an integer, got {type(record_id).__name__}."
            )
        if record_id in seen:
            raise DataError(
                f"{where}: id {record_id!r} was already used on line {seen[record_id]}; ids must "
                "be unique (outputs and resuming are matched by id)."
            )
        seen[record_id] = number
        yield TextInput(record_id, text, number)


def _text_key(record: dict[str, object], input_key: str | None, where: str) -> str:
    if input_key is not None:
        if input_key not in record:
            raise DataError(
                f"{where}: no field {input_key!r} (input_key); this line has {sorted(record)}."
            )
        return input_key
    for key in TEXT_KEYS:
        if key in record:
            return key
    raise DataError(
        f"{where}: no 'text' or 'source' field; this line has {sorted(record)}. "
        "Name the field with input_key=FIELD."
    )
