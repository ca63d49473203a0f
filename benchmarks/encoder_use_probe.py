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

A diagnostic probe, not a benchmark: no ratio line and no ``--smoke`` (it reads finished
pretraining runs).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import torch

from seq2seq_es.config import load_config
from seq2seq_es.models.loading import load_seq2seq
from seq2seq_es.models.presets import build_model, get_preset
from seq2seq_es.pretraining.config import PretrainConfig
from seq2seq_es.pretraining.pretrain import (
    make_collator,
    split_blocks,
    validation_losses,
)
from seq2seq_es.tokenizer.save import load_tokenizer_folder


class CopyCollator:
    """Clean block → the same clean block, framed as the family's pretraining frames text.

    Shaped like the noise collators (``set_epoch``, ``(index, block)`` pairs) so that
    ``validation_losses`` scores copying exactly as it scores the objective.
    """

    def __init__(self, tokenizer: Any, family: str) -> None:
        self.bos = [] if family == "t5" else [tokenizer.bos_token_id]
        self.eos = [tokenizer.eos_token_id]

    def set_epoch(self, epoch: int) -> None:  # no randomness to seed
        pass

    def __call__(self, pairs: list[tuple[int, Any]]) -> dict[str, torch.Tensor]:
        text = torch.as_tensor([[*self.bos, *block.tolist(), *self.eos] for _, block in pairs])
        # No decoder_input_ids: the model shifts the labels right with its own decoder start token.
        return {"input_ids": text, "attention_mask": torch.ones_like(text), "labels": text.clone()}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("runs", type=Path, nargs="+", help="pretraining output folders")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    print(
        "| model | objective: matched | objective: other doc's input | encoder gain | copy: "
        "matched | copy: other doc's input | encoder gain |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|")
    for run in args.runs:
        config = load_config(PretrainConfig, run / "config.yaml")
        tokenizer = load_tokenizer_folder(config.tokenizer)
        collator, body = make_collator(config, tokenizer)
        _, validation = split_blocks(config, tokenizer, body)
        copy = CopyCollator(tokenizer, get_preset(config.model).family)
        models = {
            f"{config.model} pretrained ({run.name})": load_seq2seq(run / "model")[0],
            f"{config.model} random init": build_model(config.model, tokenizer, seed=config.seed),
        }
        for name, model in models.items():
            objective = validation_losses(model, collator, validation, args.batch_size)
            copying = validation_losses(model, copy, validation, args.batch_size)
            cells = [
                f"{scores['validation_loss']:.3f} | "
                f"{scores['validation_loss'] + scores['validation_encoder_gain']:.3f} | "
                f"{scores['validation_encoder_gain']:+.3f}"
                for scores in (objective, copying)
            ]
            print(f"| {name} | {cells[0]} | {cells[1]} |")


if __name__ == "__main__":
    main()
