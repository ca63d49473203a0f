"""Decoding lengths a run sets over its task's: a minimum length (the authors' BiSECT and
BERT2BERT runs) and a target length, on a tiny random BART."""

from __future__ import annotations

from pathlib import Path

import torch

from seq2seq_es.models.loading import load_seq2seq
from seq2seq_es.tasks.config import DecodingConfig, FinetuneConfig
from seq2seq_es.tasks.decode import decoding_settings
from seq2seq_es.tasks.registry import get_task


def test_min_new_tokens_and_target_length_reach_generate(bart_dir: Path) -> None:
    model, tokenizer = load_seq2seq(bart_dir)
    with torch.no_grad():  # a model that wants to stop at once: only a minimum keeps it going
        model.final_logits_bias[0, tokenizer.eos_token_id] = 100.0
    config = FinetuneConfig(max_target_length=6, generation=DecodingConfig(min_new_tokens=4))
    task = get_task("bisect-es").model_copy(update=config.lengths())
    batch = tokenizer(["el niño come pan", "la casa grande"], return_tensors="pt", padding=True)

    def new_tokens(generation: DecodingConfig) -> list[int]:
        settings = decoding_settings(task, generation)
        output = model.generate(**batch, **settings)[:, 1:]  # after the decoder start token
        return [int((row != tokenizer.pad_token_id).sum()) for row in output]

    assert max(new_tokens(DecodingConfig())) <= 2, "without a minimum it stops at once"
    lengths = new_tokens(config.generation)
    assert min(lengths) >= 4 and max(lengths) <= 6, lengths
