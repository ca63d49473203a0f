"""Decoding lengths a run sets over its task's: a minimum length (the authors' BiSECT and
BERT2BERT runs) and a target length, on a tiny random BART."""

from __future__ import annotations

from pathlib import Path

import torch

from seq2seq_es.inference.config import GenerationOptions
from seq2seq_es.models.loading import load_seq2seq
from seq2seq_es.tasks.config import FinetuneConfig
from seq2seq_es.tasks.decode import task_engine
from seq2seq_es.tasks.registry import get_task


def test_min_new_tokens_and_target_length_reach_generate(bart_dir: Path) -> None:
    model, tokenizer = load_seq2seq(bart_dir)
    with torch.no_grad():  # a model that wants to stop at once: only a minimum keeps it going
        model.final_logits_bias[0, tokenizer.eos_token_id] = 100.0
    config = FinetuneConfig(max_target_length=6, generation=GenerationOptions(min_new_tokens=4))
    task = get_task("bisect-es").model_copy(update=config.lengths())
    engine = task_engine(model, tokenizer, task)

    def new_tokens(generation: GenerationOptions) -> list[int]:
        results = engine.generate(["el niño come pan", "la casa grande"], generation)
        return [result["tokens"] for result in results]  # </s> included, decoder start not

    assert max(new_tokens(GenerationOptions())) <= 2, "without a minimum it stops at once"
    lengths = new_tokens(config.generation)
    assert min(lengths) >= 4 and max(lengths) <= 6, lengths
