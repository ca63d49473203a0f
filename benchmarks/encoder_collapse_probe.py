"""When does a tiny BARTO's encoder collapse? A plain PyTorch loop (not ours), watched every 25
steps.

    .venv/bin/python benchmarks/encoder_collapse_probe.py runs/pretrain-barto-tiny/config.yaml --lr
    5e-4
    .venv/bin/python benchmarks/encoder_collapse_probe.py ... --lr 5e-4 --permute-sentence-ratio 0
    .venv/bin/python benchmarks/encoder_collapse_probe.py ... --lr 1e-4
    .venv/bin/python benchmarks/encoder_collapse_probe.py ... --lr 2e-3 --unigram-bias   (the fix)

Trains the pretraining config's model from random init (zero output bias, as transformers
builds it, unless ``--unigram-bias``) with plain AdamW (constant lr, no
warm-up, clipping 1.0) on its own noise function, and prints for 4 fixed validation
examples: the standard deviation over positions of each encoder layer's output (the
embedding layer first; ~1 when every position carries its own token, ~0 when the encoder
emits the same vector everywhere), the validation loss and the encoder gain (loss with
another document's input minus the real loss). Why a plain loop: it rules out our
training engine as the cause.

A diagnostic probe, not a benchmark: no ratio line and no ``--smoke`` (it needs a pretraining
run's config and minutes of training to show anything).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import torch
from transformers import (
    BartConfig,
    BartForConditionalGeneration,
    MBartConfig,
    MBartForConditionalGeneration,
)

from seq2seq_es.config import load_config
from seq2seq_es.models.output_prior import set_output_prior
from seq2seq_es.models.presets import build_model
from seq2seq_es.pretraining.config import PretrainConfig
from seq2seq_es.pretraining.pretrain import (
    bart_label_prior,
    make_collator,
    other_documents_input,
    split_blocks,
)
from seq2seq_es.tokenizer.save import load_tokenizer_folder


@torch.no_grad()
def encoder_stats(model: Any, probe: dict[str, torch.Tensor]) -> tuple[list[float], float, float]:
    model.eval()
    hidden = model.get_encoder()(
        input_ids=probe["input_ids"],
        attention_mask=probe["attention_mask"],
        output_hidden_states=True,
    ).hidden_states
    loss = float(model(**probe).loss)
    other = float(model(**other_documents_input(probe)).loss)
    model.train()
    return [float(layer[0].std(0).mean()) for layer in hidden], loss, other - loss


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "config", type=Path, help="a BARTO pretraining config (its data and tokenizer must exist)"
    )
    parser.add_argument("--lr", type=float, default=5e-4)
    parser.add_argument("--weight-decay", type=float, default=0.01)
    parser.add_argument("--permute-sentence-ratio", type=float, default=None)
    parser.add_argument(
        "--mask-ratio", type=float, default=None, help="0 with no permutation: pure copying"
    )
    parser.add_argument("--steps", type=int, default=150)
    parser.add_argument("--seed", type=int, default=1234)
    parser.add_argument(
        "--init-std",
        type=float,
        default=None,
        help="the std of the initial weights (BART's init_std; the preset uses 0.02)",
    )
    parser.add_argument(
        "--embed-std",
        type=float,
        default=None,
        help="re-draw only the token embeddings (tied to the LM head) with this std",
    )
    parser.add_argument(
        "--pre-layernorm",
        action="store_true",
        help="the same sizes as mBART layers (LayerNorm before each sub-layer) instead of BART's",
    )
    parser.add_argument(
        "--unigram-bias",
        action="store_true",
        help="start BART's final_logits_bias at the log unigram distribution of the training "
        "blocks",
    )
    args = parser.parse_args()
    torch.set_num_threads(1)
    config = load_config(PretrainConfig, args.config)
    if args.permute_sentence_ratio is not None:
        config.objective.permute_sentence_ratio = args.permute_sentence_ratio
    if args.mask_ratio is not None:
        config.objective.mask_ratio = args.mask_ratio
    tokenizer = load_tokenizer_folder(config.tokenizer)
    collator, body = make_collator(config, tokenizer)
    training, validation = split_blocks(config, tokenizer, body)
    model = build_model(config.model, tokenizer, seed=args.seed)
    settings = model.config.to_dict() | (
        {"init_std": args.init_std} if args.init_std is not None else {}
    )
    if args.pre_layernorm or args.init_std is not None:
        torch.manual_seed(args.seed)
        family = (
            MBartForConditionalGeneration if args.pre_layernorm else BartForConditionalGeneration
        )
        model = family((MBartConfig if args.pre_layernorm else BartConfig)(**settings))
    if args.embed_std is not None:
        with torch.no_grad():
            embeddings = model.get_input_embeddings().weight
            embeddings.normal_(
                0.0, args.embed_std, generator=torch.Generator().manual_seed(args.seed)
            )
            embeddings[model.config.pad_token_id] = 0.0
    if args.unigram_bias:
        set_output_prior(model, bart_label_prior(collator, training, model.config.vocab_size))
    optimizer = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=args.weight_decay)
    probe = collator([(i, validation[i]) for i in range(4)])
    generator = torch.Generator().manual_seed(args.seed)
    print("step | std over positions: embeddings, layer 1, ... | validation loss | encoder gain")
    for step in range(args.steps + 1):
        if step % 25 == 0:
            stds, loss, gain = encoder_stats(model, probe)
            print(
                f"{step} | {', '.join(f'{s:.4f}' for s in stds)} | {loss:.3f} | {gain:+.5f}",
                flush=True,
            )
        indices = torch.randint(
            len(training), (config.optim.batch_size,), generator=generator
        ).tolist()
        loss = model(**collator([(i, training[i]) for i in indices])).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        optimizer.zero_grad()


if __name__ == "__main__":
    main()
