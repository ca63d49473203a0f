"""Reading and writing the JSONL files that stages exchange, safely.

Why a module of its own: every stage reads JSONL (optionally gzip-compressed) and
must fail with an error that names the file and line, never a raw traceback; and
every stage writes outputs that must never be left half-written, so writes go to a
temporary file in the same folder and are renamed into place (atomic on POSIX).
"""

from __future__ import annotations

import contextlib
import gzip
import io
import json
import os
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO, Any, cast

from seq2seq_es.errors import DataError


def _open_text(path: Path) -> IO[str]:
    raw = gzip.open(path, "rb") if path.name.endswith(".gz") else open(path, "rb")  # noqa: SIM115
    return io.TextIOWrapper(cast(IO[bytes], raw), encoding="utf-8", errors="strict", newline="\n")


def iter_jsonl(path: str | Path, required: Iterable[str] = ()) -> Iterator[dict[str, Any]]:
    """Yield one dict per non-empty line of a JSONL(.gz) file.

    Raises ``DataError`` naming the file and line for a missing file, bytes that are
    not UTF-8, a line that is not a JSON object, or a record without a required key.
    """
    path = Path(path)
    required = tuple(required)
    if not path.is_file():
        raise DataError(f"{path}: file not found. Check the path (or pass --data / data_dir).")
    line_no = 0
    try:
        with _open_text(path) as handle:
            for line_no, line in enumerate(handle, start=1):
                if not line.strip():
                    continue
                try:
                    record = json.loads(line)
                except json.JSONDecodeError as exc:
                    raise DataError(
                        f"{path}:{line_no}: not valid JSON ({exc.msg} at column {exc.colno}). "
                        "Each line must be one JSON object; fix or remove this line."
                    ) from None
                if not isinstance(record, dict):
                    raise DataError(
                        f"{path}:{line_no}: expected a JSON object, got {type(record).__name__}."
                    )
                missing = [key for key in required if key not in record]
                if missing:
                    raise DataError(
                        f"{path}:{line_no}: missing field(s) {missing}; "
                        f"this file needs {list(required)} on every line."
                    )
                yield record
    except UnicodeDecodeError as exc:
        raise DataError(
            f"{path}: line {line_no + 1} is not UTF-8 ({exc.reason} at byte {exc.start}). "
            "Re-encode the file as UTF-8, e.g. `iconv -f latin1 -t utf-8`."
        ) from None
    except (OSError, EOFError) as exc:
        if isinstance(exc, FileNotFoundError):
            raise
        raise DataError(f"{path}: cannot read ({exc}). Is the file truncated or not gzip?") from None


def read_jsonl(path: str | Path, required: Iterable[str] = ()) -> list[dict[str, Any]]:
    """Read a whole JSONL(.gz) file; see ``iter_jsonl`` for the errors."""
    return list(iter_jsonl(path, required))


@contextlib.contextmanager
def atomic_write(path: str | Path, mode: str = "w") -> Iterator[IO[Any]]:
    """Open a temporary file beside ``path``; rename it onto ``path`` only on success.

    Gzip-compresses when ``path`` ends in ``.gz``. On any exception the temporary file
    is deleted and ``path`` is untouched, so a reader never sees a partial output.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        encoding = None if "b" in mode else "utf-8"
        if path.name.endswith(".gz"):
            gz_mode = mode if "b" in mode else mode + "t"
            with gzip.open(tmp, gz_mode, encoding=encoding) as handle:
                yield cast(IO[Any], handle)
        else:
            with open(tmp, mode, encoding=encoding) as handle:
                yield handle
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_jsonl(path: str | Path, records: Iterable[dict[str, Any]]) -> int:
    """Write records as JSONL (UTF-8, not ASCII-escaped) atomically; return the count."""
    count = 0
    with atomic_write(path) as handle:
        for record in records:
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")
            count += 1
    return count


def write_json(path: str | Path, data: Any) -> None:
    """Write one JSON document atomically (pretty, UTF-8)."""
    with atomic_write(path) as handle:
        json.dump(data, handle, ensure_ascii=False, indent=2)
        handle.write("\n")


@contextlib.contextmanager
def atomic_dir(path: str | Path) -> Iterator[Path]:
    """Yield a temporary folder beside ``path``; swap it into place on success.

    Used for ``save_pretrained`` folders and checkpoints: a crash mid-save leaves the
    previous folder (if any) intact and no partial folder under the final name.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent))
    try:
        yield tmp
        if path.exists():
            old = path.with_name(f".{path.name}.old")
            shutil.rmtree(old, ignore_errors=True)
            os.replace(path, old)
            os.replace(tmp, path)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
