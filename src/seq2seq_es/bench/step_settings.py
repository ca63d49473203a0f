"""Check a grid's command lines against the schemas of the commands they run, at expansion time.

Why: a cell's ``finetune`` settings are merged from five places of the grid (``finetune``,
the task's, the model's, ``rules``, ``axes``); a misspelt key (``optim.lrr``) or a bad value
would otherwise fail only when that cell's ``finetune`` starts, hours into a grid, after
every job before it ran. Validating every step whose command has a schema here (the
training and evaluation commands) makes ``bench`` and ``bench --dry-run`` refuse such a grid
in a second, naming the grid key that set the bad setting. The schemas are the commands'
own (``load_config`` reads the ``-c`` file and applies the ``key=value`` overrides exactly
as the CLI does), so a setting accepted here is one the command accepts.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from pydantic import ValidationError

from seq2seq_es.config import StrictModel, apply_overrides, read_yaml, valid_keys
from seq2seq_es.errors import ConfigError
from seq2seq_es.pretraining.config import PretrainConfig
from seq2seq_es.tasks.config import EvalConfig, FinetuneConfig

CONFIG_FLAGS = ("-c", "--config")
# The commands whose steps are validated, by the name a step's argv starts with (a test checks
# that each is the schema of the CLI command of that name).
STEP_SCHEMAS: dict[str, type[StrictModel]] = {
    "finetune": FinetuneConfig,
    "eval": EvalConfig,
    "pretrain": PretrainConfig,
}


@dataclass(frozen=True)
class SettingProblem:
    """A setting of one job's step that its command would refuse, and the grid key that set it."""

    job: str
    step: str
    key: str
    origin: str
    message: str


def step_problems(
    job: str,
    step: str,
    argv: Sequence[str],
    root: Path,
    origins: Mapping[str, str],
    default_origin: str,
) -> list[SettingProblem]:
    """What ``argv``'s command would refuse of its settings (nothing for a command without a
    schema here).

    ``origins`` maps an override key (``optim.lr``) to the grid key that set it
    (``models[BARTO].finetune``); a key not in it is blamed on its ``-c`` file, else on
    ``default_origin``. Flags (``--resume``) and bare words are the CLI's, not settings.
    """
    schema = STEP_SCHEMAS.get(argv[0]) if argv else None
    if schema is None:
        return []
    config_file: str | None = None
    overrides: list[str] = []
    tokens = iter(argv[1:])
    for token in tokens:
        if token in CONFIG_FLAGS:
            config_file = next(tokens, None)
        elif "=" in token and not token.startswith("-"):
            overrides.append(token)
    fallback = config_file or default_origin
    try:
        data = read_yaml(root / config_file) if config_file else {}
        data = apply_overrides(data, overrides)
        schema.model_validate(data)
    except ConfigError as exc:
        return [SettingProblem(job, step, "", fallback, str(exc))]
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            loc = tuple(str(part) for part in error["loc"])
            key = ".".join(loc)
            origin = next(
                (
                    origins[".".join(loc[:n])]
                    for n in range(len(loc), 0, -1)
                    if ".".join(loc[:n]) in origins
                ),
                fallback,
            )
            if error["type"] == "extra_forbidden":
                valid = ", ".join(valid_keys(schema, tuple(error["loc"])))
                message = f"unknown key '{key}' (valid keys here: {valid})"
            else:
                message = f"key '{key}': {error['msg']} (got {error.get('input')!r})"
            problems.append(SettingProblem(job, step, key, origin, message))
        return problems
    return []


def refuse_problems(problems: Sequence[SettingProblem]) -> None:
    """Raise one ``ConfigError`` listing every problem once, with the jobs it reaches."""
    if not problems:
        return
    grouped: dict[tuple[str, str, str], list[str]] = {}
    for problem in problems:
        jobs = grouped.setdefault((problem.origin, problem.message, problem.step), [])
        if problem.job not in jobs:
            jobs.append(problem.job)
    lines = [
        f"  - {origin}: {message}; `{step}` of {jobs[0]}"
        + (f" and {len(jobs) - 1} more job(s)" if len(jobs) > 1 else "")
        for (origin, message, step), jobs in grouped.items()
    ]
    raise ConfigError(
        "The grid sets what its commands would refuse (each job would fail when it starts):\n"
        + "\n".join(lines)
        + "\nFix these keys in the grid YAML (or the config file named), then run it again."
    )
