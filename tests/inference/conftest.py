"""Tiny real models for the inference tests: a BART and a T5 preset with tokenizers trained here.

Random weights (no training: the tests check plumbing, numbers and limits, not quality),
saved with the project's own ``save_seq2seq`` as safetensors, once per session (seconds).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from spanish_inputs import spanish_sentences

os.environ.setdefault("HF_HUB_OFFLINE", "1")


@pytest.fixture(scope="session")
def tiny_bart_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from seq2seq_es.models.loading import save_seq2seq
    from seq2seq_es.models.output_prior import set_output_prior, unigram_log_probs
    from seq2seq_es.models.presets import build_model
    from seq2seq_es.tokenizer.bpe import train_byte_level_bpe

    sentences = spanish_sentences(400)
    tokenizer = train_byte_level_bpe(sentences, vocab_size=400, min_frequency=1)
    model = build_model("barto-tiny", tokenizer, seed=0)
    # Output bias at the words' unigram prior (as finetune starts a BART preset, but without
    # counting </s>): a random BART otherwise ends every output at once, proving nothing.
    set_output_prior(
        model,
        unigram_log_probs(
            tokenizer(sentences, add_special_tokens=False)["input_ids"], len(tokenizer)
        ),
    )
    return save_seq2seq(model, tokenizer, tmp_path_factory.mktemp("tiny-bart") / "model")


@pytest.fixture(scope="session")
def tiny_t5_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from seq2seq_es.models.loading import save_seq2seq
    from seq2seq_es.models.presets import build_model
    from seq2seq_es.tokenizer.unigram import train_unigram

    tokenizer = train_unigram(spanish_sentences(400), vocab_size=500)
    return save_seq2seq(
        build_model("t5s-tiny", tokenizer, seed=0),
        tokenizer,
        tmp_path_factory.mktemp("tiny-t5") / "model",
    )


@pytest.fixture
def one_thread() -> Iterator[None]:
    """Tiny matmuls on 2 threads stall (20x here) when another process shares the cores."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
