"""Ctrl-C or SIGTERM during training: stop at the next step boundary with a checkpoint, and say how
to resume.

Why not let ``KeyboardInterrupt`` fly: it lands anywhere (inside a backward pass, halfway
through a checkpoint) and the run ends with a traceback and no word about where its last
checkpoint is. Here the first SIGINT only raises a flag; the loop finishes the step,
writes a checkpoint and raises ``TrainingInterrupted`` (exit code 128 + the signal: 130 for
Ctrl-C, 143 for SIGTERM, as a shell expects), whose message names the checkpoint; the CLI
adds the resume command. A second signal aborts at once, as usual. SIGTERM is what Slurm
sends before it preempts or times out a job (and what ``torchrun`` forwards to its
workers), so a scheduled run ends with a checkpoint to resume from instead of losing the
steps since its last one.

SIGUSR1 is the warning Slurm sends ``N`` seconds before a job's time limit when it was
submitted with ``--signal=USR1@N`` (or by hand: ``scancel --signal=USR1 JOB``). The run
checkpoints the same way, and then puts its own job back in the queue (``scontrol
requeue``, as submitit does): the requeued job starts with ``SLURM_RESTART_COUNT`` set,
which ``configs/slurm/train.sbatch`` turns into ``--resume``. Preemption and ``scontrol
requeue`` send SIGTERM instead, and Slurm requeues the job itself (``sbatch --requeue``).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType

from seq2seq_es.errors import Seq2SeqEsError

SIGNAL_NAMES: dict[int, str] = {
    signal.SIGINT: "Ctrl-C",
    signal.SIGTERM: "SIGTERM",
    signal.SIGUSR1: "SIGUSR1",
}


class TrainingInterrupted(Seq2SeqEsError):
    """The run stopped on Ctrl-C, SIGTERM or SIGUSR1 after writing a checkpoint (or before its
    first step)."""

    def __init__(self, step: int, checkpoint: Path | None, signum: int = signal.SIGINT) -> None:
        where = (
            f"checkpoint {checkpoint} holds it"
            if checkpoint is not None
            else "no checkpoint could be written (see above)"
        )
        super().__init__(
            f"Interrupted ({SIGNAL_NAMES.get(signum, f'signal {signum}')}) after step {step}; "
            f"{where}."
        )
        self.step, self.checkpoint = step, checkpoint
        self.exit_code = 128 + signum


class StopFlag:
    """Set by the first SIGINT, SIGTERM or SIGUSR1 while ``catch_interrupts`` is active."""

    def __init__(self) -> None:
        self.requested = False
        self.signum: int = signal.SIGINT


@contextmanager
def catch_interrupts(announce: bool = True) -> Iterator[StopFlag]:
    """Turn the first Ctrl-C, SIGTERM or SIGUSR1 into a flag the loop reads; restore the old
    handlers on exit.

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
        flag.requested, flag.signum = True, signum
        if announce:
            name = SIGNAL_NAMES[signum]
            print(
                f"\n{name}: stopping after this step and writing a checkpoint ({name} again to "
                "abort now).",
                file=sys.stderr,
                flush=True,
            )

    previous = {signum: signal.signal(signum, handler) for signum in SIGNAL_NAMES}
    try:
        yield flag
    finally:
        for signum, old in previous.items():
            signal.signal(signum, old)


def requeue_slurm_job(signum: int) -> str | None:
    """After Slurm's time-limit warning (SIGUSR1) in a Slurm job: requeue the job; its id, or
    ``None``.

    Call it once, on the main process, after every process's part of the checkpoint is
    written: ``scontrol requeue`` ends the running job at once. Slurm keeps the job's id,
    ``SLURM_RESTART_COUNT`` counts the restarts.
    """
    job = os.environ.get("SLURM_JOB_ID")
    if signum != signal.SIGUSR1 or not job:
        return None
    # Said first: once the requeue is accepted, Slurm ends this job (SIGTERM) at once.
    print(
        f"Requeueing Slurm job {job}: it resumes from this checkpoint.", file=sys.stderr, flush=True
    )
    done = subprocess.run(["scontrol", "requeue", job], capture_output=True, text=True)
    if done.returncode != 0:
        print(
            f"Slurm job {job} could not be requeued ({done.stderr.strip()}); resubmit it with "
            "--resume.",
            file=sys.stderr,
            flush=True,
        )
        return None
    return job
