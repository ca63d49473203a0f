"""Teacher-forced reference NLL: equals the model's own loss, and plugs into the paired tests."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pytest
import torch
from tests.conftest import spanish_like_text
from transformers import DataCollatorForSeq2Seq

from seq2seq_es.corpus.text_files import iter_texts
from seq2seq_es.metrics.significance import compare_systems
from seq2seq_es.models.presets import build_model
from seq2seq_es.tasks.likelihood import nll_stats, reference_nll
from seq2seq_es.tokenizer.bpe import train_byte_level_bpe


@pytest.fixture(scope="module")
def tokenizer(tiny_data: Path):
    return train_byte_level_bpe(iter_texts(tiny_data / "pretrain"), vocab_size=400)


def _features(tokenizer, count: int = 7) -> list[dict[str, list[int]]]:
    rng = random.Random(3)
    texts = [
        (spanish_like_text(rng, rng.randint(3, 20)), spanish_like_text(rng, rng.randint(1, 9)))
        for _ in range(count)
    ]
    return [
        {"input_ids": tokenizer(s)["input_ids"], "labels": tokenizer(text_target=t)["input_ids"]}
        for s, t in texts
    ]


@pytest.mark.parametrize("preset", ["barto-tiny", "t5s-tiny"])
def test_rows_equal_the_models_own_loss_per_example(tokenizer, preset: str) -> None:
    model = build_model(preset, tokenizer, seed=0)
    features = _features(tokenizer)
    rows = reference_nll(model, tokenizer, features, batch_size=3)  # padding inside batches
    assert rows.shape == (len(features), 2)
    for row, feature in zip(rows, features, strict=True):
        with torch.inference_mode():
            loss = model(
                input_ids=torch.tensor([feature["input_ids"]]),
                labels=torch.tensor([feature["labels"]]),
            ).loss
        assert row[1] == len(feature["labels"])
        assert row[0] / row[1] == pytest.approx(float(loss), rel=1e-4)


def test_a_better_model_wins_the_paired_test(tokenizer) -> None:
    features = _features(tokenizer, count=40)
    model = build_model("barto-tiny", tokenizer, seed=0)
    before = reference_nll(model, tokenizer, features)
    batch = DataCollatorForSeq2Seq(tokenizer, model=model)([dict(f) for f in features])
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3)
    model.train()
    for _ in range(20):  # fit the very examples: their NLL must drop, significantly
        model(**batch).loss.backward()
        optimizer.step()
        optimizer.zero_grad()
    after = reference_nll(model, tokenizer, features)
    a, b = nll_stats(after, "test"), nll_stats(before, "test")
    result = {r.score: r for r in compare_systems(a, b, n_samples=200, n_trials=500, seed=0)}
    assert result["nll_per_token"].delta < 0
    assert (
        result["nll_per_token"].p_bootstrap < 0.05
        and result["nll_per_token"].p_randomization < 0.05
    )
    assert result["perplexity"].a == pytest.approx(np.exp(after[:, 0].sum() / after[:, 1].sum()))
