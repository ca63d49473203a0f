"""Token-budget batches: within the budget, a pure function of (seed, epoch), split evenly across
processes, the loss a mean over the step's tokens, and a resumed run bit-identical."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import torch
from transformers import DataCollatorForSeq2Seq

from seq2seq_es.errors import ConfigError
from seq2seq_es.models.presets import build_model, preset_tokenizer
from seq2seq_es.tasks.examples import encode_examples, load_examples
from seq2seq_es.tasks.registry import get_task
from seq2seq_es.training.batches import WithoutIndex
from seq2seq_es.training.checkpoint import list_checkpoints
from seq2seq_es.training.config import EngineConfig, OptimConfig
from seq2seq_es.training.loop import loss_divisors, make_accelerator, train
from seq2seq_es.training.losses import training_loss
from seq2seq_es.training.token_batches import TokenBatches, TokenBudgetSampler, epoch_plan

LENGTHS = torch.randint(3, 60, (2, 1000), generator=torch.Generator().manual_seed(0)).tolist()
SOURCES, TARGETS = LENGTHS[0], LENGTHS[1]


def plan(epoch: int = 0, start: int = 0, rank: int = 0, world: int = 1) -> list[list[int]]:
    whole = epoch_plan(SOURCES, TARGETS, 900, 40, 5, epoch, world)
    return list(TokenBudgetSampler(whole, start, rank, world))


def padded(batch: list[int]) -> int:
    return len(batch) * (max(SOURCES[i] for i in batch) + max(TARGETS[i] for i in batch))


def test_batches_fill_the_budget_with_similar_lengths() -> None:
    batches = plan()
    assert all(padded(b) <= 900 and len(b) <= 40 for b in batches)
    assert len({i for b in batches for i in b}) == sum(map(len, batches)) == 1000
    real = sum(SOURCES[i] + TARGETS[i] for b in batches for i in b)
    # random batches of 32 of these lengths pad about half their tokens (test_batches.py)
    assert sum(padded(b) for b in batches) < 1.5 * real
    assert sum(map(padded, batches)) / len(batches) > 0.8 * 900, "the budget is mostly filled"


def test_batches_are_a_function_of_seed_and_epoch_and_resume_where_they_stopped() -> None:
    assert plan(epoch=1) == plan(epoch=1) != plan(epoch=2)
    assert plan(epoch=1, start=7) == plan(epoch=1)[7:]


def test_processes_get_equal_shares_of_the_same_batches() -> None:
    shares = [plan(rank=rank, world=2) for rank in (0, 1)]
    assert len(shares[0]) == len(shares[1])  # DDP: no process waits for a batch that never comes
    assert all(len(a) == len(b) > 0 for a, b in zip(*shares, strict=True))
    wholes = [a + b for a, b in zip(*shares, strict=True)]
    assert all(padded(whole) <= 900 for whole in wholes), "the budget is the global batch's"
    seen = [i for whole in wholes for i in whole]
    assert len(set(seen)) == len(seen) >= 999  # an odd one out may be dropped


def test_a_budget_below_the_longest_example_is_refused_naming_the_key() -> None:
    with pytest.raises(ConfigError, match=r"train_max_tokens=100 .* at least 118"):
        epoch_plan(SOURCES, TARGETS, 100, 40, 5, 0, 1)
    with pytest.raises(ConfigError, match=r"2 row\(s\) .* at least 236"):
        epoch_plan(SOURCES, TARGETS, 200, 40, 5, 0, 2)


@pytest.fixture(scope="module")
def copy_task(tiny_data: Path, tiny_tokenizer: Path) -> tuple[list[dict], object]:
    tokenizer = preset_tokenizer("barto-tiny", str(tiny_tokenizer))
    task = get_task(str(tiny_data / "copy_task.yaml"))
    return encode_examples(load_examples(task, str(tiny_data), "train", None), tokenizer, task), (
        tokenizer
    )


def test_accumulated_token_budget_batches_give_the_gradient_of_their_tokens(
    copy_task: tuple[list[dict], object],
) -> None:
    """Two micro-batches of different token counts, weighed by ``loss_divisors``, give the
    gradient of one batch holding both; the mean of their means does not."""
    features, tokenizer = copy_task
    collate = DataCollatorForSeq2Seq(tokenizer, label_pad_token_id=-100)
    short = sorted(features, key=lambda f: len(f["labels"]))
    parts = [collate(short[:6]), collate(short[-2:])]  # few long targets, many short ones
    model = build_model("barto-tiny", tokenizer, seed=0)
    model.eval()  # no dropout: the same function in every call

    def gradient(batches: list[dict], divisors: list) -> torch.Tensor:
        model.zero_grad()
        for batch, divisor in zip(batches, divisors, strict=True):
            (training_loss(model, batch, 0.0) / divisor).backward()
        return torch.cat([p.grad.flatten() for p in model.parameters() if p.grad is not None])

    accelerator = make_accelerator(EngineConfig())
    whole = gradient([collate(short[:6] + short[-2:])], [1])
    per_token = gradient(parts, loss_divisors(accelerator, parts, per_token=True))
    mean_of_means = gradient(parts, loss_divisors(accelerator, parts, per_token=False))
    assert torch.allclose(per_token, whole, atol=1e-6, rtol=1e-4)
    assert not torch.allclose(mean_of_means, whole, atol=1e-6, rtol=1e-4)


def test_token_budget_run_resumed_from_a_checkpoint_is_bit_identical(
    copy_task: tuple[list[dict], object], tmp_path: Path
) -> None:
    """Resumed mid-epoch, accumulated, with dropout: same losses and weights, bit for bit."""
    features, tokenizer = copy_task
    optim = OptimConfig(steps=8, batch_size=64, grad_accum_steps=2, lr=3e-3, warmup_steps=2)
    engine = EngineConfig(
        checkpoint_every=3, keep_checkpoints=5, log_every=1, measure_mfu=False, tensorboard=False
    )

    def run(folder: Path, resume: bool) -> tuple[list[float], dict]:
        model = build_model("barto-tiny", tokenizer, seed=0)
        collate = WithoutIndex(DataCollatorForSeq2Seq(tokenizer, model=model))
        batches = TokenBatches(features, collate, max_tokens=300, max_rows=64, seed=3)
        assert 6 < batches.batches_per_epoch() < 16, "the run crosses an epoch"
        result = train(model, batches, optim, engine, folder, seed=3, resume=resume)
        return result.losses, result.model.state_dict()

    reference = tmp_path / "reference"
    reference.mkdir()
    losses, weights = run(reference, resume=False)
    resumed = tmp_path / "resumed"
    shutil.copytree(reference, resumed)
    for later in list_checkpoints(resumed / "checkpoints")[1:]:  # keep step 3 only
        shutil.rmtree(later)
    again, again_weights = run(resumed, resume=True)
    assert again == losses
    assert all(torch.equal(weights[name], again_weights[name]) for name in weights)
