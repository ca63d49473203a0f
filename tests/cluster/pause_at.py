"""Run the ``seq2seq-es`` CLI; after training step N, hold until a stop signal arrives.

    python pause_at.py N MARKER -- pretrain output_dir=... (CLI arguments)

On the first attempt of a Slurm job (no ``SLURM_RESTART_COUNT``) the N-th training step
ends by touching MARKER and waiting (up to 120 s) until the run's stop flag is set, so the
test's ``scancel --signal`` lands at a known step boundary, which a timer hits only by luck.
A requeued attempt runs straight through. Only the timing changes: the training itself is
the package's. Nothing in the package knows about it.
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any


def install(step: int, marker: Path) -> None:
    import seq2seq_es.training.loop as loop

    flags: list[Any] = []
    catch, train_step = loop.catch_interrupts, loop.train_step

    @contextlib.contextmanager
    def catch_and_keep(*args: Any, **kwargs: Any) -> Iterator[Any]:
        with catch(*args, **kwargs) as flag:
            flags.append(flag)
            yield flag

    def step_then_hold(*args: Any, **kwargs: Any) -> Any:
        result = train_step(*args, **kwargs)
        state = args[5]
        if state.step == step and flags:
            marker.touch()
            deadline = time.monotonic() + 120
            while not flags[-1].requested and time.monotonic() < deadline:
                time.sleep(0.05)
        return result

    loop.catch_interrupts, loop.train_step = catch_and_keep, step_then_hold


if __name__ == "__main__":
    step, marker, separator, *cli_args = sys.argv[1:]
    assert separator == "--", "usage: pause_at.py N MARKER -- CLI ARGS"
    if not os.environ.get("SLURM_RESTART_COUNT"):
        install(int(step), Path(marker))
    sys.argv = ["seq2seq-es", *cli_args]
    from seq2seq_es.cli import main

    main()
