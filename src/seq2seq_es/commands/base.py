"""What a command is: a config schema, a function that does the work, and one that shows it.

Why a small record instead of Typer functions spread over the package: ``cli.py`` builds
every sub-command from this table, so a new command is one new module here, and the
schema can be imported (to validate ``configs/<command>/*.yaml``) without the libraries
the work needs. Command modules import only light config modules at the top; the
library code they call is imported inside ``run``.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from rich.console import Console

from seq2seq_es.config import StrictModel
from seq2seq_es.training.run_folder import (
    RunFolder,
    StartedRun,
    claim_folder,
    claim_output_file,
    record_run,
)


def no_output_dir(config: Any) -> Path | None:
    """For commands that write no run folder (their record goes nowhere)."""
    return None


def config_output_dir(config: Any) -> Path | None:
    """The usual place of a run's outputs: the config's ``output_dir``."""
    return Path(config.output_dir)


def no_output_file(config: Any) -> Path | None:
    """For commands that write no single file outside their run folder."""
    return None


@dataclass(frozen=True)
class Flag:
    """A command-line option that sets one config key: ``--pred FILE`` → ``predictions=FILE``.

    Flags are sugar over ``key=value`` overrides, so a config file, an override and a flag
    all go through the same validation.
    """

    key: str
    names: tuple[str, ...]
    help: str
    kind: Literal["bool", "text", "list"] = "text"


RESUME = Flag("resume", ("--resume",), "Continue from the last checkpoint in output_dir.", "bool")


@dataclass(frozen=True)
class Command:
    """One ``seq2seq-es`` sub-command.

    ``run(config)`` does the work and returns what ``show(result, console)`` prints;
    ``output_dir(config)`` is the folder that gets ``config.yaml`` and ``run_info.json``
    (None: the command writes no run folder). ``prepare_output(config)`` claims that
    folder before anything is written (a ``training.run_folder.RunFolder``: go on, or nothing
    to do) or raises a ``Seq2SeqEsError`` to refuse it; the work of such a command is
    ``run(config, folder)``: it gets that ``RunFolder`` (so the run's identity is computed once,
    by the claim). None: the CLI's default claim (the folder must be writable and hold no other
    command's run). A name with a space (``"model info"``) is a
    sub-command of a group. ``flags`` are options that set config keys; ``positional``
    names the key that takes the command line's bare words (those without ``=``).

    Write safety (``run_record.claim_folder`` / ``claim_output_file``, applied by the CLI):
    ``output_key`` names the key of the folder in messages; ``replaces_folder``: the work
    writes the whole folder by an atomic swap (an export, a converted model), so only its own
    earlier run with the same identity may be replaced, and the record is written after the
    swap; ``output_file(config)``: a file written outside a run folder (``score``'s
    scores.json, ``predict``'s output=), which must not replace an input or another run's file.
    """

    name: str
    help: str
    schema: type[StrictModel]
    run: Callable[..., Any]  # (config), or (config, RunFolder) with prepare_output
    show: Callable[[Any, Console], None]
    output_dir: Callable[[Any], Path | None] = config_output_dir
    prepare_output: Callable[[Any], RunFolder] | None = None
    flags: tuple[Flag, ...] = ()
    positional: str | None = None
    positional_help: str = "Overrides such as optim.steps=100 or output_dir=runs/x."
    output_key: str = "output_dir"
    replaces_folder: bool = False
    output_file: Callable[[Any], Path | None] = no_output_file


class NothingToDo:
    """What ``run_command`` returns when the claimed folder holds this run, finished."""


NOTHING_TO_DO = NothingToDo()


def is_main_process() -> bool:
    """Only the main process of a torchrun/accelerate launch writes the run record."""
    return os.environ.get("RANK", "0") == "0"


def wait_for_every_process() -> None:
    """In a launch of several processes (torchrun: ``WORLD_SIZE`` > 1), return once every one
    has called it; alone, at once.

    Why: every process claims the output folder (the same read-only decision), and then each
    writes into it (the main process its record; every process its token cache,
    ``output_dir/data``). A process that claimed after another had started writing found a
    folder "not empty and with no run record" and refused: a rank 0 that started a moment
    after rank 1 stopped the launch. Waiting here orders every claim before every write."""
    if int(os.environ.get("WORLD_SIZE", "1")) > 1:
        import torch
        from accelerate import PartialState

        # the process group Accelerator() uses later (the same shared state, the same device)
        PartialState(cpu=not torch.cuda.is_available()).wait_for_everyone()


def claim_output(command: Command, config: Any) -> RunFolder | None:
    """The command's claim on its output file and folder (``training/run_folder.py``'s
    write-safety rule), or None when it writes no folder."""
    file = command.output_file(config)
    if file is not None:
        claim_output_file(file, command.name, config)
    if command.prepare_output is not None:
        return command.prepare_output(config)
    folder = command.output_dir(config)
    if folder is None:
        return None
    return claim_folder(
        folder, command.name, config, strict=command.replaces_folder, key=command.output_key
    )


def run_command(command: Command, config: Any, messages: Console) -> Any:
    """Claim the output, record the run, do the work: what every run of ``command`` goes
    through, from the command line or as a stage of ``demo``.

    Nothing is written before the claim, so a refused run leaves every folder as it was;
    a run that fails before writing anything but its record takes the record back. Errors
    are raised (the caller decides how to report them); the claim's message goes to
    ``messages``. Returns the work's result, or ``NOTHING_TO_DO`` for a finished run.
    """
    claim = claim_output(command, config)
    wait_for_every_process()  # only now may a process write: every one has claimed
    main = is_main_process()
    if claim is not None and claim.message and main:
        messages.print(claim.message, highlight=False, soft_wrap=True, markup=False)
    if claim is not None and claim.done:
        return NOTHING_TO_DO
    started: StartedRun | None = None
    if claim is not None and main and not command.replaces_folder:
        started = record_run(claim, config, owned=command.prepare_output is not None)
    try:
        result = (
            command.run(config, claim)
            if command.prepare_output is not None
            else command.run(config)
        )
    except BaseException:
        if started is not None:
            started.discard()
        raise
    if claim is not None and main and command.replaces_folder:
        record_run(claim, config, owned=False)  # after the swap, which replaced the folder
    return result
