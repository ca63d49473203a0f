"""Expand a grid config into jobs: prepare jobs, then one cell per model × task × seed × axes.

A job is a folder and a list of steps; a step is one ``seq2seq-es`` command line. Each
step has a hash of everything that decides its output: its resolved arguments, the
contents of the config files it reads (``-c FILE``, task YAML files), the hash of the
step before it and of the prepare jobs it uses. A rerun compares these hashes with the
ones recorded in the job's ``status.json``, so only missing or changed work runs (the
hash does not cover the data files' contents or the package's code: a new code version
reruns nothing by itself; delete a cell's folder, or change a setting, to redo it).

The default cell pipeline is::

    finetune  → <cell>/finetune/   (model/, predictions.jsonl + scores.json of validation,
                                    with the reference NLL)
    eval      → <cell>/eval/       (only when the evaluation split is not validation)
    score     → <cell>/scores.json (the leaderboard's metrics on the evaluated predictions)
    cross-*   → <cell>/cross/<task>/ (cross-domain evaluations, if any)

``finetune`` already decodes the validation split with the model it selected, so the
validation predictions are not decoded twice; ``score`` re-scores them with the
leaderboard's metrics (e.g. adds paper-compatible ROUGE), which is cheap and lets a
change of metrics rerun only scoring.
"""

from __future__ import annotations

import fnmatch
import hashlib
import itertools
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

from seq2seq_es.bench.config import BenchConfig, ModelEntry, Overrides, StepTemplate, TaskEntry
from seq2seq_es.bench.network import model_needs, task_needs
from seq2seq_es.bench.step_settings import (
    CONFIG_FLAGS,
    SettingProblem,
    refuse_problems,
    step_problems,
)
from seq2seq_es.errors import ConfigError
from seq2seq_es.tasks.registry import TaskSpec, get_task

# Leaderboard scores per task kind (metric.score): the paper's headline numbers, with the
# Spanish-correct ROUGE beside the paper-compatible one.
DEFAULT_COLUMNS: dict[str, list[str]] = {
    "summarization": ["rouge.rouge1", "rouge-paper.rouge1", "rouge.rougeL", "rouge-paper.rougeL"],
    "qa": ["rouge.rouge1", "rouge-paper.rouge1"],
    "translation": ["bleu.score", "chrf.score"],
    "split_rephrase": ["sari-evaluate.sari", "bleu.score"],
    "dialogue": ["unigram-f1.f1", "meteor.meteor"],
    "copy": ["chrf.score"],
}
_PLACEHOLDER = re.compile(r"\{([A-Za-z_]+(?:\.[A-Za-z0-9_.-]+)?)\}")
LENGTH_KEYS = ("max_source_length", "max_target_length")  # finetune's, passed on to eval
PREPARE_OUTPUT = (
    "output"  # a prepare job's {output}: beside its status.json and logs/, never holding them
)


@dataclass(frozen=True)
class Step:
    """One command line of a job; ``argv`` follows ``seq2seq-es`` (or ``python -m
    seq2seq_es.cli``)."""

    name: str
    argv: tuple[str, ...]
    hash: str
    output: str | None = None  # folder the step owns, relative to the job folder
    resumable: bool = False
    distributed: bool = False


@dataclass(frozen=True)
class Job:
    """A prepare job or a cell: a folder, its steps, the prepare jobs it needs, what it needs
    online."""

    kind: Literal["prepare", "cell"]
    id: str
    folder: str
    steps: tuple[Step, ...]
    requires: tuple[str, ...] = ()
    network: tuple[str, ...] = ()
    labels: dict[str, Any] = field(default_factory=dict)
    resolved: dict[str, Any] = field(default_factory=dict)

    @property
    def hash(self) -> str:
        return digest([s.hash for s in self.steps])


@dataclass(frozen=True)
class Plan:
    prepare: tuple[Job, ...]
    cells: tuple[Job, ...]

    @property
    def jobs(self) -> tuple[Job, ...]:
        return self.prepare + self.cells

    def job(self, job_id: str) -> Job:
        return next(j for j in self.jobs if j.id == job_id)


def digest(data: Any) -> str:
    """A short stable hash of JSON-able data."""
    text = json.dumps(data, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def slug(text: object) -> str:
    """A folder-safe name: 'BARTO tiny' → 'barto-tiny', 'adapter.kind' → 'adapter.kind'."""
    return re.sub(r"[^a-z0-9_.]+", "-", str(text).lower()).strip("-") or "x"


def flatten(overrides: Overrides, prefix: str = "") -> dict[str, Any]:
    """Nested or dotted mappings → one dotted mapping (``{optim: {lr: 1}}`` → ``{optim.lr: 1}``)."""
    flat: dict[str, Any] = {}
    for key, value in overrides.items():
        dotted = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            flat.update(flatten(value, dotted + "."))
        else:
            flat[dotted] = value
    return flat


def format_value(value: Any) -> str:
    """A value written so that the CLI's ``key=value`` parser (YAML) reads back the same value."""
    if isinstance(value, str) and value:
        try:
            if yaml.safe_load(value) == value:
                return value
        except yaml.YAMLError:
            pass
    text = yaml.safe_dump(value, default_flow_style=True, allow_unicode=True, width=10**9).strip()
    return text.removesuffix("...").strip()


def override_args(overrides: dict[str, Any]) -> list[str]:
    return [f"{key}={format_value(value)}" for key, value in overrides.items()]


def fill(template: str, values: dict[str, str], where: str) -> str:
    """Replace ``{name}`` / ``{prepare.job}`` placeholders; unknown names are a ConfigError."""

    def replace(match: re.Match[str]) -> str:
        key = match.group(1)
        if key not in values:
            known = ", ".join(sorted(values))
            raise ConfigError(f"{where}: unknown placeholder {{{key}}}. Known here: {known}.")
        return values[key]

    return _PLACEHOLDER.sub(replace, template)


def referenced_prepare(text: str) -> list[str]:
    return [
        m.group(1).split(".", 1)[1]
        for m in _PLACEHOLDER.finditer(text)
        if m.group(1).startswith("prepare.")
    ]


def config_files(argv: tuple[str, ...] | list[str]) -> list[str]:
    """Files whose content decides a step's output: ``-c FILE`` and YAML values (task files)."""
    files = [argv[k + 1] for k, token in enumerate(argv[:-1]) if token in CONFIG_FLAGS]
    for token in argv:
        value = token.partition("=")[2] if "=" in token else token
        if value.endswith((".yaml", ".yml")) and value not in files:
            files.append(value)
    return files


def file_digests(files: list[str], root: Path) -> dict[str, str]:
    """Content hash of each existing file (a missing one hashes as 'missing': the step will
    report it)."""
    result = {}
    for name in files:
        path = root / name if not Path(name).is_absolute() else Path(name)
        result[name] = (
            hashlib.sha256(path.read_bytes()).hexdigest()[:16] if path.is_file() else "missing"
        )
    return result


def make_step(
    name: str,
    argv: list[str],
    previous: str,
    root: Path,
    output: str | None = None,
    resumable: bool = False,
    distributed: bool = False,
) -> Step:
    key = {"argv": argv, "previous": previous, "files": file_digests(config_files(argv), root)}
    return Step(name, tuple(argv), digest(key), output, resumable, distributed)


def columns_for(entry: TaskEntry, spec: TaskSpec, config: BenchConfig) -> list[str]:
    """The leaderboard scores of a task: the entry's, else the config's by name or kind, else the
    default."""
    chosen = (
        entry.columns
        or config.leaderboard.columns.get(spec.name)
        or config.leaderboard.columns.get(spec.kind)
        or DEFAULT_COLUMNS.get(spec.kind)
        or [spec.selection_metric]
    )
    return list(chosen)


def score_metrics(spec: TaskSpec, columns: list[str]) -> list[str]:
    """The task's metrics plus those the leaderboard columns need, in a stable order."""
    metrics = list(spec.metrics)
    for column in columns:
        metric = column.split(".")[0]
        if metric not in metrics and metric != "nll":
            metrics.append(metric)
    return metrics


def _selected(name: str, wanted: list[str] | None) -> bool:
    return wanted is None or any(fnmatch.fnmatchcase(name, pattern) for pattern in wanted)


def _prepare_jobs(
    config: BenchConfig, root: Path, problems: list[SettingProblem]
) -> dict[str, Job]:
    """The prepare jobs, in order; what their commands would refuse goes into ``problems``."""
    base = f"{config.output_dir}/prepare"
    folders = {p.name: f"{base}/{slug(p.name)}" for p in config.prepare}
    jobs: dict[str, Job] = {}
    for entry in config.prepare:  # in order: a job may use the jobs listed before it
        values = {
            "output": f"{folders[entry.name]}/{PREPARE_OUTPUT}",
            "data_dir": config.data_dir,
            **{f"prepare.{name}": f"{folders[name]}/{PREPARE_OUTPUT}" for name in jobs},
        }
        argv = [fill(token, values, f"prepare job {entry.name!r}") for token in entry.argv]
        problems += step_problems(
            entry.name, argv[0], argv, root, {}, f"prepare[{entry.name}].argv"
        )
        requires = sorted({name for token in entry.argv for name in referenced_prepare(token)})
        upstream = digest([jobs[name].hash for name in requires])
        step = make_step(
            entry.name,
            argv,
            upstream,
            root,
            output=PREPARE_OUTPUT,
            resumable=entry.resumable,
            distributed=entry.distributed,
        )
        network = tuple(
            sorted(
                {need for name in requires for need in jobs[name].network}
                | ({f"the hub (prepare job {entry.name})"} if entry.network else set())
            )
        )
        jobs[entry.name] = Job(
            "prepare",
            entry.name,
            folders[entry.name],
            (step,),
            tuple(requires),
            network,
            labels={"prepare": entry.name},
            resolved={"argv": argv},
        )
    return jobs


def _finetune_overrides(
    config: BenchConfig, model: ModelEntry, task: TaskEntry, axes: dict[str, Any]
) -> tuple[dict[str, Any], dict[str, str]]:
    """The cell's merged ``finetune`` settings (later wins), and the grid key that set each."""
    layers: list[tuple[str, Overrides]] = [
        ("finetune", config.finetune),
        (f"tasks[{task.name}].finetune", task.finetune),
        (f"models[{model.name}].finetune", model.finetune),
    ]
    layers += [
        (f"rules[{number}].finetune", rule.finetune)
        for number, rule in enumerate(config.rules)
        if fnmatch.fnmatchcase(model.name, rule.model) and fnmatch.fnmatchcase(task.name, rule.task)
    ]
    layers.append(("axes", axes))
    merged: dict[str, Any] = {}
    origins: dict[str, str] = {}
    for origin, layer in layers:
        flat = flatten(layer)
        merged.update(flat)
        origins.update(dict.fromkeys(flat, origin))
    return merged, origins


def _evaluation_origins(config: BenchConfig, task: TaskEntry) -> dict[str, str]:
    """The grid keys behind ``_evaluation_args``' settings."""
    examples = (
        f"tasks[{task.name}].max_examples"
        if task.max_examples is not None
        else "evaluation.max_examples"
    )
    return {
        "bootstrap_samples": "evaluation.bootstrap_samples",
        "max_examples": examples,
        "max_eval_examples": examples,
        "decode_batch_size": "evaluation.decode_batch_size",
        **{
            f"generation.{k}": "evaluation.generation"
            for k in flatten(config.evaluation.generation)
        },
    }


def setting_sources(
    config: BenchConfig,
    model: ModelEntry,
    task: TaskEntry,
    finetune: dict[str, Any],
    origins: dict[str, str],
) -> dict[str, dict[str, Any]]:
    """Each finetune setting of a cell with the grid key that set it and that entry's
    ``source``: what ``bench --dry-run`` shows, so a reproduction says where every number
    comes from (the authors' script and line, or "ours")."""
    sources = {
        "finetune": config.finetune_source,
        f"tasks[{task.name}].finetune": task.source,
        f"models[{model.name}].finetune": model.source,
        "axes": "a value of the grid's axes",
        **{f"rules[{n}].finetune": rule.source for n, rule in enumerate(config.rules)},
    }
    return {
        key: {"value": value, "from": origins[key], "source": sources.get(origins[key], "")}
        for key, value in finetune.items()
    }


def _excluded(config: BenchConfig, model: ModelEntry, task: TaskEntry) -> bool:
    if model.tasks is not None and task.name not in model.tasks:
        return True
    return any(
        rule.skip
        and fnmatch.fnmatchcase(model.name, rule.model)
        and fnmatch.fnmatchcase(task.name, rule.task)
        for rule in config.rules
    )


def _evaluation_args(
    config: BenchConfig, examples_key: str, task: TaskEntry | None = None
) -> dict[str, Any]:
    evaluation = config.evaluation
    args: dict[str, Any] = {"bootstrap_samples": evaluation.bootstrap_samples}
    examples = (
        task.max_examples
        if task is not None and task.max_examples is not None
        else evaluation.max_examples
    )
    if examples is not None:
        args[examples_key] = examples
    args.update({f"generation.{k}": v for k, v in flatten(evaluation.generation).items()})
    if evaluation.decode_batch_size is not None:
        args["decode_batch_size"] = evaluation.decode_batch_size
    return args


def default_pipeline(
    config: BenchConfig,
    cell: str,
    task: TaskEntry,
    spec: TaskSpec,
    model_path: str,
    model: ModelEntry,
    seed: int,
    finetune: dict[str, Any],
) -> list[tuple[str, list[str], dict[str, Any]]]:
    """(name, argv, step options) of finetune → [eval] → score → cross evaluations."""
    split = config.evaluation.split
    identity = {
        "task": task.name,
        "data_dir": config.data_dir,
        "model": model_path,
        **({"tokenizer": model.tokenizer} if model.tokenizer else {}),
        **({"model_revision": model.revision} if model.revision else {}),
        "output_dir": f"{cell}/finetune",
        "seed": seed,
    }
    decoding = {  # e.g. BERT2BERT's decoding; lengths a model was fine-tuned with (BETO: 512)
        k: v for k, v in finetune.items() if k.startswith("generation.") or k in LENGTH_KEYS
    }
    steps: list[tuple[str, list[str], dict[str, Any]]] = [
        (
            "finetune",
            [
                "finetune",
                *override_args(
                    {**identity, **_evaluation_args(config, "max_eval_examples", task), **finetune}
                ),
            ],
            {"output": "finetune", "resumable": True, "distributed": True},
        )
    ]
    decoded = f"{cell}/finetune"
    trained = f"{cell}/finetune/model"
    if split != "validation":
        steps.append(
            (
                "eval",
                [
                    "eval",
                    *override_args(
                        {
                            "task": task.name,
                            "data_dir": config.data_dir,
                            "model": trained,
                            "split": split,
                            "output_dir": f"{cell}/eval",
                            **_evaluation_args(config, "max_examples", task),
                            **decoding,
                        }
                    ),
                ],
                {"output": "eval"},
            )
        )
        decoded = f"{cell}/eval"
    columns = columns_for(task, spec, config)
    steps.append(
        (
            "score",
            [
                "score",
                *override_args(
                    {
                        "predictions": f"{decoded}/predictions.jsonl",
                        "metrics": score_metrics(spec, columns),
                        "output": f"{cell}/scores.json",
                        "bootstrap_samples": config.evaluation.bootstrap_samples,
                        "allow_empty_predictions": True,
                    }
                ),
            ],
            {},
        )
    )
    for other in task.cross_eval:
        steps.append(
            (
                f"cross-{slug(Path(other).stem if other.endswith(('.yaml', '.yml')) else other)}",
                [
                    "eval",
                    *override_args(
                        {
                            "task": other,
                            "data_dir": config.data_dir,
                            "model": trained,
                            "split": split,
                            "output_dir": f"{cell}/cross/{slug(other)}",
                            **_evaluation_args(config, "max_examples"),
                            **decoding,
                        }
                    ),
                ],
                {"output": f"cross/{slug(other)}"},
            )
        )
    return steps


def _custom_pipeline(
    templates: list[StepTemplate], values: dict[str, str], where: str
) -> list[tuple[str, list[str], dict[str, Any]]]:
    return [
        (
            t.name,
            [fill(token, values, f"{where}, step {t.name!r}") for token in t.argv],
            {"output": t.output, "resumable": t.resumable, "distributed": t.distributed},
        )
        for t in templates
    ]


def load_task(name: str, root: Path) -> TaskSpec:
    """A registered task, or a task YAML file relative to ``root``."""
    if name.endswith((".yaml", ".yml")) and not Path(name).is_absolute():
        return get_task(str(root / name))
    return get_task(name)


def cell_id(model: ModelEntry, spec: TaskSpec, seed: int, axes: dict[str, Any]) -> str:
    return "__".join(
        [
            slug(model.name),
            slug(spec.name),
            f"s{seed}",
            *(f"{slug(k)}-{slug(v)}" for k, v in axes.items()),
        ]
    )


def expand(config: BenchConfig, root: str | Path = ".") -> Plan:
    """Every job of the grid, in run order; ``root`` is where relative paths are read from."""
    root = Path(root)
    problems: list[SettingProblem] = []
    prepare = _prepare_jobs(config, root, problems)
    prepare_folders = {
        f"prepare.{name}": f"{job.folder}/{PREPARE_OUTPUT}" for name, job in prepare.items()
    }
    specs = {task.name: load_task(task.name, root) for task in config.tasks}
    axis_values = [
        dict(zip(config.axes, combo, strict=True))
        for combo in itertools.product(*config.axes.values())
    ]
    splits = ["train", "validation"] + (
        [config.evaluation.split] if config.evaluation.split != "validation" else []
    )
    cells: list[Job] = []
    for model, task, seed, axes in itertools.product(
        config.models, config.tasks, config.seeds, axis_values
    ):
        if _excluded(config, model, task):
            continue
        if not (
            _selected(model.name, config.only_models) and _selected(task.name, config.only_tasks)
        ):
            continue
        spec = specs[task.name]
        where = f"model {model.name!r}"
        model_path = fill(model.model, prepare_folders, where)
        requires = sorted(
            set(referenced_prepare(model.model)) | set(referenced_prepare(model.tokenizer or ""))
        )
        identifier = cell_id(model, spec, seed, axes)
        folder = f"{config.output_dir}/cells/{identifier}"
        finetune, origins = _finetune_overrides(config, model, task, axes)
        origins = {**_evaluation_origins(config, task), **origins}
        tokenizer = fill(model.tokenizer, prepare_folders, where) if model.tokenizer else None
        if config.pipeline is None:
            resolved_model = model.model_copy(update={"tokenizer": tokenizer})
            raw_steps = default_pipeline(
                config, folder, task, spec, model_path, resolved_model, seed, finetune
            )
        else:
            values = {
                "cell_dir": folder,
                "model": model_path,
                "model_name": model.name,
                "task": task.name,
                "task_name": spec.name,
                "seed": str(seed),
                "data_dir": config.data_dir,
                "split": config.evaluation.split,
                "tokenizer": tokenizer or "",
                **prepare_folders,
                **{f"axis.{k}": str(v) for k, v in axes.items()},
            }
            raw_steps = _custom_pipeline(config.pipeline, values, f"cell {identifier}")
        for name, argv, _options in raw_steps:
            if config.pipeline is None:  # the grid's merged settings: name the key that set one
                problems += step_problems(
                    identifier, name, argv, root, origins, f"models[{model.name}]"
                )
            else:
                problems += step_problems(identifier, name, argv, root, {}, f"pipeline[{name}]")
        previous = digest([prepare[name].hash for name in requires])
        steps = []
        for name, argv, options in raw_steps:
            step = make_step(name, argv, previous, root, **options)
            steps.append(step)
            previous = step.hash
        needs = [need for name in requires for need in prepare[name].network]
        needs += model_needs(model_path) + task_needs(spec, config.data_dir, splits)
        needs += [
            n
            for other in task.cross_eval
            for n in task_needs(load_task(other, root), config.data_dir, [config.evaluation.split])
        ]
        labels = {
            "model": model.name,
            "task": spec.name,
            "task_entry": task.name,
            "seed": seed,
            "axes": axes,
        }
        resolved = {
            "model": model.model_dump(),
            "model_path": model_path,
            "task": spec.model_dump(),
            "seed": seed,
            "axes": axes,
            "finetune": finetune,
            "settings": setting_sources(config, model, task, finetune, origins),
            "evaluation": config.evaluation.model_dump(),
            "steps": [list(s.argv) for s in steps],
        }
        cells.append(
            Job(
                "cell",
                identifier,
                folder,
                tuple(steps),
                tuple(requires),
                tuple(dict.fromkeys(needs)),
                labels,
                resolved,
            )
        )
    refuse_problems(problems)
    used = {name for cell in cells for name in cell.requires}
    needed = _with_dependencies(used, prepare)
    return Plan(tuple(job for name, job in prepare.items() if name in needed), tuple(cells))


def _with_dependencies(names: set[str], jobs: dict[str, Job]) -> set[str]:
    result: set[str] = set()
    stack = list(names)
    while stack:
        name = stack.pop()
        if name not in result:
            result.add(name)
            stack.extend(jobs[name].requires)
    return result
