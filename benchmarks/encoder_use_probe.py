"""How much does a pretrained tiny model's decoder use its encoder? A diagnostic for the ablation.

    .venv/bin/python benchmarks/encoder_use_probe.py runs/pretrain-barto-tiny runs/pretrain-t5s-tiny

For each pretraining run (its ``config.yaml``, validation blocks and ``model/``), and for
the same architecture at random init, prints per-token cross-entropy on the held-out
blocks in four settings:

- objective, matched: the run's own noise (fixed validation noise) → its targets, i.e.
  the validation loss the run logged;
- objective, mismatched: the same targets, but each example's encoder input is another
  document's (the batch rolled by one), so the encoder carries no information about them:
  what the decoder alone achieves, as a language model;
- copy, matched: the clean block as input and as target (pure copying, what extractive
  QA and much of summarization need);
- copy, mismatched: clean targets, another document's clean block as input.

The gap "mismatched − matched" is what the encoder contributes, in nats per token. A
model that has learned to copy has a copy loss near 0 and a large gap; a model that has
only learned the decoder-side language model has a gap near 0.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import torch

from seq2seq_es.config import load_config
from seq2seq_es.inference.generate import load_model
from seq2seq_es.models.presets import build_model, get_preset
from seq2seq_es.tokenizer.save import load_tokenizer_folder
from seq2seq_es.training.pretrain import (
    VALIDATION_EPOCH,
    PretrainConfig,
    make_collator,
    other_documents_input,
    split_blocks,
)


def copy_batch(blocks: list[Any], tokenizer: Any, family: str) -> dict[str, torch.Tensor]:
    """Clean block → the same clean block, framed as the family's pretraining frames text."""
    body = torch.as_tensor(list(blocks))
    eos = torch.full((len(blocks), 1), tokenizer.eos_token_id)
    if family == "t5":
        text = torch.cat([body, eos], dim=1)
    else:
        text = torch.cat([torch.full((len(blocks), 1), tokenizer.bos_token_id), body, eos], dim=1)
    # No decoder_input_ids: the model shifts the labels right with its own decoder start token.
    return {"input_ids": text, "attention_mask": torch.ones_like(text), "labels": text.clone()}


@torch.no_grad()
def mean_loss(model: Any, batches: list[dict[str, torch.Tensor]]) -> float:
    total, count = 0.0, 0
    for batch in batches:
        n = int((batch["labels"] != -100).sum())
        total += float(model(**batch).loss) * n
        count += n
    return total / count


def probe(model: Any, objective: list[dict[str, torch.Tensor]], copy: list[dict[str, torch.Tensor]]) -> list[float]:
    model.eval()
    return [mean_loss(model, objective), mean_loss(model, [other_documents_input(b) for b in objective]),
            mean_loss(model, copy), mean_loss(model, [other_documents_input(b) for b in copy])]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("runs", type=Path, nargs="+", help="pretraining output folders")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    print("| model | objective: matched | objective: other doc's input | encoder gain | copy: matched "
          "| copy: other doc's input | encoder gain |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for run in args.runs:
        config = load_config(PretrainConfig, run / "config.yaml")
        tokenizer = load_tokenizer_folder(config.tokenizer)
        collator, body = make_collator(config, tokenizer)
        collator.set_epoch(VALIDATION_EPOCH)
        _, validation = split_blocks(config, tokenizer, body)
        indices = range(len(validation))
        chunks = [list(indices[s:s + args.batch_size]) for s in range(0, len(validation), args.batch_size)]
        objective = [collator([(i, validation[i]) for i in chunk]) for chunk in chunks]
        family = get_preset(config.model).family
        copy = [copy_batch([validation[i] for i in chunk], tokenizer, family) for chunk in chunks]
        models = {f"{config.model} pretrained ({run.name})": load_model(run / "model")[0],
                  f"{config.model} random init": build_model(config.model, tokenizer, seed=config.seed)}
        for name, model in models.items():
            om, oo, cm, co = probe(model, objective, copy)
            print(f"| {name} | {om:.3f} | {oo:.3f} | {oo - om:+.3f} | {cm:.3f} | {co:.3f} | {co - cm:+.3f} |")


if __name__ == "__main__":
    main()
