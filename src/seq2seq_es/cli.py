"""The ``seq2seq-es`` command: a table over the command modules in ``seq2seq_es.commands``.

Every sub-command takes ``--config FILE.yaml`` (optional: the schema defaults are a
complete config) plus ``key=value`` overrides (flags such as ``--resume`` are sugar for
overrides), writes ``config.yaml`` and ``run_info.json`` next to its outputs, and turns
user errors into a short message and exit code 2 (``--debug`` shows the traceback).
Only light config modules load before the work starts, so ``--help`` and a config error
answer in about a second.
"""

from __future__ import annotations

import errno
import importlib
import inspect
import json
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, get_origin

import typer

from seq2seq_es import __version__
from seq2seq_es.commands.base import NOTHING_TO_DO, RESUME, Command, Flag, run_command
from seq2seq_es.commands.display import config_key_lines, labelled, plain_console
from seq2seq_es.config import config_keys, load_config
from seq2seq_es.errors import ConfigError, Seq2SeqEsError
from seq2seq_es.library_logs import quiet_library_logs
from seq2seq_es.verbose_notes import set_verbose

# The command modules, in the order of the data flow; each exposes COMMANDS.
COMMAND_MODULES = (
    "corpus",
    "tokenizer",
    "pretrain",
    "finetune",
    "predict",
    "evaluate",
    "score",
    "export",
    "serve",
    "bench",
    "humaneval",
    "tasks",
    "model",
    "bench_peak",
    "demo",
)
GROUP_HELP = {
    "model": "Inspect and convert models: info, BERT2BERT warm start, BART→LED.",
    "humaneval": "Human evaluation: create a blind study, serve the annotation app, analyze, "
    "export.",
}

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    help="Spanish sequence-to-sequence models end to end: corpus → tokenizer → pretrain → "
    "finetune → predict → score.",
)
console = plain_console()
error_console = plain_console(stderr=True)

ShowConfigOption = Annotated[
    bool,
    typer.Option(
        "--show-config", help="List every config key with its default and description, and exit."
    ),
]
ConfigOption = Annotated[
    Path | None,
    typer.Option("--config", "-c", help="YAML config file (default: built-in defaults)."),
]


def commands() -> list[Command]:
    """Every command of every module in ``COMMAND_MODULES``."""
    return [
        command
        for name in COMMAND_MODULES
        for command in importlib.import_module(f"seq2seq_es.commands.{name}").COMMANDS
    ]


def config_schemas() -> dict[str, type]:
    """Config schema of each command: ``configs/<command>/*.yaml`` validate against these."""
    return {command.name.replace(" ", "-"): command.schema for command in commands()}


def _flag_override(flag: Flag, value: Any) -> str | None:
    """The ``key=value`` override a flag stands for (None when the flag was not given)."""
    if flag.kind == "bool":
        return f"{flag.key}=true" if value else None
    if value is None or value == []:
        return None
    if flag.kind == "list":
        return f"{flag.key}=[{', '.join(json.dumps(str(item)) for item in value)}]"
    return f"{flag.key}={json.dumps(str(value))}"


def _positional_override(command: Command, words: list[str]) -> str | None:
    """Bare words (no ``=``) as the value of ``command.positional``: a list, or exactly one
    value."""
    if not words or command.positional is None:
        return None
    field = command.schema.model_fields[command.positional]
    if get_origin(field.annotation) is list or field.annotation is list:
        return f"{command.positional}=[{', '.join(json.dumps(word) for word in words)}]"
    if len(words) > 1:
        raise ConfigError(
            f"`{command.name}` takes one {command.positional}, got {len(words)}: "
            f"{' '.join(words)}. Overrides must look like key=value."
        )
    return f"{command.positional}={json.dumps(words[0])}"


def command_overrides(command: Command, words: list[str], flags: dict[str, Any]) -> list[str]:
    """The ``key=value`` overrides a command line stands for: its own, then its bare words (the
    positional key), then its flags (Typer's ``flag_<key>`` parameters). One function, so a tool
    that checks a command line without running it (tests/test_readme_commands.py) reads it as
    the command does."""
    overrides = [word for word in words if "=" in word or command.positional is None]
    bare = [word for word in words if word not in overrides]
    extra = [
        _positional_override(command, bare),
        *(_flag_override(flag, flags[f"flag_{flag.key}"]) for flag in command.flags),
    ]
    return [*overrides, *(item for item in extra if item)]


def execute(command: Command, config_file: Path | None, overrides: list[str], debug: bool) -> None:
    """Validate the config, claim the output folder, record the run, do the work, show the result.

    Nothing is written before the folder is claimed (``Command.prepare_output``), so a
    refused run leaves every folder as it was. User errors, and files that cannot be
    written (disk full, read-only), exit 2 with one paragraph and no traceback (``--debug``
    shows it); Ctrl-C exits 130 and says how to resume.
    """
    if not debug:
        quiet_library_logs()
    folder: Path | None = None
    try:
        config = load_config(command.schema, config_file, overrides)
        folder = command.output_dir(config)
        result = run_command(command, config, error_console)
    except (Seq2SeqEsError, OSError, KeyboardInterrupt):
        _report_failure(command, folder, debug)
    if result is not NOTHING_TO_DO:
        command.show(result, console)


def _report_failure(command: Command, folder: Path | None, debug: bool) -> None:
    """Called in an ``except`` block: print the error as one paragraph and exit, or re-raise."""
    try:
        raise
    except Seq2SeqEsError as exc:
        if debug:
            raise
        message = str(exc)
        # Ctrl-C, SIGTERM or SIGUSR1: a training run that can resume
        stopped = exc.exit_code in (130, 143, 138)
        if stopped and folder is not None:
            config_file = folder / "config.yaml"
            message += f" Resume with: seq2seq-es {command.name} --config {config_file} --resume"
        error_console.print(
            labelled("stopped:" if stopped else "error:", message), highlight=False, soft_wrap=True
        )
        raise typer.Exit(code=exc.exit_code) from None
    except OSError as exc:
        if debug or exc.errno not in WRITE_ERRORS:
            raise
        error_console.print(
            labelled("error:", write_error_message(exc, folder)), highlight=False, soft_wrap=True
        )
        raise typer.Exit(code=2) from None
    except KeyboardInterrupt:
        if debug:
            raise
        error_console.print(
            labelled("stopped:", interrupted_message(command)), highlight=False, soft_wrap=True
        )
        raise typer.Exit(code=130) from None


def interrupted_message(command: Command) -> str:
    """What a Ctrl-C outside a training step left (inside one, the loop checkpoints and says so;
    ``predict`` on texts keeps its finished lines and says so itself)."""
    said = (
        f"interrupted (Ctrl-C) before `{command.name}` finished. Its files are written whole or "
        "not at all: the one being written was discarded, nothing is half-written"
    )
    if RESUME in command.flags:
        return f"{said}; a training run continues from its last complete checkpoint with --resume."
    return f"{said}."


# Errors of the file system a user can fix: disk full, file size limit, quota, permissions,
# read-only.
WRITE_ERRORS = {errno.ENOSPC, errno.EFBIG, errno.EDQUOT, errno.EACCES, errno.EPERM, errno.EROFS}


def write_error_message(exc: OSError, folder: Path | None) -> str:
    """One paragraph: which file, why, what to do."""
    what = exc.strerror or str(exc)
    where = f" {exc.filename}" if exc.filename else (f" into {folder}" if folder else "")
    if exc.errno in (errno.ENOSPC, errno.EFBIG, errno.EDQUOT):
        advice = (
            "The disk is full or a file size limit applies (`ulimit -f`, a quota). Free space or "
            "choose another output_dir; a training run can then continue with --resume from its "
            "last checkpoint."
        )
    else:
        advice = (
            "The folder is read-only or not yours: choose another output_dir, "
            "or fix its permissions."
        )
    return (
        f"cannot write{where}: {what}. {advice} Files are written whole or not at all, "
        "so nothing is half-written."
    )


def show_config_keys(command: Command) -> None:
    """``--show-config``: every key of the command's schema with its default and description,
    then exit 0 without reading a config or doing any work."""
    for line in config_key_lines(command.name, config_keys(command.schema)):
        console.print(line, markup=False, highlight=False, soft_wrap=True)
    raise typer.Exit()


def typer_callback(command: Command) -> Callable[..., None]:
    """A function whose signature Typer reads: ``--config``, the command's flags, then bare
    words."""
    words_help = command.positional_help
    parameters = [
        inspect.Parameter("ctx", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=typer.Context),
        inspect.Parameter(
            "words",
            inspect.Parameter.POSITIONAL_OR_KEYWORD,
            default=None,
            annotation=Annotated[
                list[str] | None, typer.Argument(help=words_help, show_default=False)
            ],
        ),
        inspect.Parameter(
            "config", inspect.Parameter.POSITIONAL_OR_KEYWORD, default=None, annotation=ConfigOption
        ),
        inspect.Parameter(
            "show_config",
            inspect.Parameter.POSITIONAL_OR_KEYWORD,
            default=False,
            annotation=ShowConfigOption,
        ),
    ]
    for flag in command.flags:
        kind: Any = {"bool": bool, "text": str | None, "list": list[str] | None}[flag.kind]
        parameters.append(
            inspect.Parameter(
                f"flag_{flag.key}",
                inspect.Parameter.POSITIONAL_OR_KEYWORD,
                default=False if flag.kind == "bool" else None,
                annotation=Annotated[kind, typer.Option(*flag.names, help=flag.help)],
            )
        )

    def callback(
        ctx: typer.Context,
        words: list[str] | None,
        config: Path | None,
        show_config: bool,
        **flags: Any,
    ) -> None:
        if show_config:
            show_config_keys(command)
        debug = bool(ctx.obj and ctx.obj.get("debug"))
        try:
            overrides = command_overrides(command, list(words or []), flags)
        except ConfigError as exc:
            error_console.print(labelled("error:", str(exc)), highlight=False, soft_wrap=True)
            raise typer.Exit(code=exc.exit_code) from None
        execute(command, config, overrides, debug)

    callback.__signature__ = inspect.Signature(parameters)  # type: ignore[attr-defined]
    callback.__annotations__ = {p.name: p.annotation for p in parameters}
    callback.__doc__ = command.help
    return callback


def print_version(value: bool) -> None:
    """``--version`` is eager: it answers before Typer asks for a command."""
    if value:
        console.print(f"seq2seq-es {__version__}")
        raise typer.Exit()


@app.callback()
def main_options(
    ctx: typer.Context,
    debug: Annotated[
        bool, typer.Option("--debug", help="Show tracebacks and library logs.")
    ] = False,
    verbose: Annotated[
        bool,
        typer.Option(
            "--verbose", help="Also print notes for tuning (the MFU peak and where it came from)."
        ),
    ] = False,
    version: Annotated[
        bool,
        typer.Option(
            "--version", help="Print the version and exit.", callback=print_version, is_eager=True
        ),
    ] = False,
) -> None:
    set_verbose(verbose)
    ctx.obj = {"debug": debug}


def register(root: typer.Typer, table: list[Command]) -> None:
    """One Typer command per record; ``"model info"`` goes into the group ``model``."""
    groups: dict[str, typer.Typer] = {}
    for command in table:
        group, _, name = command.name.rpartition(" ")
        target = root
        if group:
            if group not in groups:
                groups[group] = typer.Typer(no_args_is_help=True, help=GROUP_HELP.get(group, ""))
                root.add_typer(groups[group], name=group)
            target = groups[group]
        target.command(name, help=command.help)(typer_callback(command))


register(app, commands())


def main() -> None:
    app()


if __name__ == "__main__":
    main()
