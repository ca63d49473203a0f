"""The training loss: the model's cross-entropy, plus t5x's z-loss when it is asked for.

z-loss (Mesh TensorFlow / t5x ``cross_entropy_with_logits``): ``z_loss * log(Z)**2`` for each
target token, ``log Z = logsumexp(logits)`` its softmax normaliser, averaged over the target
tokens like the cross-entropy. It pulls log Z towards 0, so the logits cannot drift together in
bf16; the T5 1.1 recipe the authors pretrained T5S with sets 1e-4 (t5x base.gin ``Z_LOSS``).

The output layer runs only where there is a target (``labels != -100``): a model's forward
multiplies every decoder position's hidden state by the vocabulary matrix, padding included,
and then the loss throws the padded rows away. Here a pre-hook on the model's output layer
(``get_output_embeddings()``: BART's and T5's ``lm_head``, BERT's prediction decoder) gathers
the target positions first, so the largest matrix product of a step, its softmax and their
gradients skip the padding (and, in MLM pretraining, the 85% of positions that are not
masked). The loss is transformers' own cross-entropy on the same rows, so it equals the
model's ``output.loss`` up to float summation order (``tests/training/test_losses.py``).
A compiled model keeps the full layer: a data-dependent shape would break its graph.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import torch
import torch.nn.functional as F
from accelerate.utils import extract_model_from_parallel

from seq2seq_es.training.compiled import mark_lengths_dynamic

IGNORE_INDEX = -100  # labels that are padding, as transformers' losses skip them


def z_loss_term(logits: torch.Tensor, labels: torch.Tensor, weight: float) -> torch.Tensor:
    """``weight`` × mean over target tokens (labels != -100) of ``logsumexp(logits)²``."""
    log_z = torch.logsumexp(logits.float(), dim=-1)
    real = labels != IGNORE_INDEX
    return weight * (log_z.square() * real).sum() / real.sum().clamp(min=1)


def training_loss(
    model: Any, batch: dict[str, torch.Tensor], z_loss: float, targets_only: bool = True
) -> torch.Tensor:
    """What one micro-batch contributes to the gradient. ``targets_only``: the output layer runs
    at target positions only (the module docstring); False: at every position, as the model's
    own forward does (a compiled model: the shapes stay the batch's).

    The labels never go into the model: the loss is computed here, from its logits. Given
    labels, ``EncoderDecoderModel`` (BERT2BERT) calls ``warnings.warn`` on every forward, and a
    warning is a graph break for ``torch.compile``: 4 graphs a step instead of one."""
    inner = extract_model_from_parallel(model, keep_torch_compile=False)  # DDP, compile
    labels = batch["labels"]
    inputs: dict[str, Any] = {key: value for key, value in batch.items() if key != "labels"}
    shift = getattr(inner, "prepare_decoder_input_ids_from_labels", None)
    if shift is not None and "decoder_input_ids" not in inputs:
        # an encoder-decoder: its decoder reads the labels shifted right. Dynamic like the
        # batch's own tensors, or a compiled model recompiles at the first new length.
        inputs.update(mark_lengths_dynamic({"decoder_input_ids": shift(labels=labels)}))
    if shift is not None:
        inputs["use_cache"] = False  # as the model's forward sets it when given labels
    if targets_only:
        targets = labels != IGNORE_INDEX
        with output_layer_at(inner, targets):
            logits = model(**inputs).logits  # (targets, vocabulary)
        labels = labels[targets]
    else:
        logits = model(**inputs).logits.flatten(0, -2)  # (positions, vocabulary)
        labels = labels.flatten()
    # transformers' CrossEntropyLoss: the mean over the labels that are not -100
    loss = F.cross_entropy(logits, labels, ignore_index=IGNORE_INDEX)
    if not z_loss:
        return loss
    return loss + z_loss_term(logits, labels, z_loss)


@contextlib.contextmanager
def output_layer_at(model: Any, positions: torch.Tensor) -> Iterator[None]:
    """While inside, ``model``'s output layer sees only the hidden states at ``positions`` (a
    boolean mask over the label grid): its logits are ``(positions.sum(), vocabulary)``."""

    def gather(_module: torch.nn.Module, args: tuple[Any, ...]) -> tuple[Any, ...]:
        return (args[0][positions], *args[1:])

    handle = model.get_output_embeddings().register_forward_pre_hook(gather)
    try:
        yield
    finally:
        handle.remove()
