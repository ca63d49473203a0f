"""The schema of a benchmark grid (``configs/bench/*.yaml``): light, importable without torch.

A grid is models × tasks × seeds (× optional extra axes such as ``adapter.kind``). Each
cell fine-tunes one model on one task with one seed, decodes the evaluation split and
scores it; ``prepare`` jobs build what the models need first (a corpus, a tokenizer, a
pretrained checkpoint, a BERT2BERT warm start). Everything a cell runs is a
``seq2seq-es`` command line, so the same grid runs on a laptop, on Slurm (submitit) or as
a file of ``accelerate launch`` lines for any other scheduler.

Fine-tuning settings are ``key=value`` overrides of the ``finetune`` command, given as a
mapping (nested or dotted keys); they are merged in this order, later wins: ``evaluation``
(decoding, examples, bootstrap), the grid's ``finetune``, the task's, the model's, each
matching ``rules`` entry, the axis values. Their ``generation.*`` keys also reach the
steps that decode after fine-tuning (``eval`` on the test split, cross-domain).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from seq2seq_es.config import MAX_RESAMPLES, Seed, StrictModel, did_you_mean

Overrides = dict[str, Any]


class SlurmResources(StrictModel):
    """What one Slurm job (one cell, or one prepare job) asks for; passed to submitit."""

    partition: str | None = None
    account: str | None = None
    qos: str | None = None
    constraint: str | None = None
    nodes: int = Field(1, ge=1)
    gpus_per_node: int = Field(1, ge=0)
    tasks_per_node: int = Field(
        1,
        ge=1,
        description="1: the cell's command starts its own processes "
        "(accelerate); one task per GPU would start it several times.",
    )
    cpus_per_task: int = Field(8, ge=1)
    mem_gb: int = Field(64, ge=1)
    timeout_min: int = Field(24 * 60, ge=1)
    array_parallelism: int = Field(32, ge=1, description="Cells of one submission running at once.")
    setup: list[str] = Field(
        default_factory=list, description="Shell lines run first (module load, source venv)."
    )
    additional: dict[str, str | int] = Field(
        default_factory=dict, description="Other sbatch options."
    )


class ExecutorConfig(StrictModel):
    kind: Literal["local", "submitit", "commands"] = Field(
        "local",
        description="local: cells one after another here; submitit: one job per cell (Slurm, or "
        "submitit's local executor); commands: write one shell line per job, run nothing.",
    )
    cluster: Literal["slurm", "local", "debug"] | None = Field(
        None, description="submitit cluster (None: Slurm when sbatch is on the PATH, else local)."
    )
    slurm: SlurmResources = SlurmResources()
    wait: bool = Field(True, description="submitit: wait for the jobs, then write the leaderboard.")
    commands_file: str | None = Field(
        None,
        description="commands: the file to write (default "
        "<output_dir>/results/<name>/commands.sh).",
    )
    accelerate_config: str | None = Field(
        None,
        description="commands: `accelerate launch --config_file` "
        "for training steps (configs/accelerate/).",
    )
    python: str = Field("python", description="commands: the interpreter named in the file.")


class ModelEntry(StrictModel):
    """A row of the leaderboard."""

    name: str = Field(description="Row label, e.g. 'BARTO'.")
    model: str = Field(
        description="Hub id, model folder, preset (random init; needs `tokenizer`), or a "
        "prepare job's output such as '{prepare.pretrain-barto}/model'."
    )
    tokenizer: str | None = Field(None, description="Tokenizer folder, for a preset.")
    revision: str | None = Field(
        None,
        description="Hub commit of `model` (a hub id), passed as finetune's model_revision: the "
        "weights a row's numbers came from, even after the id is updated.",
    )
    tasks: list[str] | None = Field(
        None, description="Only these tasks (None: every task of the grid)."
    )
    finetune: Overrides = Field(default_factory=dict)
    source: str = Field(
        "",
        description="Where these settings come from (e.g. 'run_translation.sh:3-25'); shown "
        "beside each setting by `bench --dry-run`.",
    )
    facts: dict[str, float | str] = Field(
        default_factory=dict,
        description="Numbers for plots, e.g. corpus_tokens (the corpus-size plot).",
    )
    description: str = ""


class TaskEntry(StrictModel):
    """A column group of the leaderboard."""

    name: str = Field(description="Registered task name or task YAML file.")
    finetune: Overrides = Field(default_factory=dict)
    source: str = Field(
        "",
        description="Where these settings come from (e.g. 'run_translation.sh:3-25'); shown "
        "beside each setting by `bench --dry-run`.",
    )
    columns: list[str] | None = Field(
        None,
        description="Scores shown, e.g. [rouge.rouge1, rouge-paper.rouge1] "
        "(None: the default for the task's kind).",
    )
    cross_eval: list[str] = Field(
        default_factory=list,
        description="Also evaluate this task's fine-tuned models on these tasks (cross-domain).",
    )
    max_examples: int | None = Field(
        None,
        ge=1,
        description="Examples decoded and scored for this task (None: evaluation.max_examples).",
    )


class CellRule(StrictModel):
    """Settings (or exclusion) for the cells matching shell-style patterns."""

    model: str = "*"
    task: str = "*"
    skip: bool = False
    finetune: Overrides = Field(default_factory=dict)
    source: str = Field(
        "",
        description="Where these settings come from (e.g. 'run_translation.sh:3-25'); shown "
        "beside each setting by `bench --dry-run`.",
    )


class EvaluationConfig(StrictModel):
    split: Literal["validation", "test"] = Field(
        "validation", description="Split decoded and scored."
    )
    max_examples: int | None = Field(None, ge=1, description="None: the whole split.")
    bootstrap_samples: int = Field(1000, ge=0, le=MAX_RESAMPLES)
    generation: Overrides = Field(
        default_factory=dict,
        description="generation.* settings for the final decoding (None keeps the task's).",
    )
    decode_batch_size: int | None = Field(
        None, ge=1, description="Texts per generate call when decoding (None: the commands')."
    )


class LeaderboardConfig(StrictModel):
    columns: dict[str, list[str]] = Field(
        default_factory=dict, description="Scores per task name or task kind."
    )
    test: Literal["randomization", "bootstrap"] = Field(
        "randomization", description="Paired test against the best model of a column."
    )
    alpha: float = Field(0.05, gt=0, lt=1)
    samples: int = Field(
        1000, ge=10, le=MAX_RESAMPLES, description="Bootstrap resamples and randomization trials."
    )
    seed: Seed = 12345
    nll: bool = Field(
        True,
        description="Also list each cell's reference NLL per token (not comparable across "
        "tokenizers: never ranked).",
    )


class PublishedRow(StrictModel):
    """Published numbers shown as a reference row (never ranked or tested)."""

    label: str
    split: str = "test"
    source: str = ""
    values: dict[str, dict[str, float]] = Field(
        description="task → score (e.g. rouge-paper.rouge1) → value."
    )


class PrepareEntry(StrictModel):
    """A command that builds something models need; ``{output}`` is its folder."""

    name: str = Field(pattern=r"^[A-Za-z0-9_.-]+$")
    argv: list[str] = Field(
        min_length=1,
        description="seq2seq-es arguments, e.g. [pretrain, -c, FILE, 'output_dir={output}'].",
    )
    network: bool = Field(
        False, description="Needs the Hugging Face Hub (e.g. a warm start from a hub id)."
    )
    resumable: bool = Field(False, description="Rerun an interrupted attempt with --resume.")
    distributed: bool = Field(
        False, description="A training command: `accelerate launch` in the commands file."
    )


class StepTemplate(StrictModel):
    """One step of a custom cell pipeline; the last step must write {cell_dir}/scores.json."""

    name: str = Field(pattern=r"^[A-Za-z0-9_.-]+$")
    argv: list[str] = Field(min_length=1)
    output: str | None = Field(
        None, description="Folder (in the cell) this step owns: emptied before a fresh run."
    )
    resumable: bool = False
    distributed: bool = False


PlotFormat = Literal["png", "svg", "pdf"]


def _png_and_svg() -> list[PlotFormat]:
    return ["png", "svg"]


class PlotsConfig(StrictModel):
    enabled: bool = True
    formats: list[PlotFormat] = Field(default_factory=_png_and_svg)
    corpus_fact: str = Field(
        "corpus_tokens", description="Model fact on the x axis of 'score vs corpus size'."
    )


class BenchConfig(StrictModel):
    name: str = Field(
        "bench", pattern=r"^[A-Za-z0-9_.-]+$", description="Names the results folder."
    )
    description: str = ""
    output_dir: str = Field(
        "runs/bench",
        description="Prepare jobs and cells (<output_dir>/cells/<row>__<task>__s"
        "<seed>). Grids may share it to share jobs; a row whose "
        "settings differ needs a name of its own there.",
    )
    data_dir: str = "../shared/data"
    models: list[ModelEntry] = Field(min_length=1)
    tasks: list[TaskEntry] = Field(min_length=1)
    seeds: list[Seed] = Field(default_factory=lambda: [1234], min_length=1)
    axes: dict[str, list[Any]] = Field(
        default_factory=dict,
        description="Extra finetune settings to cross "
        "with the grid, e.g. {adapter.kind: "
        "[none, lora]}.",
    )
    finetune: Overrides = Field(default_factory=dict)
    finetune_source: str = Field("", description="Where the grid's `finetune` settings come from.")
    rules: list[CellRule] = Field(default_factory=list)
    evaluation: EvaluationConfig = EvaluationConfig()
    prepare: list[PrepareEntry] = Field(default_factory=list)
    pipeline: list[StepTemplate] | None = Field(
        None, description="Custom cell steps (None: finetune → [eval on test] → score)."
    )
    leaderboard: LeaderboardConfig = LeaderboardConfig()
    published: list[PublishedRow] = Field(default_factory=list)
    plots: PlotsConfig = PlotsConfig()
    executor: ExecutorConfig = ExecutorConfig()
    network: Literal["auto", "online", "offline"] = Field(
        "auto",
        description="auto: offline when HF_HUB_OFFLINE=1 or huggingface.co cannot be reached.",
    )
    only_models: list[str] | None = Field(
        None, description="Run only these rows (the others keep their results)."
    )
    only_tasks: list[str] | None = Field(None, description="Run only these tasks.")
    dry_run: bool = Field(
        False, description="Summarize the jobs a run would do (models, tasks, seeds); run nothing."
    )
    all_cells: bool = Field(
        False, description="With dry_run: list every job with its state, commands and settings."
    )

    @property
    def results_dir(self) -> str:
        """Where this grid's leaderboard, plots and run record go: grids may share ``output_dir``
        (and so
        their prepare jobs and cells) and still keep their own results."""
        return f"{self.output_dir}/results/{self.name}"

    @field_validator("tasks", mode="before")
    @classmethod
    def _task_names(cls, value: Any) -> Any:
        """A task may be given by name alone."""
        return (
            [{"name": item} if isinstance(item, str) else item for item in value]
            if isinstance(value, list)
            else value
        )

    @model_validator(mode="after")
    def _unique_names(self) -> BenchConfig:
        named: list[tuple[str, list[str]]] = [
            ("model", [m.name for m in self.models]),
            ("task", [t.name for t in self.tasks]),
            ("prepare", [p.name for p in self.prepare]),
            ("seed", [str(s) for s in self.seeds]),
        ]
        for what, names in named:
            repeated = sorted({str(n) for n in names if names.count(n) > 1})
            if repeated:
                raise ValueError(f"{what} names must be unique; repeated: {', '.join(repeated)}")
        for key, values in self.axes.items():
            if not values:
                raise ValueError(f"axis {key!r} has no values")
        for key, names in (("only_models", named[0][1]), ("only_tasks", named[1][1])):
            unknown = [name for name in getattr(self, key) or [] if name not in names]
            if unknown:  # a typo would select nothing: an empty table and exit 0
                raise ValueError(
                    f"{key}: {', '.join(map(repr, unknown))} not in this grid."
                    f"{did_you_mean(unknown[0], names)} The grid's names: {', '.join(names)}."
                )
        return self
