"""Split input files into pieces so that the tasks of a stage get equal work.

Why: datatrove gives each task whole files, so one large file (``gutenberg.jsonl.gz`` is
40% of ``../shared/data/pretrain``) keeps one worker busy while the others idle, and
``tasks`` can never usefully exceed the number of files. Here a JSONL file of ``size``
bytes of text is cut into ``n`` pieces of equal byte ranges; a line belongs to the piece
where it starts. A compressed file cannot be entered in the middle, so a task
decompresses from the start and skips (without parsing) the lines before its range, then
stops at its end: half a file per piece on average, which costs little next to filtering.
Pieces (half a task's share or less) are dealt largest first, each to the least loaded
task (LPT), and tasks are numbered heaviest first, so a pool that starts tasks in rank
order ends with its smallest ones and its workers finish together.

The plan depends only on the file list, their sizes and ``tasks``: every task (on any
machine) computes the same plan, and a rerun reads the same lines in the same order,
which the dedup stages and resuming need. Sizes are estimates: the last piece of a file
runs to its end, so the pieces cover every line whatever the true size.
"""

from __future__ import annotations

import math
import struct
from dataclasses import dataclass
from typing import BinaryIO

WHOLE: tuple[tuple[int, int | None], ...] = ((0, None),)


@dataclass(frozen=True)
class FilePart:
    """The lines of ``path`` that start inside one of ``ranges`` (byte offsets, end excluded;
    None: end of file)."""

    path: str
    ranges: tuple[tuple[int, int | None], ...] = WHOLE

    def wants(self, offset: int) -> bool:
        return any(start <= offset and (end is None or offset < end) for start, end in self.ranges)

    def done(self, offset: int) -> bool:
        """No line at or after ``offset`` belongs to this part."""
        last_end = self.ranges[-1][1]
        return last_end is not None and offset >= last_end


def text_size(compressed_size: int, path: str, open_binary: BinaryIO | None = None) -> int:
    """Bytes of text in a (possibly gzip-compressed) file: the measure of work ``plan_pieces``
    balances.

    Compressed sizes mislead (books compress 2.7x, laws 3.8x on ``../shared/data/pretrain``).
    A gzip file ends with its uncompressed size modulo 2**32 (RFC 1952, ISIZE); when that
    cannot be right (a file over 4 GiB, or several gzip members) 3x the compressed size stands in.
    """
    if not path.endswith(".gz") or open_binary is None:
        return compressed_size * (1 if path.endswith((".jsonl", ".json", ".txt")) else 3)
    open_binary.seek(-4, 2)
    (isize,) = struct.unpack("<I", open_binary.read(4))
    return (
        isize
        if compressed_size <= isize < 2**32 - 1 and compressed_size < 2**30
        else compressed_size * 3
    )


def plan_pieces(sizes: dict[str, int], tasks: int) -> list[list[FilePart]]:
    """For each of ``tasks`` tasks, the parts of files it reads (in file order).

    ``sizes`` maps a file to its size in bytes of text (``text_size``). A task that gets
    several pieces of one file reads them in one pass, as one part.
    """
    if tasks < 1:
        raise ValueError(f"tasks must be >= 1, got {tasks}")
    total = sum(max(size, 1) for size in sizes.values())
    piece_size = total / (2 * tasks)  # half a task's share: fine enough for LPT to even the loads
    pieces = []  # (work, path, k, n)
    for path, size in sizes.items():
        n = max(1, math.ceil(max(size, 1) / piece_size - 1e-9))
        pieces += [(max(size, 1) / n, path, k, n) for k in range(n)]
    pieces.sort(key=lambda p: (-p[0], p[1], p[2]))
    loads = [0.0] * tasks
    chosen: list[dict[str, list[tuple[int, int | None]]]] = [{} for _ in range(tasks)]
    for work, path, k, n in pieces:
        task = min(range(tasks), key=lambda t: (loads[t], t))
        loads[task] += work
        start, end = k * sizes[path] // n, (k + 1) * sizes[path] // n if k < n - 1 else None
        chosen[task].setdefault(path, []).append((start, end))
    heaviest_first = sorted(
        range(tasks), key=lambda t: (-loads[t], t)
    )  # a pool starts tasks in rank order
    return [
        [FilePart(path, _merged(chosen[t][path])) for path in sorted(chosen[t])]
        for t in heaviest_first
    ]


def _merged(ranges: list[tuple[int, int | None]]) -> tuple[tuple[int, int | None], ...]:
    """Sorted ranges with adjacent ones joined (a task with pieces 2 and 3 reads them as one)."""
    merged: list[tuple[int, int | None]] = []
    for start, end in sorted(ranges):
        if merged and merged[-1][1] == start:
            merged[-1] = (merged[-1][0], end)
        else:
            merged.append((start, end))
    return tuple(merged)
