"""Schemas of human evaluation: the protocol (what annotators judge) and the four commands.

Light on purpose (pydantic, yaml and stdlib only): ``seq2seq-es humaneval create --help`` and
the validation of ``configs/humaneval/*.yaml`` must not load FastAPI, SciPy or the metrics.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator

from seq2seq_es.config import MAX_RESAMPLES, Seed, StrictModel, read_yaml, validate_config
from seq2seq_es.errors import ConfigError

TaskKind = Literal["summarization", "translation", "dialogue", "qa", "split_rephrase", "copy"]
IDENTIFIER = r"^[a-z][a-z0-9_]*$"


class Criterion(StrictModel):
    """One question asked about every output, answered on an integer scale."""

    name: str = Field(pattern=IDENTIFIER, description="Column name in exports, e.g. 'fluency'.")
    label: str = Field(description="Short name shown to annotators, e.g. 'Fluidez'.")
    question: str = Field(description="The question, in the annotators' language.")
    scale_min: int = 1
    scale_max: int = 5
    anchors: dict[int, str] = Field(
        default_factory=dict, description="What some scale points mean, e.g. {1: 'incomprensible'}."
    )

    @model_validator(mode="after")
    def _scale(self) -> Criterion:
        if self.scale_max <= self.scale_min:
            raise ValueError(f"criterion {self.name!r}: scale_max must be above scale_min")
        outside = [k for k in self.anchors if not self.scale_min <= k <= self.scale_max]
        if outside:
            raise ValueError(f"criterion {self.name!r}: anchors {outside} are outside the scale")
        return self

    @property
    def values(self) -> list[int]:
        return list(range(self.scale_min, self.scale_max + 1))


class Protocol(StrictModel):
    """What annotators see and judge; one YAML file per task kind under ``protocols/``."""

    name: str
    task_kind: TaskKind
    title: str
    instructions: str = Field(
        description="Shown on every page; the full text is docs/human-eval-protocol.md."
    )
    source_label: str = "Texto de entrada"
    show_reference: bool = Field(
        False, description="Show the reference output (e.g. a QA gold answer)."
    )
    reference_label: str = "Referencia"
    criteria: list[Criterion] = Field(min_length=1)
    pairwise_preference: bool = Field(
        False,
        description="Also ask which output is better overall "
        "(asked only when the study has two systems).",
    )
    preference_question: str = "En conjunto, ¿qué salida es mejor?"
    metrics: list[str] = Field(
        default_factory=list,
        description="Automatic metrics correlated with the human scores per item, "
        "as metric.score (e.g. chrf.score, rouge.rougeL).",
    )

    @model_validator(mode="after")
    def _unique(self) -> Protocol:
        names = [c.name for c in self.criteria]
        if len(set(names)) != len(names):
            raise ValueError(f"protocol {self.name!r}: criterion names must be unique, got {names}")
        if "preference" in names:
            raise ValueError("'preference' is reserved for the pairwise question")
        return self


BUILT_IN_PROTOCOLS = ("summarization", "translation", "dialogue", "qa")


def load_protocol(name_or_path: str) -> Protocol:
    """A built-in protocol by task kind (``translation``) or a protocol YAML file."""
    if name_or_path.endswith((".yaml", ".yml")):
        return validate_config(Protocol, read_yaml(name_or_path), name_or_path)
    if name_or_path not in BUILT_IN_PROTOCOLS:
        raise ConfigError(
            f"Unknown protocol {name_or_path!r}. Built-in protocols: "
            f"{', '.join(BUILT_IN_PROTOCOLS)}; or pass the path of a protocol YAML file "
            "(copy one from src/seq2seq_es/humaneval/protocols/)."
        )
    resource = resources.files("seq2seq_es.humaneval") / "protocols" / f"{name_or_path}.yaml"
    with resources.as_file(resource) as path:
        return validate_config(Protocol, read_yaml(path), f"built-in protocol {name_or_path!r}")


class CreateConfig(StrictModel):
    """``humaneval create``: a blind, randomized study from two or more systems' predictions."""

    predictions: list[str] = Field(
        min_length=2, description="predictions.jsonl of each system, same ids."
    )
    systems: list[str] | None = Field(
        None, description="System names (default: from the file paths)."
    )
    protocol: str = Field(
        description="Built-in protocol (summarization, translation, dialogue, qa) "
        "or a protocol YAML file."
    )
    output_dir: str = Field(
        "runs/humaneval/study", description="The study folder; must not exist or be empty."
    )
    n_items: int = Field(50, ge=1, description="Items sampled from the ids common to all systems.")
    repeat_share: float = Field(
        0.1,
        ge=0,
        le=0.5,
        description="Share of items shown twice to each annotator (intra-annotator consistency).",
    )
    annotators: int | list[str] = Field(3, description="How many annotators, or their names.")
    seed: Seed = 12345

    @model_validator(mode="after")
    def _names(self) -> CreateConfig:
        if isinstance(self.annotators, int) and self.annotators < 1:
            raise ValueError("annotators must be at least 1")
        if isinstance(self.annotators, list) and (
            not self.annotators or len(set(self.annotators)) != len(self.annotators)
        ):
            raise ValueError("annotator names must be non-empty and unique")
        if self.systems is not None and len(self.systems) != len(self.predictions):
            raise ValueError(f"give one system name per predictions file ({len(self.predictions)})")
        return self

    def annotator_names(self) -> list[str]:
        if isinstance(self.annotators, int):
            return [f"anotador-{k}" for k in range(1, self.annotators + 1)]
        return list(self.annotators)


class ServeConfig(StrictModel):
    """``humaneval serve``: the annotation web app of one study."""

    study: str = Field(description="A study folder made by `humaneval create`.")
    host: str = Field(
        "127.0.0.1", description="Interface to listen on (0.0.0.0 to serve a network)."
    )
    port: int = Field(8765, ge=1, le=65535)


class AnalyzeConfig(StrictModel):
    """``humaneval analyze``: system scores, win rates, agreement and metric correlations."""

    study: str
    output_dir: str | None = Field(None, description="Default: <study>/analysis.")
    bootstrap_samples: int = Field(2000, ge=100, le=MAX_RESAMPLES)
    confidence: float = Field(0.95, gt=0, lt=1)
    seed: Seed = 12345
    min_share_rated: float = Field(
        0.5,
        ge=0,
        le=1,
        description="Exclusion rule: drop annotators who rated "
        "less than this share of their items.",
    )
    max_repeat_difference: float | None = Field(
        0.3,
        gt=0,
        description="Exclusion rule: drop annotators whose repeated ratings differ on average by "
        "more than this share of the scale width (0.3 = 1.2 points on 1-5, where random "
        "ratings differ by 1.6); None keeps everyone.",
    )
    min_repeats: int = Field(
        3, ge=1, description="The repeat rule applies only with at least this many repeats."
    )

    def resolved_output_dir(self) -> Path:
        return Path(self.output_dir) if self.output_dir else Path(self.study) / "analysis"


class ExportConfig(StrictModel):
    """``humaneval export``: every rating (unblinded) and per-item scores as CSV."""

    study: str
    output_dir: str | None = Field(None, description="Default: <study>/export.")

    def resolved_output_dir(self) -> Path:
        return Path(self.output_dir) if self.output_dir else Path(self.study) / "export"
