"""The shard writer: JSONL.gz at a chosen gzip level.

Why not datatrove's ``JsonlWriter`` as is: it compresses through fsspec, which always
uses gzip's level 9. On the shards of ``../shared/data/pretrain`` level 9 runs at
10 MB/s and was a quarter of the whole pipeline's CPU time; level 3 runs at 39 MB/s for
files 9% larger, level 1 at 85 MB/s for 19% larger (benchmarks/RESULTS.md). The header's
time stamp is 0, so a rerun writes the same bytes.
"""

from __future__ import annotations

import gzip
from typing import Any

from datatrove.io import DataFolderLike, OutputFileManager
from datatrove.pipeline.writers import JsonlWriter


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
            self._output_files[filename] = _OwningGzipFile(self.fs.open(filename, mode="wb"), self.level)
        return self._output_files[filename]


class GzipJsonlWriter(JsonlWriter):
    """``JsonlWriter`` writing ``output_filename`` (ending in ``.jsonl.gz``) at gzip ``level``."""

    def __init__(self, output_folder: DataFolderLike, output_filename: str, level: int = 3) -> None:
        if not 1 <= level <= 9:
            raise ValueError(f"gzip level must be 1-9, got {level}")
        super().__init__(output_folder, output_filename=output_filename, compression=None)
        self.output_mg = _GzipFiles(self.output_folder, level)
