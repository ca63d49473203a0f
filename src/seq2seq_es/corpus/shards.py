"""Writers of the corpus stage: JSONL.gz at a chosen gzip level, and a cheaper record adapter.

Why not datatrove's ``JsonlWriter`` as is: it compresses through fsspec, which always
uses gzip's level 9. On the shards of ``../shared/data/pretrain`` level 9 runs at
10 MB/s and was a quarter of the whole pipeline's CPU time; level 3 runs at 39 MB/s for
files 9% larger, level 1 at 85 MB/s for 19% larger (benchmarks/RESULTS.md). The header's
time stamp is 0, so a rerun writes the same bytes.

Every writer of the pipeline (work files, shards, rejects) turns a document into its
record with ``document_record``: datatrove's default adapter deep-copies each document
with ``dataclasses.asdict`` first (record + orjson for the 86 MB of ``work/filtered``:
0.68 CPU s with it, 0.15 s without; the pipeline writes that text twice).
"""

from __future__ import annotations

import gzip
from typing import Any

from datatrove.data import Document
from datatrove.io import DataFolderLike, OutputFileManager
from datatrove.pipeline.writers import JsonlWriter
from datatrove.pipeline.writers.disk_base import DiskWriter


def document_record(writer: DiskWriter, document: Document) -> dict[str, Any]:
    """datatrove's default record of ``document`` (its non-empty fields), without the deep copy.

    The record is serialized at once, so the document's own metadata dict can go in as is.
    Documents with media take datatrove's adapter.
    """
    if document.media or writer.expand_metadata:
        return DiskWriter._default_adapter(writer, document)
    fields = (("text", document.text), ("id", document.id), ("metadata", document.metadata))
    return {key: value for key, value in fields if value}


class _OwningGzipFile(gzip.GzipFile):
    """A ``GzipFile`` that also closes the file it writes into, as fsspec's wrapper does."""

    def __init__(self, raw: Any, level: int) -> None:
        super().__init__(filename="", fileobj=raw, mode="wb", compresslevel=level, mtime=0)
        self._raw = raw

    def close(self) -> None:
        try:
            super().close()
        finally:
            self._raw.close()


class _GzipFiles(OutputFileManager):
    """datatrove's output file manager, opening each file through gzip at ``level``."""

    def __init__(self, fs: Any, level: int) -> None:
        super().__init__(fs, mode="wb", compression=None)
        self.level = level

    def get_file(self, filename: str) -> Any:
        if filename not in self._output_files:
            self._output_files[filename] = _OwningGzipFile(
                self.fs.open(filename, mode="wb"), self.level
            )
        return self._output_files[filename]


class GzipJsonlWriter(JsonlWriter):
    """``JsonlWriter`` writing ``output_filename`` (ending in ``.jsonl.gz``) at gzip ``level``."""

    def __init__(self, output_folder: DataFolderLike, output_filename: str, level: int = 3) -> None:
        if not 1 <= level <= 9:
            raise ValueError(f"gzip level must be 1-9, got {level}")
        super().__init__(
            output_folder,
            output_filename=output_filename,
            compression=None,
            adapter=document_record,
        )
        self.output_mg = _GzipFiles(self.output_folder, level)
