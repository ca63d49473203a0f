"""torchrun's worker, forked from the test worker's warm server (``warm_python.py``).

    python -m torch.distributed.run ... warm_worker.py -m seq2seq_es.cli pretrain ...
    python -m torch.distributed.run ... warm_worker.py kill_at.py PATTERN 1 -- pretrain ...

torchrun starts this small script (no torch import) once per rank; it hands its environment
(RANK, WORLD_SIZE, MASTER_PORT, ...), its stdin, stdout and stderr to the server
(``WARM_PYTHON_SOCKET``), which forks the real worker, then stands in for it: the signals
torchrun sends are passed on, and it exits as the worker did (killed by the same signal when
the worker was), so torchrun sees what it would see of a worker it had started itself. Without
a server, or when the server cannot take the environment, it becomes the worker in place
(``exec``), a fresh Python.
"""

from __future__ import annotations

import os
import signal
import sys

import warm_python

FORWARDED = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGUSR1, signal.SIGUSR2)


def main(argv: list[str]) -> None:
    path = os.environ.get("WARM_PYTHON_SOCKET")
    process = warm_python.start_at(path, argv, (0, 1, 2), os.environ) if path else None
    if process is None:
        os.execv(sys.executable, [sys.executable, *argv])
    for number in FORWARDED:
        signal.signal(number, lambda received, _frame: process.send_signal(received))
    code = process.wait()
    if code < 0:  # die of the worker's signal (SIGKILL's disposition cannot be set, nor needs to)
        if -code not in (signal.SIGKILL, signal.SIGSTOP):
            signal.signal(-code, signal.SIG_DFL)
        os.kill(os.getpid(), -code)
    sys.exit(code)


if __name__ == "__main__":
    main(sys.argv[1:])
