"""Readers for the corpus stage: JSONL(.gz), Parquet, folders of .txt, Hub datasets.

Why our own JSONL and text readers: datatrove's ``JsonlReader`` logs and skips a line
that is not JSON (nothing in its stats), and a line with non-UTF-8 bytes stops the
whole task. Ours count every unreadable line per reason in the step's stats and write
it to ``rejects/reader/`` so nothing is lost silently; the CLI tells the user.
"""

from __future__ import annotations

import contextlib
import zlib
from collections import Counter
from pathlib import Path
from typing import Any

from datatrove.data import Document, DocumentsPipeline
from datatrove.pipeline.readers import HuggingFaceDatasetReader, JsonlReader, ParquetReader
from datatrove.pipeline.readers.base import BaseDiskReader, BaseReader
from datatrove.pipeline.writers.disk_base import DiskWriter

from seq2seq_es.corpus.config import SourceConfig
from seq2seq_es.corpus.pieces import FilePart, plan_pieces, text_size
from seq2seq_es.errors import DataError

SUFFIXES: dict[str, tuple[str, ...]] = {
    "jsonl": (".jsonl", ".jsonl.gz", ".jsonl.zst", ".json.gz"),
    "parquet": (".parquet",),
    "text": (".txt", ".txt.gz"),
}
DEFAULT_GLOBS = {"jsonl": "**/*.json*", "parquet": "**/*.parquet", "text": "**/*.txt*"}


class RejectingReaderMixin:
    """Count a line or file that cannot be read, and keep it in a reject writer."""

    reject_writer: DiskWriter | None
    _rank: int = 0

    def reject(self, text: str, source: str, where: int | str, reason: str) -> None:
        self.stat_update(f"rejected_{reason}")  # type: ignore[attr-defined]
        self.stat_update(f"chars_rejected_{reason}", value=len(text))  # type: ignore[attr-defined]
        if self.reject_writer is not None:
            doc = Document(
                text=text,
                id=f"{source}:{where}",
                metadata={"filter_reason": reason, "file_path": source, "line": where},
            )
            self.reject_writer.write(doc, self._rank)

    def run_with_rejects(
        self, parent_run: Any, data: DocumentsPipeline, rank: int, world_size: int
    ) -> DocumentsPipeline:
        self._rank = rank
        with self.reject_writer if self.reject_writer else contextlib.nullcontext():
            yield from parent_run(data, rank, world_size)


class SafeJsonlReader(RejectingReaderMixin, JsonlReader):
    """JSONL(.gz) reader that rejects bad lines with a reason instead of crashing or hiding them.

    Reasons: ``invalid_utf8``, ``invalid_json``, ``not_an_object``, ``missing_text``,
    ``empty_text``, ``unreadable_file`` (truncated gzip: the lines before the damage are kept).

    Tasks share large files: each task reads the line pieces ``plan_pieces`` gives it
    (``corpus/pieces.py``), not whole files, so ``tasks`` may exceed the number of files.
    """

    name = "📖 jsonl"

    def __init__(
        self,
        data_folder: str,
        glob_pattern: str | None,
        reject_writer: DiskWriter | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(data_folder, glob_pattern=glob_pattern, **kwargs)
        self.reject_writer = reject_writer

    def read_file(self, filepath: str) -> DocumentsPipeline:
        return self.read_part(FilePart(filepath))

    def read_part(self, part: FilePart) -> DocumentsPipeline:
        """The documents on the lines of ``part``; line numbers (and ids) are those of the whole
        file."""
        import orjson

        filepath, line_no, offset = part.path, 0, 0
        try:
            with self.data_folder.open(filepath, "rb", compression=self.compression) as handle:
                for line_no, raw in enumerate(handle, start=1):
                    start, offset = offset, offset + len(raw)
                    if not part.wants(start):
                        if part.done(offset):
                            return
                        continue
                    with self.track_time():
                        document, problem, line = self._parse(raw, filepath, line_no, orjson)
                        if problem:
                            self.reject(line, filepath, line_no, problem)
                    if document is not None:
                        yield document
        except (EOFError, OSError, zlib.error) as exc:
            if part.wants(offset):  # the damaged line's task reports it, once
                self.reject(
                    f"{type(exc).__name__}: {exc}", filepath, line_no + 1, "unreadable_file"
                )

    def _parse(
        self, raw: bytes, filepath: str, line_no: int, orjson: Any
    ) -> tuple[Document | None, str, str]:
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError:
            return None, "invalid_utf8", raw.decode("utf-8", errors="replace")
        if not line.strip():
            return None, "", line
        try:
            data = orjson.loads(line)
        except orjson.JSONDecodeError:
            return None, "invalid_json", line
        if not isinstance(data, dict):
            return None, "not_an_object", line
        text = data.get(self.text_key)
        if not isinstance(text, str):
            return None, "missing_text", line
        if not text.strip():
            return None, "empty_text", line
        return self.get_document_from_dict(data, filepath, line_no - 1), "", line

    def run(
        self, data: DocumentsPipeline = None, rank: int = 0, world_size: int = 1
    ) -> DocumentsPipeline:
        return self.run_with_rejects(self._run_parts, data, rank, world_size)

    def _text_size(self, path: str) -> int:
        with self.data_folder.open(path, "rb") as handle:
            return text_size(self.data_folder.size(path), path, handle)

    def _run_parts(self, data: DocumentsPipeline, rank: int, world_size: int) -> DocumentsPipeline:
        """datatrove's ``BaseDiskReader.run`` over this task's file parts instead of whole files."""
        if data:
            yield from data
        files = self.data_folder.list_files(
            recursive=self.recursive, glob_pattern=self.glob_pattern
        )
        if not files:
            raise DataError(f"{self.data_folder.path}: no files match {self.glob_pattern!r}.")
        parts = plan_pieces({path: self._text_size(path) for path in files}, world_size)[rank]
        count = 0
        for part in parts:
            self.stat_update("input_files")
            documents = 0
            for document in self.read_part(part):
                if self.limit != -1 and count >= self.limit:
                    return
                self.update_doc_stats(document)
                yield document
                count, documents = count + 1, documents + 1
            self.stat_update("documents", value=documents, unit="input_file")


class TextFolderReader(RejectingReaderMixin, BaseDiskReader):
    """One document per UTF-8 text file (id = path inside the folder); non-UTF-8 files are
    rejected."""

    name = "📖 text files"

    def __init__(
        self,
        data_folder: str,
        glob_pattern: str | None,
        reject_writer: DiskWriter | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(data_folder, glob_pattern=glob_pattern, **kwargs)
        self.reject_writer = reject_writer

    def read_file(self, filepath: str) -> DocumentsPipeline:
        with (
            self.track_time(),
            self.data_folder.open(filepath, "rb", compression="infer") as handle,
        ):
            raw = handle.read()
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            self.reject(raw.decode("utf-8", errors="replace"), filepath, 0, "invalid_utf8")
            return
        if not text.strip():
            self.reject(text, filepath, 0, "empty_text")
            return
        document = self.get_document_from_dict({"text": text, "id": filepath}, filepath, 0)
        if document is not None:
            yield document

    def run(
        self, data: DocumentsPipeline = None, rank: int = 0, world_size: int = 1
    ) -> DocumentsPipeline:
        return self.run_with_rejects(super().run, data, rank, world_size)


class RankFileReader(JsonlReader):
    """Read back an intermediate file written by this same rank in an earlier stage.

    datatrove's dedup filters identify documents by their position in the rank's
    stream, so rank r must read exactly ``{r:05d}.jsonl`` (a rank that kept nothing
    wrote no file; sharding the sorted file list would then shift every later rank).
    """

    name = "📖 intermediate"

    def run(
        self, data: DocumentsPipeline = None, rank: int = 0, world_size: int = 1
    ) -> DocumentsPipeline:
        name = f"{rank:05d}.jsonl"
        if self.data_folder.isfile(name):
            yield from self.read_files_shard([name])


def detect_kind(path: Path) -> str:
    """The reader kind for a local file or folder, from file suffixes; DataError when unclear."""
    if not path.exists():
        raise DataError(
            f"{path}: no such file or folder. Pass a JSONL(.gz), Parquet or .txt file, "
            "or a folder of them."
        )
    files = (
        [path]
        if path.is_file()
        else [p for p in path.rglob("*") if p.is_file() and not p.name.startswith(".")]
    )
    kinds = Counter(
        kind for p in files for kind, suffixes in SUFFIXES.items() if p.name.endswith(suffixes)
    )
    if not kinds:
        raise DataError(
            f"{path}: holds no *.jsonl[.gz], *.parquet or *.txt files. Pass a file or folder of "
            "them."
        )
    if len(kinds) > 1:
        raise DataError(
            f"{path}: holds several kinds of files ({dict(kinds)}); list them as separate "
            "`sources` with a `glob` each, or set `kind`."
        )
    return next(iter(kinds))


def source_kind(source: SourceConfig) -> str:
    """``source.kind``, or for ``auto`` the kind its file suffixes show."""
    return detect_kind(Path(source.path)) if source.kind == "auto" else source.kind


def local_files(source: SourceConfig, kind: str) -> list[Path]:
    """The files a local source will read (for task counts and early errors)."""
    path = Path(source.path)
    if path.is_file():
        return [path]
    pattern = source.glob or DEFAULT_GLOBS[kind]
    files = sorted(p for p in path.glob(pattern) if p.is_file() and not p.name.startswith("."))
    return [p for p in files if p.name.endswith(SUFFIXES[kind])] if source.glob is None else files


def source_name(source: SourceConfig) -> str:
    if source.name:
        return source.name
    name = Path(source.path).name if source.kind != "hf" else source.path
    for suffixes in SUFFIXES.values():
        for suffix in sorted(suffixes, key=len, reverse=True):
            if name.endswith(suffix):
                return name[: -len(suffix)]
    return name


def make_reader(source: SourceConfig, reject_writer: DiskWriter | None) -> BaseReader:
    """The datatrove reader for one source; local files are checked now, Hub ids at run time."""
    metadata = {"corpus_source": source_name(source)}
    common: dict[str, Any] = {
        "text_key": source.text_key,
        "id_key": source.id_key,
        "limit": source.limit,
        "default_metadata": metadata,
    }
    if source.kind == "hf":
        options = {"split": source.split} | ({"name": source.subset} if source.subset else {})
        return HuggingFaceDatasetReader(
            source.path, dataset_options=options, streaming=True, **common
        )
    path = Path(source.path)
    kind = source_kind(source)
    if not path.exists():
        raise DataError(f"{path}: no such file or folder.")
    files = local_files(source, kind)
    if not files:
        raise DataError(f"{path}: no {kind} files match {source.glob or DEFAULT_GLOBS[kind]!r}.")
    folder, pattern = (
        (str(path.parent), path.name)
        if path.is_file()
        else (str(path), source.glob or DEFAULT_GLOBS[kind])
    )
    if kind == "jsonl":
        return SafeJsonlReader(folder, pattern, reject_writer, **common)
    if kind == "parquet":
        return ParquetReader(folder, glob_pattern=pattern, **common)
    return TextFolderReader(folder, pattern, reject_writer, **common)
