"""Ctrl-C during training: stop at the next step boundary with a checkpoint, and say how to resume.

Why not let ``KeyboardInterrupt`` fly: it lands anywhere (inside a backward pass, halfway
through a checkpoint) and the run ends with a traceback and no word about where its last
checkpoint is. Here the first SIGINT only raises a flag; the loop finishes the step,
writes a checkpoint and raises ``TrainingInterrupted`` (exit code 130, as a shell expects
of Ctrl-C), whose message names the checkpoint; the CLI adds the resume command. A second
Ctrl-C aborts at once, as usual.
"""

from __future__ import annotations

import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType

from seq2seq_es.errors import Seq2SeqEsError


class TrainingInterrupted(Seq2SeqEsError):
    """The run stopped on Ctrl-C after writing a checkpoint (or before its first step)."""

    exit_code = 130

    def __init__(self, step: int, checkpoint: Path | None) -> None:
        where = (f"checkpoint {checkpoint} holds it" if checkpoint is not None
                 else "no checkpoint could be written (see above)")
        super().__init__(f"Interrupted (Ctrl-C) after step {step}; {where}.")
        self.step, self.checkpoint = step, checkpoint


class StopFlag:
    """Set by the first SIGINT while ``catch_interrupts`` is active."""

    def __init__(self) -> None:
        self.requested = False


@contextmanager
def catch_interrupts(announce: bool = True) -> Iterator[StopFlag]:
    """Turn the first Ctrl-C into a flag the loop reads; restore the old handler on exit.

    Only the main thread of a process can install a handler; elsewhere (a notebook
    worker thread) the flag is never set and Ctrl-C behaves as before.
    """
    flag = StopFlag()
    if threading.current_thread() is not threading.main_thread():
        yield flag
        return

    def handler(signum: int, frame: FrameType | None) -> None:
        if flag.requested:
            raise KeyboardInterrupt
        flag.requested = True
        if announce:
            print("\nCtrl-C: stopping after this step and writing a checkpoint (Ctrl-C again to abort now).",
                  file=sys.stderr, flush=True)

    previous = signal.signal(signal.SIGINT, handler)
    try:
        yield flag
    finally:
        signal.signal(signal.SIGINT, previous)
