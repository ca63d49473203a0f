"""What a ``pretrain`` run may do with its output folder, decided before anything is written.

Light (no torch), so a refusal answers at once. The run's identity: the resolved config
minus the fields marked ``VOLATILE`` (the engine's, plus ``engine.eval_every``: validation
only reports), plus fingerprints of the corpus and the tokenizer folder. ``summary.json`` is
written last: its presence means the run finished.
"""

from __future__ import annotations

from seq2seq_es.pretraining.config import PretrainConfig
from seq2seq_es.run_record import file_fingerprints
from seq2seq_es.training.run_folder import RunFolder, claim_training_folder

FINAL_FILE = "summary.json"


def pretrain_inputs(config: PretrainConfig) -> dict[str, str]:
    """Fingerprints of what the run reads: the corpus and the tokenizer folder."""
    return file_fingerprints({"data": config.data, "tokenizer": config.tokenizer})


def claim_output(config: PretrainConfig) -> RunFolder:
    """Start, restart, resume, nothing to do, or refuse (``ConfigError``)."""
    return claim_training_folder(
        config.output_dir,
        "pretrain",
        config,
        pretrain_inputs(config),
        FINAL_FILE,
        config.optim.steps,
    )
