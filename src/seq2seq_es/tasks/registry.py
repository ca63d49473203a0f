"""The task registry: one entry per task, as data.

Why data: a task is only a source of (input, target) pairs plus the settings to
train, decode and score it; keeping those as table rows means a new task is a few
lines (or a YAML file), not a new class.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from seq2seq_es.config import StrictModel, read_yaml, validate_config
from seq2seq_es.errors import ConfigError


class TaskSpec(StrictModel):
    """One downstream task read from local JSONL(.gz) files under a data folder."""

    name: str
    kind: str = Field(description="qa | translation | summarization | dialogue")
    train_file: str = Field(description="Path relative to the data folder.")
    validation_file: str
    id_field: str = "id"
    source_template: str = Field(description="str.format template over the record's fields.")
    target_field: str = Field(description="Dotted path to the target, e.g. answers.text.0")
    references_field: str | None = Field(None, description="Dotted path to all references (list), if several.")
    metrics: list[str] = Field(default_factory=lambda: ["bleu", "chrf", "rouge"])
    max_source_length: int = 256
    max_target_length: int = 64
    num_beams: int = 4


LOCAL_TASKS: dict[str, dict[str, object]] = {
    "squad-es-qa": dict(kind="qa", train_file="qa/squad_es_dev_small_train.jsonl.gz",
                        validation_file="qa/squad_es_dev_small_validation.jsonl.gz",
                        source_template="question: {question} context: {context}",
                        target_field="answers.text.0", references_field="answers.text",
                        metrics=["rouge", "bleu"], max_source_length=384, max_target_length=32),
    "tatoeba-es-en": dict(kind="translation", train_file="translation/tatoeba_es_en_train.jsonl.gz",
                          validation_file="translation/tatoeba_es_en_validation.jsonl.gz",
                          source_template="{es}", target_field="en", metrics=["bleu", "chrf"],
                          max_source_length=64, max_target_length=64),
    "tatoeba-en-es": dict(kind="translation", train_file="translation/tatoeba_es_en_train.jsonl.gz",
                          validation_file="translation/tatoeba_es_en_validation.jsonl.gz",
                          source_template="{en}", target_field="es", metrics=["bleu", "chrf"],
                          max_source_length=64, max_target_length=64),
    "legal-ar-sum": dict(kind="summarization", train_file="summarization/legal_ar_train.jsonl.gz",
                         validation_file="summarization/legal_ar_validation.jsonl.gz",
                         source_template="{document}", target_field="summary_lc", metrics=["rouge"],
                         max_source_length=512, max_target_length=128),
}


def task_names() -> list[str]:
    return sorted(LOCAL_TASKS)


def get_task(name: str) -> TaskSpec:
    """A registered task by name, or a task defined in a YAML file (path ending .yaml/.yml)."""
    if name.endswith((".yaml", ".yml")):
        return validate_config(TaskSpec, read_yaml(name), name)
    if name not in LOCAL_TASKS:
        raise ConfigError(f"Unknown task {name!r}. Registered tasks: {', '.join(task_names())}; "
                          "or pass the path of a task YAML file.")
    return TaskSpec.model_validate({"name": name, **LOCAL_TASKS[name]})


def task_file(task: TaskSpec, data_dir: str | Path, split: str) -> Path:
    relative = task.train_file if split == "train" else task.validation_file
    return Path(data_dir) / relative
