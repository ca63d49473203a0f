"""Reading and writing the JSONL files that stages exchange, safely.

Why a module of its own: every stage reads JSONL (optionally gzip-compressed) and
must fail with an error that names the file and line, never a raw traceback; and
every stage writes outputs that must never be left half-written, so writes go to a
temporary file in the same folder and are renamed into place (atomic on POSIX).
"""

from __future__ import annotations

import contextlib
import gzip
import json
import os
import re
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO, Any, cast

from seq2seq_es.errors import DataError


def _open_bytes(path: Path) -> IO[bytes]:
    return cast(IO[bytes], gzip.open(path, "rb") if path.name.endswith(".gz") else open(path, "rb"))


def iter_jsonl_lines(
    path: str | Path, required: Iterable[str] = ()
) -> Iterator[tuple[int, dict[str, Any]]]:
    """Yield ``(line number, record)`` for every non-empty line of a JSONL(.gz) file.

    Raises ``DataError`` naming the file and line for a missing file, bytes that are
    not UTF-8, a line that is not a JSON object, or a record without a required key.
    Each line is decoded on its own: a text decoder reads ahead in blocks, so the line it
    was on when it met a bad byte is not the line that holds it.
    """
    path = Path(path)
    required = tuple(required)
    if not path.is_file():
        raise DataError(
            f"{path}: file not found. Check the path (or the data / data_dir key of the config)."
        )
    try:
        with _open_bytes(path) as handle:
            for line_no, raw in enumerate(handle, start=1):
                try:
                    line = raw.decode("utf-8")
                except UnicodeDecodeError as exc:
                    raise DataError(
                        f"{path}:{line_no}: not UTF-8 ({exc.reason} at byte {exc.start} of the "
                        "line). Re-encode the file as UTF-8, e.g. `iconv -f latin1 -t utf-8`."
                    ) from None
                if not line.strip():
                    continue
                yield line_no, _parse_line(path, line_no, line, required)
    except (OSError, EOFError) as exc:
        if isinstance(exc, FileNotFoundError):
            raise
        raise DataError(
            f"{path}: cannot read ({exc}). Is the file truncated or not gzip?"
        ) from None


def _parse_line(path: Path, line_no: int, line: str, required: tuple[str, ...]) -> dict[str, Any]:
    try:
        record = json.loads(line)
    except json.JSONDecodeError as exc:
        raise DataError(
            f"{path}:{line_no}: not valid JSON ({exc.msg} at column {exc.colno}). "
            "Each line must be one JSON object; fix or remove this line."
        ) from None
    if not isinstance(record, dict):
        raise DataError(f"{path}:{line_no}: expected a JSON object, got {type(record).__name__}.")
    missing = [key for key in required if key not in record]
    if missing:
        raise DataError(
            f"{path}:{line_no}: missing field(s) {missing}; this file needs {list(required)} on "
            "every line."
        )
    return record


def iter_jsonl(path: str | Path, required: Iterable[str] = ()) -> Iterator[dict[str, Any]]:
    """Yield one dict per non-empty line of a JSONL(.gz) file; see ``iter_jsonl_lines`` for the
    errors."""
    for _, record in iter_jsonl_lines(path, required):
        yield record


def read_jsonl(path: str | Path, required: Iterable[str] = ()) -> list[dict[str, Any]]:
    """Read a whole JSONL(.gz) file; see ``iter_jsonl`` for the errors."""
    return list(iter_jsonl(path, required))


def _naming(exc: BaseException, path: Path) -> BaseException:
    """``exc`` as an ``OSError`` that names ``path`` when it has no file name.

    A failed ``write()`` names no file, and libraries written in Rust (safetensors,
    tokenizers) report a full disk as their own exception type saying "(os error 28)";
    both become ``OSError(errno, strerror, path)`` so the CLI can say which file and why.
    """
    if isinstance(exc, OSError):
        if exc.filename is not None or exc.errno is None:
            return exc
        return type(exc)(exc.errno, exc.strerror, str(path))
    found = re.search(r"\(os error (\d+)\)", str(exc))
    if found:
        code = int(found.group(1))
        return OSError(code, os.strerror(code), str(path))
    return exc


def current_umask() -> int:
    """The process's umask, read without changing it where Linux shows it (``/proc``)."""
    try:
        with open("/proc/self/status", encoding="ascii") as handle:
            for line in handle:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)  # elsewhere: set and restore (not thread-safe, but brief)
    os.umask(mask)
    return mask


def set_umask_mode(path: Path, directory: bool) -> None:
    """Give a ``tempfile`` file (0600) or folder (0700) the mode a plain ``open``/``mkdir`` would:
    an output other users and serving containers can read when the umask says so."""
    os.chmod(path, (0o777 if directory else 0o666) & ~current_umask())


@contextlib.contextmanager
def atomic_write(path: str | Path, mode: str = "w") -> Iterator[IO[Any]]:
    """Open a temporary file beside ``path``; rename it onto ``path`` only on success.

    Gzip-compresses when ``path`` ends in ``.gz``. On any exception the temporary file
    is deleted and ``path`` is untouched, so a reader never sees a partial output. An
    ``OSError`` (disk full, file too large, permission) names ``path``.
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as exc:
        raise _naming(exc, path) from None
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        set_umask_mode(tmp, directory=False)
        encoding = None if "b" in mode else "utf-8"
        if path.name.endswith(".gz"):
            gz_mode = mode if "b" in mode else mode + "t"
            with gzip.open(tmp, gz_mode, encoding=encoding) as handle:
                yield cast(IO[Any], handle)
        else:
            with open(tmp, mode, encoding=encoding) as handle:
                yield handle
        os.replace(tmp, path)
    except BaseException as exc:
        tmp.unlink(missing_ok=True)
        named = _naming(exc, path)
        if named is exc:
            raise
        raise named from exc


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
    previous folder (if any) intact and no partial folder under the final name. Replacing
    an existing folder takes two renames (old → ``.<name>.old``, new → ``<name>``); a crash
    between them is repaired by ``remove_leftovers``. An ``OSError`` names ``path``.
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent))
    except OSError as exc:
        raise _naming(exc, path) from None
    try:
        set_umask_mode(tmp, directory=True)
        yield tmp
        if path.exists():
            old = path.with_name(f".{path.name}.old")
            shutil.rmtree(old, ignore_errors=True)
            os.replace(path, old)
            os.replace(tmp, path)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, path)
    except BaseException as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        named = _naming(exc, path)
        if named is exc:
            raise
        raise named from exc


def remove_leftovers(folder: str | Path) -> list[Path]:
    """Delete what killed writers left in ``folder`` (not below it); return what was removed.

    ``atomic_write`` and ``atomic_dir`` write under ``.<name>.<random>.tmp`` and a process
    killed mid-write leaves that behind; ``atomic_dir`` killed between its two renames leaves
    the previous folder as ``.<name>.old`` and nothing under ``<name>``: it is put back.
    Call it only on a folder this run owns (after its output folder was claimed).
    """
    folder = Path(folder)
    if not folder.is_dir():
        return []
    removed = []
    for entry in sorted(folder.iterdir()):
        if not entry.name.startswith("."):
            continue
        if entry.name.endswith(".old") and entry.is_dir():
            original = folder / entry.name[1 : -len(".old")]
            if not original.exists():
                os.replace(entry, original)
                continue
        elif not entry.name.endswith(".tmp"):
            continue
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            entry.unlink(missing_ok=True)
        removed.append(entry)
    return removed
