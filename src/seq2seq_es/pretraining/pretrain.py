"""The ``pretrain`` recipe: pretraining of a preset model on corpus shards.

corpus shards → token stream on disk (``data/tokens.bin``) → fixed-length blocks →
noise on the fly in the collator (the preset family's objective: BART denoising, T5 span
corruption, BERT masked language modelling) → the shared training loop → ``model/``
(``save_pretrained``, loads with ``AutoModelForSeq2SeqLM``, or ``AutoModelForMaskedLM``
for a BERT) with its model card (``README.md``), and ``summary.json`` (written last: its
presence means the run finished).

What a run may do with its output folder is decided before anything is written
(``pretraining/claim.py``).
"""

from __future__ import annotations

import copy
import itertools
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import torch
from transformers import PreTrainedTokenizerBase

from seq2seq_es.errors import ConfigError, DataError
from seq2seq_es.files import write_json
from seq2seq_es.models.attention import use_attention
from seq2seq_es.models.loading import save_seq2seq
from seq2seq_es.models.model_card import write_model_card
from seq2seq_es.models.output_prior import set_output_prior, unigram_log_probs
from seq2seq_es.models.presets import (
    build_model,
    count_parameters,
    get_preset,
    preset_tokenizer,
    pretraining_objective,
)
from seq2seq_es.objectives.bart_denoising import BartDenoisingCollator
from seq2seq_es.objectives.collators import Collator, build_collator
from seq2seq_es.pretraining.card import pretrain_card_facts
from seq2seq_es.pretraining.claim import FINAL_FILE
from seq2seq_es.pretraining.config import PretrainConfig
from seq2seq_es.run_record import add_run_facts
from seq2seq_es.training.batches import EpochBatches
from seq2seq_es.training.loop import train
from seq2seq_es.training.run_folder import RunFolder
from seq2seq_es.training.token_stream import TokenBlocks, build_token_stream

VALIDATION_EPOCH = 2**31  # an epoch number training never reaches: fixed noise for validation


def make_collator(
    config: PretrainConfig, tokenizer: PreTrainedTokenizerBase
) -> tuple[Collator, int]:
    """The preset family's noise function and the raw block length it consumes."""
    return build_collator(
        config.objective,
        pretraining_objective(config.model),
        tokenizer,
        config.seq_len,
        config.seed,
    )


def check_positions(config: PretrainConfig) -> None:
    """Refuse a ``seq_len`` longer than the preset's learned positions (BART, BERT), before any
    work: the model would fail at its first forward pass with an ``IndexError``."""
    positions = get_preset(config.model).max_positions
    if positions is not None and config.seq_len > positions:
        raise ConfigError(
            f"seq_len={config.seq_len}: the {config.model} preset has {positions} positions, so "
            f"examples can be at most {positions} tokens. Choose seq_len<={positions}, or a "
            "preset with more positions (`seq2seq-es model info PRESET` shows them)."
        )


def split_blocks(
    config: PretrainConfig, tokenizer: PreTrainedTokenizerBase, body: int
) -> tuple[TokenBlocks, TokenBlocks]:
    """(training, validation) blocks of ``body`` raw tokens; validation is the stream's tail.

    A corpus too small for them is refused with the token stream this call made removed: a
    run that fails before training leaves nothing behind, so the corrected command can use
    the same output_dir."""
    cache = Path(config.output_dir) / "data"
    made = not cache.exists()
    path, meta = build_token_stream(
        config.data, config.text_key, tokenizer, cache, config.max_tokens
    )
    total = len(TokenBlocks(path, meta["dtype"], body))
    if total <= config.validation_blocks:
        if made:
            shutil.rmtree(cache, ignore_errors=True)
        raise DataError(
            f"{config.data}: corpus too small: {total} blocks of {config.seq_len} tokens, need "
            f"more than validation_blocks={config.validation_blocks}. Add text or lower seq_len."
        )
    training = TokenBlocks(path, meta["dtype"], body, 0, total - config.validation_blocks)
    validation = TokenBlocks(path, meta["dtype"], body, total - config.validation_blocks)
    return training, validation


def bart_label_prior(
    collator: BartDenoisingCollator, blocks: TokenBlocks, vocab_size: int
) -> torch.Tensor:
    """Log unigram distribution of the labels the collator makes of ``blocks``: ``<s> block </s>``
    each.

    The wrappers count: a prior without them starts ``<s>`` near -17 nats, and a briefly
    trained model then pushes ``<s>`` up through its hidden states and repeats it.
    """
    wrappers = np.array([collator.bos_id, collator.eos_id]).repeat(len(blocks))
    return unigram_log_probs(itertools.chain(blocks.chunks(), [wrappers]), vocab_size)


def other_documents_input(batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The batch with every example's encoder input replaced by the next example's (rolled by
    one)."""
    return {
        key: value.roll(1, dims=0) if key in ("input_ids", "attention_mask") else value
        for key, value in batch.items()
    }


@torch.no_grad()
def validation_losses(
    model: Any, collator: Collator, blocks: TokenBlocks, batch_size: int
) -> dict[str, float]:
    """Mean token loss on held-out blocks (fixed noise: a reserved epoch number), and the encoder's
    share.

    ``validation_encoder_gain`` (encoder-decoder models only: a BERT has no decoder) is the loss
    with each example's encoder input swapped for
    another document's, minus the real loss: the nats per token the decoder gets from its
    encoder. Why log it: a denoising loss can fall for a long time while the decoder learns
    only a language model and the encoder collapses to a constant output (a tiny BARTO at
    lr 2e-3 did, ``benchmarks/RESULTS.md``); such a checkpoint cannot copy from its input,
    and only this gap shows it. It needs batches of ≥ 2 examples.
    """
    fixed = copy.copy(collator)
    fixed.set_epoch(VALIDATION_EPOCH)
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    total, count, gain, gain_count = 0.0, 0, 0.0, 0
    for start in range(0, len(blocks), batch_size):
        batch = fixed([(i, blocks[i]) for i in range(start, min(start + batch_size, len(blocks)))])
        batch = {k: v.to(device) for k, v in batch.items()}
        n = int((batch["labels"] != -100).sum())
        loss = float(model(**batch).loss)
        total, count = total + loss * n, count + n
        if (
            model.config.is_encoder_decoder and len(batch["labels"]) > 1
        ):  # a lone example: no other document
            gain += (float(model(**other_documents_input(batch)).loss) - loss) * n
            gain_count += n
    model.train(was_training)
    losses = {"validation_loss": total / max(count, 1)}
    if gain_count:
        losses["validation_encoder_gain"] = gain / max(gain_count, 1)
    return losses


def run_pretrain(config: PretrainConfig, claimed: RunFolder) -> dict[str, Any]:
    """Pretrain and save a ``save_pretrained`` folder (with its model card) to
    ``output_dir/model``; ``claimed`` is its claimed output folder (its identity goes into the
    checkpoints)."""
    check_positions(config)
    tokenizer = preset_tokenizer(config.model, config.tokenizer)
    collator, body = make_collator(config, tokenizer)
    training, validation = split_blocks(config, tokenizer, body)
    model = build_model(config.model, tokenizer, seed=config.seed, dropout=config.dropout)
    attention = use_attention(model, config.engine.attn_implementation)
    if config.unigram_output_bias and isinstance(collator, BartDenoisingCollator):
        set_output_prior(model, bart_label_prior(collator, training, model.config.vocab_size))
    batches = EpochBatches(
        training, collator, config.optim.batch_size, config.seed, config.engine.num_workers
    )
    result = train(
        model,
        batches,
        config.optim,
        config.engine,
        config.output_dir,
        config.seed,
        "pretraining",
        resume=config.resume,
        evaluate=lambda m, _step: validation_losses(
            m, collator, validation, config.optim.batch_size
        ),
        identity=claimed.identity,
    )
    if not result.is_main_process:
        return {}
    add_run_facts(config.output_dir, {"attn_implementation": attention})
    model = result.model
    validation_scores = validation_losses(model, collator, validation, config.optim.batch_size)
    folder = save_seq2seq(model, tokenizer, Path(config.output_dir) / "model", result.state_dict)
    steps = result.final_state.step
    summary = {
        "parameters": count_parameters(model),
        "train_blocks": len(training),
        "steps": steps,
        "corpus_tokens_seen": steps
        * config.optim.batch_size
        * config.optim.grad_accum_steps
        * body,
        "final_train_loss": float(np.mean(result.losses[-10:])) if result.losses else None,
        **validation_scores,
        "seconds": result.seconds,
        "tokens_per_s": None,
        **result.efficiency(),
    }  # None: resumed at the end, nothing trained
    write_model_card(
        folder,
        pretrain_card_facts(
            config, summary, model_class=type(model).__name__, vocabulary=len(tokenizer)
        ),
    )
    write_json(Path(config.output_dir) / FINAL_FILE, summary)
    return summary
