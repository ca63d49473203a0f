"""Config schemas of the task commands: ``finetune``, ``predict``, ``eval``, ``eval-matrix``.

Light on purpose (pydantic only): a typo in a config must fail in a second, before torch
and transformers load.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from seq2seq_es.config import MAX_RESAMPLES, VOLATILE, Seed, StrictModel
from seq2seq_es.inference.config import GenerationOptions
from seq2seq_es.models.config import AdapterConfig
from seq2seq_es.training.config import EngineConfig, OptimConfig

# The ``generation:`` section of the task commands: overrides of the task's decoding (None
# keeps the task's setting: ``TaskSpec.decoding_defaults``, paper: beam 4).
GENERATION_HELP = "Decoding overrides; None keeps the task's (beam 4, max_target_length tokens)."
DECODE_BATCH_HELP = "Texts per generate call when decoding (sorted by length)."
DECODE_TOKENS_HELP = (
    "Padded source tokens per generate call (None: no budget, decode_batch_size texts a call); "
    "decode_batch_size stays the cap on texts (fairseq's --max-tokens and --batch-size)."
)


class LengthOverrides(StrictModel):
    """Token lengths that replace the task's for one run: the paper's released scripts give
    some models other lengths than the task's (BARTO's BiSECT inputs 1,024, BETO's 512)."""

    max_source_length: int | None = Field(
        None, ge=8, description="Inputs truncated to this many tokens (None: the task's)."
    )
    max_target_length: int | None = Field(
        None, ge=2, description="Targets truncated, and decoding capped, here (None: the task's)."
    )

    def lengths(self) -> dict[str, int]:
        """The set overrides, as TaskSpec fields (``task.model_copy(update=...)``)."""
        return {
            key: value
            for key, value in (
                ("max_source_length", self.max_source_length),
                ("max_target_length", self.max_target_length),
            )
            if value is not None
        }


class FinetuneConfig(LengthOverrides):
    task: str = Field("squad-es-qa", description="A registered task name or a task YAML file.")
    data_dir: str = "../shared/data"
    model: str = Field(
        "runs/pretrain/model",
        description="save_pretrained folder, hub id, or preset (random init).",
    )
    model_revision: str | None = Field(
        None,
        description="Hub commit, tag or branch of `model` when it is a hub id (None: main). Pin "
        "it: a hub model can be replaced under its id.",
    )
    tokenizer: str | None = Field(
        None,
        description="Tokenizer folder: a preset's (None: runs/tokenizer), or one replacing the "
        "model's own (of its family's kind).",
    )
    output_dir: Annotated[str, VOLATILE] = "runs/finetune"
    max_train_examples: int | None = Field(
        None, ge=1, description="The first N training examples (transformers' max_train_samples)."
    )
    epochs: float | None = Field(
        None, gt=0, description="If set, overrides optim.steps (paper: 6 for summarization)."
    )
    selection_examples: int = Field(
        200, ge=1, description="Validation examples decoded at each evaluation."
    )
    selection_num_beams: int = Field(
        1, ge=1, description="Beams when decoding for checkpoint selection."
    )
    patience: int | None = Field(
        None, ge=1, description="Stop after this many evaluations without improvement."
    )
    # The final decoding's settings (max_eval_examples, bootstrap_samples, generation) may change
    # on resume: they act after training, so they change no step's result.
    max_eval_examples: Annotated[int | None, VOLATILE] = Field(
        None, ge=1, description="Final validation decoding (None: all)."
    )
    bootstrap_samples: Annotated[int, VOLATILE] = Field(1000, ge=0, le=MAX_RESAMPLES)
    group_by_length: bool = Field(
        True,
        description="Batch examples of similar length (training/batches.py): "
        "fewer pad tokens, same examples per epoch.",
    )
    train_max_tokens: int | None = Field(
        None,
        ge=1,
        description="Token-budget batches (fairseq's --max-tokens; training/token_batches.py): "
        "each micro-batch holds as many similar-length examples as fit this many padded source + "
        "target tokens (global, split across processes), optim.batch_size the cap on examples; "
        "the loss is averaged over the step's target tokens. None (the default): "
        "optim.batch_size examples per micro-batch, grouped by length (group_by_length). On "
        "Tatoeba with barto-tiny a budget averaging 32 examples trained 1.75-2.0x the real "
        "tokens/s of group_by_length, scores within noise (benchmarks/RESULTS.md); not the "
        "default yet: the demo's published figures were measured without it.",
    )
    unigram_output_bias: bool = Field(
        True,
        description="A BART preset (random init): start its output bias at the "
        "targets' log unigram distribution (models/output_prior.py).",
    )
    seed: Seed = 1234
    resume: Annotated[bool, VOLATILE] = Field(
        False, description="Continue from the last checkpoint in output_dir/checkpoints."
    )
    optim: OptimConfig = OptimConfig(lr=5e-4, steps=300, warmup_steps=30)
    engine: EngineConfig = EngineConfig()
    generation: Annotated[GenerationOptions, VOLATILE] = Field(
        GenerationOptions(), description=GENERATION_HELP
    )
    decode_batch_size: Annotated[int, VOLATILE] = Field(32, ge=1, description=DECODE_BATCH_HELP)
    decode_max_tokens: Annotated[int | None, VOLATILE] = Field(
        None, ge=1, description=DECODE_TOKENS_HELP
    )
    adapter: AdapterConfig = Field(
        AdapterConfig(),
        description="kind: lora trains LoRA adapters only; the run "
        "writes adapter/ (peft) and model/ (merged).",
    )


class DecodeSplit(LengthOverrides):
    """What to decode: a task split and the model that decodes it (with the lengths it was
    fine-tuned with, when they are not the task's)."""

    task: str = "squad-es-qa"
    data_dir: str = "../shared/data"
    model: str = "runs/finetune/model"
    model_revision: str | None = Field(
        None,
        description="Hub commit, tag or branch of `model` when it is a hub id (None: main). Pin "
        "it: a hub model can be replaced under its id.",
    )
    split: str = Field("validation", pattern="^(train|validation|test)$")
    generation: GenerationOptions = Field(GenerationOptions(), description=GENERATION_HELP)
    decode_batch_size: int = Field(32, ge=1, description=DECODE_BATCH_HELP)
    decode_max_tokens: int | None = Field(None, ge=1, description=DECODE_TOKENS_HELP)


class PredictConfig(DecodeSplit):
    output: str = "runs/predict/predictions.jsonl"
    max_examples: int | None = Field(200, ge=1)


class EvalConfig(DecodeSplit):
    output_dir: str = "runs/eval"
    max_examples: int | None = Field(None, ge=1)
    bootstrap_samples: int = Field(1000, ge=0, le=MAX_RESAMPLES)


class MatrixConfig(StrictModel):
    models: list[str] = Field(min_length=1, description="Model folders or hub ids (rows).")
    tasks: list[str] = Field(min_length=1, description="Task names or YAML files (columns).")
    data_dir: str = "../shared/data"
    split: str = Field("validation", pattern="^(train|validation|test)$")
    output_dir: str = "runs/eval-matrix"
    max_examples: int | None = Field(None, ge=1)
    bootstrap_samples: int = Field(1000, ge=0, le=MAX_RESAMPLES)
    generation: GenerationOptions = Field(GenerationOptions(), description=GENERATION_HELP)
    decode_batch_size: int = Field(32, ge=1, description=DECODE_BATCH_HELP)
    decode_max_tokens: int | None = Field(None, ge=1, description=DECODE_TOKENS_HELP)


class TasksConfig(StrictModel):
    wide: bool = Field(
        False, description="All columns (source, lengths, metrics); the default fits 80 columns."
    )
