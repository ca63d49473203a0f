"""Run the ``seq2seq-es`` CLI and SIGKILL it the moment it touches a chosen path.

    python kill_at.py PATTERN N -- pretrain output_dir=... (CLI arguments)

An audit hook (PEP 578) watches the process's own file events (``open``, ``os.mkdir``,
``os.rename``/``os.replace``, ``shutil.rmtree``); the N-th event whose path matches the regular
expression
PATTERN kills the process with SIGKILL, as a power cut would: no ``finally``, no
``atexit``, no flush. That places a kill exactly inside a checkpoint write or a model
save, which a timer hits only by luck. Nothing in the package knows about it.
"""

from __future__ import annotations

import os
import re
import signal
import sys
from typing import Any

EVENTS = {"open", "os.mkdir", "os.rename", "shutil.rmtree"}  # os.replace raises the os.rename event


def install(pattern: str, nth: int) -> None:
    regex = re.compile(pattern)
    seen = 0

    def hook(event: str, args: tuple[Any, ...]) -> None:
        nonlocal seen
        if event not in EVENTS or not args or not isinstance(args[0], str | bytes | os.PathLike):
            return
        if regex.search(os.fsdecode(args[0])):
            seen += 1
            if seen == nth:
                os.kill(os.getpid(), signal.SIGKILL)

    sys.addaudithook(hook)


if __name__ == "__main__":
    pattern, nth, separator, *cli_args = sys.argv[1:]
    assert separator == "--", "usage: kill_at.py PATTERN N -- CLI ARGS"
    install(pattern, int(nth))
    sys.argv = ["seq2seq-es", *cli_args]
    from seq2seq_es.cli import main

    main()
