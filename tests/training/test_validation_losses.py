"""Pretraining validation: the loss, and the encoder's share of it (zero exactly when the encoder
is ignored)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch

from seq2seq_es.models.presets import build_model
from seq2seq_es.pretraining.pretrain import validation_losses


class CopyCollator:
    """Block → the same block as input and labels (a deterministic stand-in for a noise
    function's output)."""

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __call__(self, pairs: list[tuple[int, Any]]) -> dict[str, torch.Tensor]:
        ids = torch.as_tensor(np.stack([block for _, block in pairs]))
        return {"input_ids": ids, "attention_mask": torch.ones_like(ids), "labels": ids.clone()}


@pytest.fixture()
def blocks() -> list[np.ndarray]:
    rng = np.random.default_rng(0)
    return [
        rng.integers(4, 500, size=24) for _ in range(7)
    ]  # 7: the last batch of 3 has one example


def _by_hand(model: Any, blocks: list[np.ndarray], batch_size: int) -> tuple[float, float]:
    collate = CopyCollator()
    total = other = 0.0
    count = other_count = 0
    with torch.no_grad():
        for start in range(0, len(blocks), batch_size):
            batch = collate(
                [(i, blocks[i]) for i in range(start, min(start + batch_size, len(blocks)))]
            )
            n = int(batch["labels"].numel())
            loss = float(model(**batch).loss)
            total, count = total + loss * n, count + n
            if len(batch["labels"]) > 1:
                swapped = dict(
                    batch, input_ids=batch["input_ids"][[-1, *range(len(batch["input_ids"]) - 1)]]
                )
                other, other_count = (
                    other + (float(model(**swapped).loss) - loss) * n,
                    other_count + n,
                )
    return total / count, other / other_count


def test_validation_loss_and_encoder_gain_match_a_direct_computation(
    blocks: list[np.ndarray],
) -> None:
    model = build_model("barto-tiny", seed=0, dropout=0.0)
    scores = validation_losses(model, CopyCollator(), blocks, batch_size=3)
    loss, gain = _by_hand(model.eval(), blocks, batch_size=3)
    assert scores["validation_loss"] == pytest.approx(loss, rel=1e-5)
    assert scores["validation_encoder_gain"] == pytest.approx(gain, rel=1e-4, abs=1e-6)
    assert (
        scores["validation_encoder_gain"] != 0.0
    )  # a random encoder still moves the decoder a little


def test_encoder_gain_is_zero_when_the_decoder_ignores_the_encoder(
    blocks: list[np.ndarray],
) -> None:
    model = build_model("barto-tiny", seed=0, dropout=0.0)
    with torch.no_grad():
        for layer in (
            model.model.decoder.layers
        ):  # cut every cross-attention: encoder output never reaches it
            layer.encoder_attn.out_proj.weight.zero_()
            layer.encoder_attn.out_proj.bias.zero_()
    scores = validation_losses(model, CopyCollator(), blocks, batch_size=3)
    assert scores["validation_encoder_gain"] == pytest.approx(0.0, abs=1e-6)
    assert scores["validation_loss"] > 1.0
