"""Batched generation: a model folder + examples → predictions.jsonl.

The predictions file is the contract between inference and metrics: one JSON object
per line with ``id``, ``source``, ``reference`` (first reference), ``references``
(all of them) and ``prediction``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from transformers import PreTrainedTokenizerBase

from seq2seq_es.models.loading import load_seq2seq
from seq2seq_es.tasks.examples import Example
from seq2seq_es.training.loop import progress_bar


def load_model(path: str | Path) -> tuple[Any, PreTrainedTokenizerBase]:
    """Load model + tokenizer from a ``save_pretrained`` folder or a hub id (mT5, mBART-50, flan-t5, …).

    One door for every model family: see ``seq2seq_es.models.loading.load_seq2seq``.
    """
    return load_seq2seq(path)


@torch.no_grad()
def generate(model: Any, tokenizer: PreTrainedTokenizerBase, sources: Sequence[str], max_source_length: int,
             max_new_tokens: int, num_beams: int, batch_size: int, **decoding: Any) -> list[str]:
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
            chunk = order[start:start + batch_size]
            batch = tokenizer([sources[i] for i in chunk], max_length=max_source_length, truncation=True,
                              padding=True, return_tensors="pt")
            generated = model.generate(**batch, max_new_tokens=max_new_tokens, num_beams=num_beams, **decoding)
            for i, text in zip(chunk, tokenizer.batch_decode(generated, skip_special_tokens=True), strict=True):
                outputs[i] = text.strip()
            bar.update(task, advance=len(chunk))
    model.train(was_training)
    return outputs


def prediction_records(examples: Sequence[Example], predictions: Sequence[str]) -> list[dict[str, Any]]:
    return [{"id": e.id, "source": e.source, "reference": e.target, "references": list(e.references),
             "prediction": p} for e, p in zip(examples, predictions, strict=True)]
