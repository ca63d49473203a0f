"""Batched generation with transformers: source texts in, decoded texts out.

Generic over text: it knows nothing of tasks or references (``tasks.decode`` turns
task examples into sources and the outputs into ``predictions.jsonl``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from transformers import PreTrainedTokenizerBase

from seq2seq_es.progress import progress_bar


@torch.no_grad()
def generate(
    model: Any,
    tokenizer: PreTrainedTokenizerBase,
    sources: Sequence[str],
    max_source_length: int,
    max_new_tokens: int,
    num_beams: int,
    batch_size: int,
    **decoding: Any,
) -> list[str]:
    """Decode every source; batches are sorted by length to waste less padding.

    ``decoding`` passes further ``generate`` settings (length_penalty, no_repeat_ngram_size).
    """
    was_training = model.training
    model.eval()
    order = sorted(range(len(sources)), key=lambda i: len(sources[i]))
    outputs: list[str] = [""] * len(sources)
    with progress_bar() as bar:
        task = bar.add_task("generating", total=len(sources), status="")
        for start in range(0, len(order), batch_size):
            chunk = order[start : start + batch_size]
            batch = tokenizer(
                [sources[i] for i in chunk],
                max_length=max_source_length,
                truncation=True,
                padding=True,
                return_tensors="pt",
            )
            generated = model.generate(
                **batch, max_new_tokens=max_new_tokens, num_beams=num_beams, **decoding
            )
            for i, text in zip(
                chunk, tokenizer.batch_decode(generated, skip_special_tokens=True), strict=True
            ):
                outputs[i] = text.strip()
            bar.update(task, advance=len(chunk))
    model.train(was_training)
    return outputs
