"""Fixtures for the training engine: a tiny corpus and tokenizer."""

from __future__ import annotations

from pathlib import Path

import pytest

from seq2seq_es.corpus.text_files import iter_texts
from seq2seq_es.tokenizer.bpe import train_byte_level_bpe
from seq2seq_es.tokenizer.save import save_tokenizer
from seq2seq_es.tokenizer.unigram import train_unigram


@pytest.fixture(scope="session")
def tiny_tokenizer(tiny_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A byte-level BPE folder (400 tokens) trained on the tiny corpus."""
    folder = tmp_path_factory.mktemp("tiny_tokenizer")
    save_tokenizer(train_byte_level_bpe(iter_texts(tiny_data / "pretrain"), vocab_size=400), folder)
    return folder


@pytest.fixture(scope="session")
def tiny_unigram_tokenizer(tiny_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A unigram folder (600 tokens, 20 sentinels) for T5 span corruption, trained on the tiny
    corpus."""
    folder = tmp_path_factory.mktemp("tiny_unigram_tokenizer")
    save_tokenizer(
        train_unigram(iter_texts(tiny_data / "pretrain"), vocab_size=600, extra_ids=20), folder
    )
    return folder


@pytest.fixture(scope="session")
def tiny_pretrain(tiny_data: Path, tiny_tokenizer: Path) -> list[str]:
    """Overrides for a pretraining run that takes a few seconds, with the preset's default
    dropout (0.1)."""
    return [
        f"data={tiny_data / 'pretrain'}",
        f"tokenizer={tiny_tokenizer}",
        "seq_len=32",
        "validation_blocks=4",
        "optim.batch_size=8",
        "optim.warmup_steps=2",
        "engine.log_every=1",
        "engine.measure_mfu=false",
        "engine.tensorboard=false",
    ]


@pytest.fixture(scope="session")
def finetune_settings(tiny_data: Path, tiny_tokenizer: Path) -> list[str]:
    """A fine-tune of the copy task with selection every 5 steps and early stopping (patience 2)."""
    return [
        f"task={tiny_data / 'copy_task.yaml'}",
        f"data_dir={tiny_data}",
        f"tokenizer={tiny_tokenizer}",
        "optim.steps=30",
        "optim.batch_size=8",
        "optim.lr=3e-3",
        "engine.eval_every=5",
        "patience=2",
        "selection_examples=8",
        "bootstrap_samples=20",
        "engine.measure_mfu=false",
        "engine.tensorboard=false",
    ]


@pytest.fixture(scope="session")
def ddp_pretrain(tiny_pretrain: list[str], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """barto-tiny pretrained for 8 steps by 2 DDP processes (checkpoints every 4, the preset's
    dropout 0.1): ``[*tiny_pretrain, *DDP_PRETRAIN]``."""
    # Imported here: tests/cluster imports this module's fixtures from outside tests/training.
    from training_helpers import DDP_PRETRAIN, LAUNCH, run_cli

    out = tmp_path_factory.mktemp("ddp_pretrain") / "run"
    run_cli(["pretrain", f"output_dir={out}", *tiny_pretrain, *DDP_PRETRAIN], launcher=LAUNCH)
    return out


@pytest.fixture(scope="session")
def ddp_finetune(
    finetune_settings: list[str], tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, str]:
    """(output folder, stderr) of barto-tiny fine-tuned on the copy task by 2 DDP processes
    (``finetune_settings``: selection, early stopping, the preset's dropout)."""
    from training_helpers import LAUNCH, run_cli

    out = tmp_path_factory.mktemp("ddp_finetune") / "run"
    done = run_cli(
        ["finetune", f"output_dir={out}", "model=barto-tiny", *finetune_settings], launcher=LAUNCH
    )
    return out, done.stderr
