"""The decoding settings a model folder implies, so users need not repeat its task's settings.

Why: a model fine-tuned on a task was evaluated with that task's decoding (beams, target
length, length penalty, n-gram blocking) and trained on sources cut at its source length;
``predict`` and ``serve`` on the same folder should decode the same way unless told
otherwise. Where the settings come from, first match wins:

1. ``decoding.json`` in the folder (``DECODING_FILE``): written next to the weights by
   whoever knows the task (``write_decoding_file``), and carried along by exports;
2. the run the folder belongs to: ``finetune`` writes ``<run>/model`` beside the run's
   ``config.yaml`` (its ``task``) and ``scores.json`` (its ``decoding``). The task's own
   settings need the task registry, a higher layer, so the caller passes a lookup
   (``task_defaults``); without one, ``scores.json``'s decoding is used;
3. ``generation_config.json`` / ``config.json`` (a hub or pretraining folder), then the
   fallbacks of ``config.py`` (greedy, 128 new tokens).

Reads only small JSON/YAML files: no torch, no transformers.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import Field, ValidationError

from seq2seq_es.config import StrictModel
from seq2seq_es.errors import CheckpointError, Seq2SeqEsError
from seq2seq_es.files import write_json
from seq2seq_es.inference.config import GenerationOptions

DECODING_FILE = "decoding.json"
FALLBACK_SOURCE_LENGTH = 512
# transformers writes tokenizer_config.json's model_max_length as ~1e30 when it is unknown.
LARGEST_PLAUSIBLE_LENGTH = 1_000_000
_DECODING_KEYS = ("num_beams", "max_new_tokens", "length_penalty", "no_repeat_ngram_size")


@dataclass(frozen=True)
class ModelDefaults:
    """What a folder implies: decoding options, the source length, its task, and where they came
    from."""

    generation: GenerationOptions
    max_source_length: int
    task: str | None = None
    source: str = "fallback"


class DecodingFile(StrictModel):
    """The schema of ``decoding.json``."""

    task: str | None = None
    max_source_length: int = Field(ge=1)
    generation: GenerationOptions


TaskLookup = Callable[[str], ModelDefaults]


def write_decoding_file(folder: str | Path, defaults: ModelDefaults) -> Path:
    """Store ``defaults`` as ``<folder>/decoding.json`` (atomically), for
    ``read_model_defaults``."""
    path = Path(folder) / DECODING_FILE
    data = DecodingFile(
        task=defaults.task,
        max_source_length=defaults.max_source_length,
        generation=defaults.generation,
    )
    write_json(
        path,
        {
            "task": data.task,
            "max_source_length": data.max_source_length,
            "generation": data.generation.model_dump(mode="json", exclude_defaults=True),
        },
    )
    return path


def read_model_defaults(
    model_dir: str | Path, task_defaults: TaskLookup | None = None
) -> ModelDefaults:
    """The decoding defaults of ``model_dir`` (see the module docstring for the order)."""
    folder = Path(model_dir)
    if (folder / DECODING_FILE).is_file():
        return _from_decoding_file(folder / DECODING_FILE)
    run = _run_of(folder)
    if run is not None:
        return _from_run(folder, *run, task_defaults)
    return _from_model_files(folder)


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CheckpointError(
            f"{path}: cannot be read as JSON ({exc}). Fix or delete the file."
        ) from None
    if not isinstance(data, dict):
        raise CheckpointError(f"{path}: expected a JSON object, got {type(data).__name__}.")
    return data


def _from_decoding_file(path: Path) -> ModelDefaults:
    try:
        data = DecodingFile.model_validate(_read_json(path))
    except ValidationError as exc:
        raise CheckpointError(
            f"{path}: not a valid decoding file ({exc.error_count()} error(s): "
            f"{exc.errors()[0]['loc']} {exc.errors()[0]['msg']}). Fix or delete it."
        ) from None
    return ModelDefaults(data.generation, data.max_source_length, data.task, str(path))


def _run_of(folder: Path) -> tuple[Path, str] | None:
    """``(run folder, task)`` when ``folder`` sits in a run whose config.yaml names a task."""
    config = folder.parent / "config.yaml"
    if not config.is_file():
        return None
    try:
        data = yaml.safe_load(config.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return None  # not a run record we can read: the folder's own files decide
    task = data.get("task") if isinstance(data, dict) else None
    return (folder.parent, task) if isinstance(task, str) and task else None


def _decoding_overrides(values: Any) -> GenerationOptions:
    """The decoding keys of a mapping (a run's ``generation`` or ``decoding``), ignoring the
    others."""
    if not isinstance(values, dict):
        return GenerationOptions()
    picked = {key: values[key] for key in _DECODING_KEYS if values.get(key) is not None}
    try:
        return GenerationOptions.model_validate(picked)
    except ValidationError:
        return GenerationOptions()


def _from_run(
    folder: Path, run: Path, task: str, task_defaults: TaskLookup | None
) -> ModelDefaults:
    base = _task_lookup(task_defaults, task)
    if base is not None:
        config = yaml.safe_load((run / "config.yaml").read_text(encoding="utf-8"))
        generation = base.generation.overridden_by(_decoding_overrides(config.get("generation")))
        length = config.get("max_source_length") or base.max_source_length  # the run's own
        return ModelDefaults(generation, length, task, f"task {task} ({run / 'config.yaml'})")
    own = _from_model_files(folder)
    scores = run / "scores.json"
    if scores.is_file():
        decoding = _decoding_overrides(_read_json(scores).get("decoding"))
        return ModelDefaults(
            own.generation.overridden_by(decoding), own.max_source_length, task, str(scores)
        )
    return ModelDefaults(own.generation, own.max_source_length, task, own.source)


def _task_lookup(task_defaults: TaskLookup | None, task: str) -> ModelDefaults | None:
    """The task's settings, or None when there is no lookup or it does not know the task
    (a task YAML given by a path relative to where ``finetune`` ran)."""
    if task_defaults is None:
        return None
    try:
        return task_defaults(task)
    except Seq2SeqEsError:
        return None


def _from_model_files(folder: Path) -> ModelDefaults:
    """Settings stored by transformers: generation_config.json, config.json,
    tokenizer_config.json."""
    generation = GenerationOptions()
    source = "fallback"
    path = folder / "generation_config.json"
    if path.is_file():
        stored = _read_json(path)
        if stored.get("max_new_tokens") is None and isinstance(stored.get("max_length"), int):
            # max_length counts the decoder start token; transformers saves it only when set on
            # purpose.
            stored["max_new_tokens"] = max(1, stored["max_length"] - 1)
        generation = _decoding_overrides(stored)
        source = str(path)
    return ModelDefaults(generation, _source_length(folder), None, source)


def _source_length(folder: Path) -> int:
    """The longest input the tokenizer or the model's positions allow, else 512."""
    for name, keys in (
        ("tokenizer_config.json", ("model_max_length",)),
        ("config.json", ("max_encoder_position_embeddings", "max_position_embeddings")),
    ):
        path = folder / name
        if not path.is_file():
            continue
        data = _read_json(path)
        for key in keys:
            value = data.get(key)
            if isinstance(value, int) and 0 < value < LARGEST_PLAUSIBLE_LENGTH:
                return value
    return FALLBACK_SOURCE_LENGTH
