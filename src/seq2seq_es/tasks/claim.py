"""What a ``finetune`` run may do with its output folder, decided before anything is written.

Light (no torch), so a refusal answers at once. The run's identity: the resolved config
minus the fields marked ``VOLATILE`` (the engine's, and those of the final decoding only),
plus fingerprints of the task's data files, the task file, the starting model folder and the
tokenizer folder when one is given. ``scores.json`` is written last: its presence means the run
finished.
"""

from __future__ import annotations

from pathlib import Path

from seq2seq_es.run_record import file_fingerprints
from seq2seq_es.tasks.config import FinetuneConfig
from seq2seq_es.tasks.registry import get_task, local_export
from seq2seq_es.training.run_folder import RunFolder, claim_training_folder

FINAL_FILE = "scores.json"


def finetune_inputs(config: FinetuneConfig) -> dict[str, str]:
    """Fingerprints of what the run reads: the task's data (and task file), the starting model or
    tokenizer."""
    task = get_task(config.task)
    data = Path(config.data_dir)
    paths: dict[str, str | Path] = {}
    if Path(config.task).is_file():
        paths["task"] = config.task
    for split in ("train", "validation"):
        if task.local is not None:
            relative = task.local.file or getattr(task.local, split, None)
            if relative:
                paths[f"data.{split}"] = data / relative
        else:
            paths[f"data.{split}"] = local_export(task, data, split)
    if Path(config.model).exists():
        paths["model"] = config.model
    if config.tokenizer is not None:
        paths["tokenizer"] = config.tokenizer
    return file_fingerprints(paths)


def requested_steps(config: FinetuneConfig) -> int | None:
    """The steps asked for (None: ``epochs`` decides from the data size, as the run planned)."""
    return config.optim.steps if config.epochs is None else None


def claim_output(config: FinetuneConfig) -> RunFolder:
    """Start, restart, resume, nothing to do, or refuse (``ConfigError``)."""
    return claim_training_folder(
        config.output_dir,
        "finetune",
        config,
        finetune_inputs(config),
        FINAL_FILE,
        requested_steps(config),
    )
