"""z-loss against its definition in Mesh TensorFlow / t5x (``cross_entropy_with_logits``):
``z_loss * log(Z)**2`` per target token, ``log Z = log(sum_v exp(logit_v))``, averaged over the
target tokens; written here from that definition, independently of the code under test."""

from __future__ import annotations

import math

import torch
from transformers import T5Config, T5ForConditionalGeneration

from seq2seq_es.training.losses import training_loss, z_loss_term


def reference_z_loss(logits: list[list[list[float]]], labels: list[list[int]], z: float) -> float:
    """Plain Python: for each token that is not padding (-100), log(sum(exp)) squared."""
    terms = [
        math.log(sum(math.exp(v) for v in logits[b][t])) ** 2
        for b in range(len(labels))
        for t in range(len(labels[b]))
        if labels[b][t] != -100
    ]
    return z * sum(terms) / len(terms)


def test_z_loss_term_is_the_t5x_definition() -> None:
    generator = torch.Generator().manual_seed(0)
    logits = torch.randn(2, 5, 7, generator=generator) * 3 + 2  # log Z far from 0
    labels = torch.tensor([[1, 2, 3, -100, -100], [4, 5, 6, 0, -100]])
    expected = reference_z_loss(logits.tolist(), labels.tolist(), 1e-4)
    assert math.isclose(float(z_loss_term(logits, labels, 1e-4)), expected, rel_tol=1e-5)
    assert float(z_loss_term(logits, labels, 0.0)) == 0.0


def test_training_loss_adds_the_z_loss_to_the_cross_entropy() -> None:
    torch.manual_seed(0)
    config = T5Config(
        vocab_size=50, d_model=16, d_ff=32, num_layers=1, num_heads=2, d_kv=8,
        decoder_start_token_id=0, dropout_rate=0.0,
    )  # fmt: skip
    model = T5ForConditionalGeneration(config).eval()
    batch = {
        "input_ids": torch.tensor([[5, 6, 7, 1], [8, 9, 1, 0]]),
        "attention_mask": torch.tensor([[1, 1, 1, 1], [1, 1, 1, 0]]),
        "labels": torch.tensor([[10, 11, 1], [12, 1, -100]]),
    }
    with torch.no_grad():
        output = model(**batch)
        plain = training_loss(model, batch, 0.0)
        with_z = training_loss(model, batch, 1e-2)
    expected = reference_z_loss(output.logits.tolist(), batch["labels"].tolist(), 1e-2)
    assert torch.equal(plain, output.loss)
    assert math.isclose(float(with_z - plain), expected, rel_tol=1e-4)
