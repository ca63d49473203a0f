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
from transformers import AutoModelForSeq2SeqLM, AutoTokenizer, PreTrainedTokenizerBase

from seq2seq_es.errors import DataError
from seq2seq_es.tasks.examples import Example
from seq2seq_es.training.loop import progress_bar


def load_model(path: str | Path) -> tuple[Any, PreTrainedTokenizerBase]:
    """Load a ``save_pretrained`` seq2seq folder (model + tokenizer)."""
    path = Path(path)
    if not (path / "config.json").is_file():
        raise DataError(f"{path}: no model here (config.json missing). Pass a folder written by "
                        "`seq2seq-es pretrain` or `finetune` (…/model).")
    return AutoModelForSeq2SeqLM.from_pretrained(str(path)), AutoTokenizer.from_pretrained(str(path))


@torch.no_grad()
def generate(model: Any, tokenizer: PreTrainedTokenizerBase, sources: Sequence[str], max_source_length: int,
             max_new_tokens: int, num_beams: int, batch_size: int) -> list[str]:
    """Decode every source; batches are sorted by length to waste less padding."""
    model.eval()
    order = sorted(range(len(sources)), key=lambda i: len(sources[i]))
    outputs: list[str] = [""] * len(sources)
    with progress_bar() as bar:
        task = bar.add_task("generating", total=len(sources), status="")
        for start in range(0, len(order), batch_size):
            chunk = order[start:start + batch_size]
            batch = tokenizer([sources[i] for i in chunk], max_length=max_source_length, truncation=True,
                              padding=True, return_tensors="pt")
            generated = model.generate(**batch, max_new_tokens=max_new_tokens, num_beams=num_beams)
            for i, text in zip(chunk, tokenizer.batch_decode(generated, skip_special_tokens=True), strict=True):
                outputs[i] = text.strip()
            bar.update(task, advance=len(chunk))
    return outputs


def prediction_records(examples: Sequence[Example], predictions: Sequence[str]) -> list[dict[str, Any]]:
    return [{"id": e.id, "source": e.source, "reference": e.target, "references": list(e.references),
             "prediction": p} for e, p in zip(examples, predictions, strict=True)]
