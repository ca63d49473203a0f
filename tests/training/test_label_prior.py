"""The pretraining prior counts exactly the tokens of the labels the BART collator makes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from seq2seq_es.objectives.bart_denoising import BartDenoisingCollator, BartNoiseSettings
from seq2seq_es.pretraining.pretrain import bart_label_prior
from seq2seq_es.tokenizer.bpe import train_byte_level_bpe
from seq2seq_es.training.token_stream import TokenBlocks


def test_prior_equals_the_label_frequencies_of_every_training_block(tmp_path: Path) -> None:
    words = [
        "el",
        "niño",
        "come",
        "pan",
        "con",
        "su",
        "madre",
        "en",
        "la",
        "casa",
        "grande",
        "y",
        "la",
        "señora",
        "lee",
        "un",
        "libro",
        "viejo",
    ]
    tokenizer = train_byte_level_bpe([" ".join(words)] * 50, vocab_size=300)
    collator = BartDenoisingCollator.from_tokenizer(tokenizer, BartNoiseSettings(), seed=0)
    stream = np.random.default_rng(0).integers(5, len(tokenizer), size=10 * 6 + 4).astype(np.uint16)
    stream.tofile(tmp_path / "tokens.bin")
    blocks = TokenBlocks(
        tmp_path / "tokens.bin", "uint16", 6, 0, 9
    )  # 9 of the 10 blocks; the tail is not used

    labels = collator([(i, blocks[i]) for i in range(len(blocks))])["labels"]
    counts = torch.bincount(labels[labels >= 0].flatten(), minlength=len(tokenizer)) + 1
    expected = (counts / counts.sum()).log()
    torch.testing.assert_close(bart_label_prior(collator, blocks, len(tokenizer)), expected.float())
