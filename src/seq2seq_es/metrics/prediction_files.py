"""Read what is scored: predictions with their references (and sources), checked.

Two layouts are accepted:

* ``predictions.jsonl`` as written by ``seq2seq-es predict`` — one JSON object per
  line with ``id``, ``prediction`` and ``reference`` or ``references`` (a list), and
  ``source`` (needed by SARI) — optionally with references in a separate JSONL file
  of ``id`` + ``reference``/``references`` (+ ``source``), joined on ``id``;
* plain text: one prediction per line, and a references text file with the
  reference on the same line (what the ``sacrebleu`` command reads).

Every problem a user can cause raises ``DataError`` naming the file and the line:
missing or duplicate ids, a prediction without a reference and the reverse, line
count mismatch, a missing or non-string field, bytes that are not UTF-8, an empty
file, and (unless allowed) a file whose predictions are all empty (decoding went wrong).
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from seq2seq_es.errors import DataError


@dataclass(frozen=True)
class ScoringInput:
    """Aligned predictions, references and (when present) sources of one system."""

    path: Path
    ids: list[str]
    predictions: list[str]
    references: list[list[str]]
    sources: list[str] | None
    lines: list[int]

    @property
    def empty_predictions(self) -> int:
        return sum(1 for p in self.predictions if not p.strip())


def _is_jsonl(path: Path) -> bool:
    return path.name.endswith((".jsonl", ".jsonl.gz", ".json"))


def read_text_lines(path: str | Path) -> list[str]:
    """Lines of a UTF-8 text file (without the newline); errors name file and line."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: file not found. Check the path.")
    lines = []
    for number, raw in enumerate(path.read_bytes().split(b"\n"), start=1):
        try:
            lines.append(raw.decode("utf-8").rstrip("\r"))
        except UnicodeDecodeError as exc:
            raise DataError(
                f"{path}:{number}: not UTF-8 ({exc.reason} at byte {exc.start} of the line). "
                "Re-encode the file as UTF-8, e.g. `iconv -f latin1 -t utf-8`."
            ) from None
    if lines and lines[-1] == "":
        lines.pop()
    return lines


def _string(value: Any, path: Path, line: int, field: str) -> str:
    if not isinstance(value, str):
        raise DataError(
            f"{path}:{line}: field {field!r} must be a string, got {type(value).__name__}."
        )
    return value


def _references_of(record: dict[str, Any], path: Path, line: int) -> list[str] | None:
    if "references" in record and record["references"] is not None:
        refs = record["references"]
        if not isinstance(refs, list) or not refs:
            raise DataError(f"{path}:{line}: 'references' must be a non-empty list of strings.")
        return [_string(r, path, line, "references") for r in refs]
    if "reference" in record:
        return [_string(record["reference"], path, line, "reference")]
    return None


def _records(path: Path, required: tuple[str, ...]) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, record) of each non-blank line of a JSONL(.gz) file.

    Like ``files.iter_jsonl`` (same errors), but keeps the line number of every record,
    so that a later problem (a duplicate id, an id with no reference) can name it.
    """
    opener = gzip.open if path.name.endswith(".gz") else open
    try:
        with opener(path, "rb") as handle:
            raw_lines = handle.read().split(b"\n")
    except (OSError, EOFError) as exc:
        raise DataError(
            f"{path}: cannot read ({exc}). Is the file truncated or not gzip?"
        ) from None
    for number, raw in enumerate(raw_lines, start=1):
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise DataError(
                f"{path}:{number}: not UTF-8 ({exc.reason} at byte {exc.start} of the line). "
                "Re-encode the file as UTF-8, e.g. `iconv -f latin1 -t utf-8`."
            ) from None
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise DataError(
                f"{path}:{number}: not valid JSON ({exc.msg} at column {exc.colno}). "
                "Each line must be one JSON object; fix or remove this line."
            ) from None
        if not isinstance(record, dict):
            raise DataError(
                f"{path}:{number}: expected a JSON object, got {type(record).__name__}."
            )
        missing = [key for key in required if key not in record]
        if missing:
            raise DataError(
                f"{path}:{number}: missing field(s) {missing}; every line needs {list(required)}."
            )
        yield number, record


def _read_jsonl_predictions(path: Path, references_path: Path | None) -> ScoringInput:
    ids, predictions, refs, sources, lines = [], [], [], [], []
    seen: dict[str, int] = {}
    for line, record in _records(path, ("id", "prediction")):
        key = str(record["id"])
        if key in seen:
            raise DataError(
                f"{path}:{line}: id {key!r} already used on line {seen[key]}; ids must be unique."
            )
        seen[key] = line
        ids.append(key)
        lines.append(line)
        predictions.append(_string(record["prediction"], path, line, "prediction"))
        sources.append(record.get("source"))
        if references_path is None:
            found = _references_of(record, path, line)
            if found is None:
                raise DataError(
                    f"{path}:{line}: missing field 'reference' (or 'references'); "
                    "add it, or pass the references as a separate file (--ref)."
                )
            refs.append(found)
    if not ids:
        raise DataError(f"{path}: no predictions to score (the file is empty).")
    if references_path is not None:
        refs, sources = _join_references(path, ids, lines, references_path)
    checked_sources = [s for s in sources if isinstance(s, str)]
    have_sources = len(checked_sources) == len(sources)
    return ScoringInput(
        path, ids, predictions, refs, checked_sources if have_sources else None, lines
    )


def _join_references(
    path: Path, ids: list[str], lines: list[int], references_path: Path
) -> tuple[list[list[str]], list[Any]]:
    by_id: dict[str, tuple[int, list[str], Any]] = {}
    for line, record in _records(references_path, ("id",)):
        key = str(record["id"])
        if key in by_id:
            raise DataError(
                f"{references_path}:{line}: id {key!r} already used on line {by_id[key][0]}."
            )
        found = _references_of(record, references_path, line)
        if found is None:
            raise DataError(
                f"{references_path}:{line}: missing field 'reference' (or 'references')."
            )
        by_id[key] = (line, found, record.get("source"))
    missing = [(key, line) for key, line in zip(ids, lines, strict=True) if key not in by_id]
    if missing:
        key, line = missing[0]
        raise DataError(
            f"{path}:{line}: id {key!r} has no reference in {references_path} "
            f"({len(missing)} of {len(ids)} predictions have none; {len(by_id)} references)."
        )
    extra = sorted((entry[0], key) for key, entry in by_id.items() if key not in set(ids))
    if extra:
        line, key = extra[0]
        raise DataError(
            f"{references_path}:{line}: reference id {key!r} has no prediction in {path} "
            f"({len(extra)} references unanswered; {len(ids)} predictions, {len(by_id)} "
            "references)."
        )
    return [by_id[key][1] for key in ids], [by_id[key][2] for key in ids]


def _read_text_predictions(path: Path, references_path: Path | None) -> ScoringInput:
    if references_path is None:
        raise DataError(
            f"{path}: a plain-text predictions file needs a references file (--ref REFS.txt)."
        )
    if _is_jsonl(references_path):
        raise DataError(
            f"{references_path}: with plain-text predictions the references must be plain text "
            "too, one reference per line."
        )
    predictions, references = read_text_lines(path), read_text_lines(references_path)
    if not predictions:
        raise DataError(f"{path}: no predictions to score (the file is empty).")
    if len(predictions) != len(references):
        raise DataError(
            f"{path} has {len(predictions)} lines but {references_path} has {len(references)}; "
            "line k of the predictions must answer line k of the references."
        )
    numbers = list(range(1, len(predictions) + 1))
    return ScoringInput(
        path, [str(n) for n in numbers], predictions, [[r] for r in references], None, numbers
    )


def read_scoring_input(
    predictions: str | Path, references: str | Path | None = None, allow_all_empty: bool = False
) -> ScoringInput:
    """Load and check one system's predictions against its references.

    A file whose predictions are *all* empty is an error unless ``allow_all_empty``
    (fine-tuning evaluates early, barely trained models that may output nothing);
    some empty predictions are always allowed and counted (``empty_predictions``).
    """
    path = Path(predictions)
    references_path = Path(references) if references is not None else None
    if not path.is_file():
        raise DataError(
            f"{path}: file not found. Check the path (e.g. runs/predict/predictions.jsonl)."
        )
    if references_path is not None and not references_path.is_file():
        raise DataError(f"{references_path}: references file not found. Check the path.")
    data = (
        _read_jsonl_predictions(path, references_path)
        if _is_jsonl(path)
        else _read_text_predictions(path, references_path)
    )
    if data.empty_predictions == len(data.predictions) and not allow_all_empty:
        raise DataError(
            f"{path}: all {len(data.predictions)} predictions are empty strings; "
            "decoding probably failed (check max_new_tokens and the model). "
            "To score them anyway, pass allow_empty_predictions=true."
        )
    return data
