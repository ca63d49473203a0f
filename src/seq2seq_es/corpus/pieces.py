"""Split input files into pieces so that the tasks of a stage get equal work.

Why: datatrove gives each task whole files, so one large file (``gutenberg.jsonl.gz`` is
40% of ``../shared/data/pretrain``) keeps one worker busy while the others idle, and
``tasks`` can never usefully exceed the number of files. Here a JSONL file of ``size``
bytes is cut into ``ceil(size / (total / tasks))`` pieces; piece ``k`` of ``n`` holds the
lines whose index ``i`` (from 0) has ``i % n == k``. Every piece still decompresses the
whole file but parses only its own lines, which costs little next to filtering them.
Pieces (half a task's share or less) are dealt largest first, each to the least loaded
task (LPT), and tasks are numbered heaviest first, so a pool that starts tasks in rank
order ends with its smallest ones and its workers finish together.

The plan depends only on the file list, their sizes and ``tasks``: every task (on any
machine) computes the same plan, and a rerun reads the same lines in the same order,
which the dedup stages and resuming need.
"""

from __future__ import annotations

import math
import struct
from dataclasses import dataclass
from typing import BinaryIO


@dataclass(frozen=True)
class FilePart:
    """The lines of ``path`` whose index modulo ``every`` is in ``keep``."""

    path: str
    every: int
    keep: frozenset[int]

    def wants(self, line_index: int) -> bool:
        return self.every == 1 or line_index % self.every in self.keep


def text_size(compressed_size: int, path: str, open_binary: BinaryIO | None = None) -> int:
    """Bytes of text in a (possibly gzip-compressed) file: the measure of work ``plan_pieces`` balances.

    Compressed sizes mislead (books compress 2.7x, laws 3.8x on ``../shared/data/pretrain``).
    A gzip file ends with its uncompressed size modulo 2**32 (RFC 1952, ISIZE); when that
    cannot be right (a file over 4 GiB, or several gzip members) 3x the compressed size stands in.
    """
    if not path.endswith(".gz") or open_binary is None:
        return compressed_size * (1 if path.endswith((".jsonl", ".json", ".txt")) else 3)
    open_binary.seek(-4, 2)
    (isize,) = struct.unpack("<I", open_binary.read(4))
    return isize if compressed_size <= isize < 2**32 - 1 and compressed_size < 2**30 else compressed_size * 3


def plan_pieces(sizes: dict[str, int], tasks: int) -> list[list[FilePart]]:
    """For each of ``tasks`` tasks, the parts of files it reads (in file order).

    ``sizes`` maps a file to its size in bytes (any measure proportional to its work).
    A task that gets two pieces of one file reads them as one part.
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
    chosen: list[dict[str, tuple[int, set[int]]]] = [{} for _ in range(tasks)]
    for work, path, k, n in pieces:
        task = min(range(tasks), key=lambda t: (loads[t], t))
        loads[task] += work
        chosen[task].setdefault(path, (n, set()))[1].add(k)
    order = {path: i for i, path in enumerate(sorted(sizes))}
    heaviest_first = sorted(range(tasks), key=lambda t: (-loads[t], t))  # a pool starts tasks in rank order
    return [[FilePart(path, 1, frozenset({0})) if len(keep) == n else FilePart(path, n, frozenset(keep))
             for path, (n, keep) in sorted(chosen[t].items(), key=lambda p: order[p[0]])]
            for t in heaviest_first]
