"""The task registry: one entry per task, as data.

Why data: a task is only a source of (input, target) pairs plus the settings to
train, decode and score it; keeping those as table rows means a new task is a few
lines (or a YAML file: ``--task my_task.yaml``), not a new class.

Two kinds of source:

* ``local``: JSONL(.gz) files under a data folder (the ``data_dir`` key, default
  ``../shared/data``), read offline; a single file can be split deterministically by
  a hash of the example id.
* ``hub``: a Hugging Face data set id, config and split names, as the paper used. An
  export of each split to ``<data_dir>/<task name>/<split>.jsonl`` is used instead
  when present, so every hub task also runs offline.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator

from seq2seq_es.config import StrictModel, did_you_mean, read_yaml, validate_config
from seq2seq_es.errors import ConfigError
from seq2seq_es.inference.config import GenerationOptions

Split = Literal["train", "validation", "test"]


class LocalSource(StrictModel):
    """Files relative to the data folder. ``file`` + ``validation_percent`` splits one file by id
    hash."""

    train: str | None = None
    validation: str | None = None
    test: str | None = None
    file: str | None = None
    validation_percent: int = Field(10, ge=1, le=50)

    @model_validator(mode="after")
    def _one_layout(self) -> LocalSource:
        if (self.file is None) == (self.validation is None):
            raise ValueError(
                "give either `file` (split by id hash) or at least `validation` (and `train`)"
            )
        return self


class HubSource(StrictModel):
    """A Hugging Face data set; ``splits`` maps our split names to ``[config:]split`` of the hub."""

    dataset: str
    config: str | None = None
    splits: dict[str, str] = Field(
        default_factory=lambda: {"train": "train", "validation": "validation", "test": "test"}
    )
    revision: str | None = None


# Every task decodes this way unless its ``decoding`` says otherwise: the paper's beam of 4.
PAPER_DECODING = GenerationOptions(num_beams=4, length_penalty=1.0, no_repeat_ngram_size=0)


class TaskSpec(StrictModel):
    name: str
    kind: Literal["summarization", "split_rephrase", "qa", "dialogue", "translation", "copy"]
    description: str = ""
    local: LocalSource | None = None
    hub: HubSource | None = None
    builder: Literal["records", "dialogue_turns"] = Field(
        "records",
        description="dialogue_turns: build (previous turns → next turn) pairs from utterance rows.",
    )
    id_field: str | None = "id"
    source_template: str = Field(
        description="Template over record fields, e.g. 'question: {question} context: {context}'."
    )
    target_field: str = Field(description="Dotted path to the training target, e.g. answers.text.0")
    references_fields: list[str] = Field(
        default_factory=list,
        description="Paths to all references (lists are flattened); default: the target.",
    )
    metrics: list[str] = Field(default_factory=lambda: ["bleu", "chrf", "rouge"])
    selection_metric: str = Field(
        "rouge.rougeL",
        description="metric.score used to pick the best checkpoint (higher is better).",
    )
    max_source_length: int = Field(512, ge=8)
    max_target_length: int = Field(128, ge=2)
    decoding: GenerationOptions = Field(
        GenerationOptions(),
        description="How to decode, over the paper's beam of 4 and max_target_length new tokens.",
    )
    source_language: str = Field(
        "es", description="ISO 639-1 language of the inputs (mBART-50's code: es → es_XX)."
    )
    target_language: str = Field("es", description="ISO 639-1 language of the targets.")
    model_hint: str | None = Field(
        None, description="e.g. 'led' for inputs longer than BART's 1,024 positions."
    )
    licence: str | None = None

    def decoding_defaults(self) -> GenerationOptions:
        """The task's decoding, every field the engines need filled: ``PAPER_DECODING`` and
        ``max_target_length`` new tokens, overridden by what ``decoding`` sets."""
        return PAPER_DECODING.model_copy(
            update={"max_new_tokens": self.max_target_length}
        ).overridden_by(self.decoding)

    @model_validator(mode="after")
    def _one_source(self) -> TaskSpec:
        if (self.local is None) == (self.hub is None):
            raise ValueError(f"task {self.name!r}: give exactly one of `local` or `hub`")
        if self.selection_metric.split(".")[0] not in self.metrics:
            raise ValueError(
                f"task {self.name!r}: selection_metric {self.selection_metric!r} is not one of its "
                f"metrics {self.metrics}"
            )
        return self


QA_TEMPLATE = "question: {question} context: {context}"
SUMMARY = dict(
    kind="summarization", metrics=["rouge", "rouge-paper"], selection_metric="rouge.rougeL"
)
TRANSLATION = dict(
    kind="translation",
    metrics=["bleu", "chrf"],
    selection_metric="bleu.score",
    max_source_length=128,
    max_target_length=128,
)
QA = dict(
    kind="qa",
    source_template=QA_TEMPLATE,
    target_field="answers.text.0",
    references_fields=["answers.text"],
    metrics=["rouge", "qa", "rouge-paper"],
    selection_metric="rouge.rouge1",
)
DIALOGUE = dict(
    kind="dialogue",
    metrics=["meteor", "unigram-f1"],
    selection_metric="unigram-f1.f1",
    source_template="{context}",
    target_field="response",
)


def _hub(dataset: str, config: str | None, **splits: str) -> dict[str, object]:
    return {"dataset": dataset, "config": config, **({"splits": splits} if splits else {})}


# The paper's tasks (arXiv 2309.11259, Table of tasks) on the Hugging Face hub.
PAPER_TASKS: dict[str, dict[str, object]] = {
    "mlsum-es": dict(
        SUMMARY,
        hub=_hub("mlsum", "es"),
        source_template="{text}",
        target_field="summary",
        max_source_length=512,
        max_target_length=48,
        id_field=None,
        licence="research only",
    ),
    "wikilingua-es": dict(
        SUMMARY,
        hub=_hub("GEM/wiki_lingua", "es"),
        source_template="{source}",
        target_field="target",
        id_field="gem_id",
        max_source_length=512,
        max_target_length=96,
        licence="CC BY-NC-SA 3.0",
    ),
    "xlsum-es": dict(
        SUMMARY,
        hub=_hub("csebuetnlp/xlsum", "spanish"),
        source_template="{text}",
        target_field="summary",
        max_source_length=512,
        max_target_length=128,
        licence="CC BY-NC-SA 4.0",
    ),
    "eurlex-sum-es": dict(
        SUMMARY,
        hub=_hub("dennlinger/eur-lex-sum", "spanish"),
        source_template="{reference}",
        target_field="summary",
        id_field="celex_id",
        max_source_length=16384,
        max_target_length=128,
        model_hint="led",
        licence="CC BY 4.0",
    ),
    "bisect-es": dict(
        kind="split_rephrase",
        hub=_hub("GEM/BiSECT", "es"),
        source_template="{source}",
        target_field="target",
        id_field="gem_id",
        metrics=["sari", "bleu"],
        selection_metric="sari.sari",
        max_source_length=128,
        max_target_length=128,
    ),
    "mlqa-es": dict(
        QA,
        hub=_hub(
            "mlqa",
            None,
            train="mlqa-translate-train.es:train",
            validation="mlqa-translate-train.es:validation",
            test="mlqa.es.es:test",
        ),
        max_source_length=384,
        max_target_length=30,
        licence="CC BY-SA 3.0",
    ),
    "sqac": dict(
        QA,
        hub=_hub("PlanTL-GOB-ES/SQAC", None),
        max_source_length=480,
        max_target_length=32,
        licence="CC BY-SA 4.0",
    ),
    "miam-dihana": dict(
        DIALOGUE,
        hub=_hub("miam", "dihana"),
        builder="dialogue_turns",
        id_field=None,
        max_source_length=256,
        max_target_length=64,
    ),
    "wmt13-es-en": dict(
        TRANSLATION,
        source_language="es",
        target_language="en",
        hub=_hub("vgaraujov/wmt13", "es-en"),
        source_template="{translation.es}",
        target_field="translation.en",
        id_field=None,
    ),
    "wmt13-en-es": dict(
        TRANSLATION,
        source_language="en",
        target_language="es",
        hub=_hub("vgaraujov/wmt13", "es-en"),
        source_template="{translation.en}",
        target_field="translation.es",
        id_field=None,
    ),
    "fapesp-es-pt": dict(
        TRANSLATION,
        source_language="es",
        target_language="pt",
        hub=_hub("vgaraujov/fapesp", "es-pt"),
        source_template="{translation.es}",
        target_field="translation.pt",
        id_field=None,
        licence="CC BY 2.0",
    ),
}

# Real Spanish tasks on the project's shared data (../shared/data; see its README).
LOCAL_TASKS: dict[str, dict[str, object]] = {
    "squad-es-qa": dict(
        QA,
        local={
            "train": "qa/squad_es_dev_small_train.jsonl.gz",
            "validation": "qa/squad_es_dev_small_validation.jsonl.gz",
        },
        max_source_length=384,
        max_target_length=32,
        licence="CC BY 4.0 (derived from CC BY-SA)",
    ),
    "tatoeba-es-en": dict(
        TRANSLATION,
        source_language="es",
        target_language="en",
        local={
            "train": "translation/tatoeba_es_en_train.jsonl.gz",
            "validation": "translation/tatoeba_es_en_validation.jsonl.gz",
        },
        source_template="{es}",
        target_field="en",
        max_source_length=64,
        max_target_length=64,
        licence="CC BY 2.0 FR",
    ),
    "tatoeba-en-es": dict(
        TRANSLATION,
        source_language="en",
        target_language="es",
        local={
            "train": "translation/tatoeba_es_en_train.jsonl.gz",
            "validation": "translation/tatoeba_es_en_validation.jsonl.gz",
        },
        source_template="{en}",
        target_field="es",
        max_source_length=64,
        max_target_length=64,
        licence="CC BY 2.0 FR",
    ),
    # News-domain evaluation only (no training split): cross-domain test of Tatoeba models.
    "ntrex-es-en": dict(
        TRANSLATION,
        source_language="es",
        target_language="en",
        local={"validation": "translation/ntrex128_es_en_dev.jsonl"},
        source_template="{es}",
        target_field="en",
        licence="CC BY-SA 4.0",
    ),
    "ntrex-en-es": dict(
        TRANSLATION,
        source_language="en",
        target_language="es",
        local={"validation": "translation/ntrex128_es_en_dev.jsonl"},
        source_template="{en}",
        target_field="es",
        references_fields=["es", "es_ref2", "es_mx"],
        licence="CC BY-SA 4.0",
    ),
    "legal-ar-sum": dict(
        SUMMARY,
        local={
            "train": "summarization/legal_ar_train.jsonl.gz",
            "validation": "summarization/legal_ar_validation.jsonl.gz",
        },
        source_template="{document}",
        target_field="summary_lc",
        max_source_length=512,
        max_target_length=128,
        licence="CC BY 4.0",
    ),
    "parlamint-dialogue": dict(
        DIALOGUE,
        local={"file": "dialogue/parlamint_dialogue.jsonl.gz"},
        max_source_length=256,
        max_target_length=64,
        licence="CC BY 4.0",
    ),
    "caldracor-dialogue": dict(
        DIALOGUE,
        local={"file": "dialogue/caldracor_dialogue.jsonl.gz"},
        max_source_length=256,
        max_target_length=64,
        licence="CC0 1.0",
    ),
}

REGISTRY: dict[str, dict[str, object]] = {**PAPER_TASKS, **LOCAL_TASKS}


def task_names() -> list[str]:
    return sorted(REGISTRY)


def get_task(name: str) -> TaskSpec:
    """A registered task by name, or a task defined in a YAML file (path ending .yaml/.yml)."""
    if name.endswith((".yaml", ".yml")):
        return validate_config(TaskSpec, read_yaml(name), name)
    if name not in REGISTRY:
        raise ConfigError(
            f"Unknown task {name!r}.{did_you_mean(name, task_names())} Registered tasks: "
            f"{', '.join(task_names())}; "
            "or pass the path of a task YAML file."
        )
    return validate_config(
        TaskSpec, {"name": name, **REGISTRY[name]}, f"task registry entry {name!r}"
    )


def local_export(task: TaskSpec, data_dir: str | Path, split: str) -> Path:
    """Where an offline export of a hub task's split is looked for."""
    return Path(data_dir) / task.name / f"{split}.jsonl"
