import itertools

import pytest
import torch

from seq2seq_es.errors import ConfigError
from seq2seq_es.training.batches import (
    GROUP_BATCHES,
    EpochBatches,
    ShardedBatchSampler,
    length_grouped,
)


def _collect(sampler: ShardedBatchSampler) -> list[list[int]]:
    return list(iter(sampler))


def test_order_is_a_function_of_seed_and_epoch() -> None:
    a = _collect(ShardedBatchSampler(50, 8, seed=1, epoch=0, start_batch=0, rank=0, world_size=1))
    assert a == _collect(
        ShardedBatchSampler(50, 8, seed=1, epoch=0, start_batch=0, rank=0, world_size=1)
    )
    assert a != _collect(
        ShardedBatchSampler(50, 8, seed=1, epoch=1, start_batch=0, rank=0, world_size=1)
    )
    assert len(a) == 6 and len({i for b in a for i in b}) == 48


def test_processes_split_each_global_batch() -> None:
    whole = _collect(ShardedBatchSampler(50, 8, 3, 0, 0, 0, 1))
    parts = [_collect(ShardedBatchSampler(50, 8, 3, 0, 0, rank, 2)) for rank in (0, 1)]
    assert [a + b for a, b in zip(*parts, strict=True)] == whole


def test_resume_starts_at_the_next_batch() -> None:
    whole = _collect(ShardedBatchSampler(50, 8, 3, 2, 0, 0, 1))
    assert _collect(ShardedBatchSampler(50, 8, 3, 2, 4, 0, 1)) == whole[4:]


def test_batch_not_divisible_by_processes() -> None:
    with pytest.raises(ConfigError, match="not divisible"):
        ShardedBatchSampler(50, 9, 0, 0, 0, 0, 2)


def test_collator_learns_the_epoch() -> None:
    class Recorder:
        def __init__(self) -> None:
            self.epochs: list[int] = []

        def set_epoch(self, epoch: int) -> None:
            self.epochs.append(epoch)

        def __call__(self, pairs: list[tuple[int, int]]) -> list[tuple[int, int]]:
            return pairs

    recorder = Recorder()
    batches = EpochBatches(list(range(10)), recorder, batch_size=5, seed=0)  # type: ignore[arg-type]
    first = list(batches.epoch(3, 0))
    assert recorder.epochs == [3]
    assert sorted(i for batch in first for i, _ in batch) == list(range(10))


def _padding_share(batches: list[list[int]], lengths: list[int]) -> float:
    padded = sum(max(lengths[i] for i in b) * len(b) for b in batches)
    return 1 - sum(lengths[i] for b in batches for i in b) / padded


def test_length_grouping_keeps_the_examples_and_cuts_padding() -> None:
    lengths = [
        int(x) for x in torch.randint(5, 60, (1000,), generator=torch.Generator().manual_seed(0))
    ]
    plain = _collect(ShardedBatchSampler(1000, 8, 1, 0, 0, 0, 1))
    grouped = _collect(ShardedBatchSampler(1000, 8, 1, 0, 0, 0, 1, lengths=lengths))
    assert (
        sorted(i for b in grouped for i in b)
        == sorted(i for b in plain for i in b)
        == list(range(1000))
    )
    assert _padding_share(grouped, lengths) < 0.05 < 0.3 < _padding_share(plain, lengths)
    # a group's batches are consecutive slices of its length-sorted examples: their ranges never
    # overlap
    group = grouped[:GROUP_BATCHES]
    spans = sorted((min(lengths[i] for i in b), max(lengths[i] for i in b)) for b in group)
    assert all(high <= next_low for (_, high), (next_low, _) in itertools.pairwise(spans))
    assert grouped != _collect(
        ShardedBatchSampler(1000, 8, 1, 1, 0, 0, 1, lengths=lengths)
    )  # epochs differ


def test_length_grouped_order_moves_whole_batches_and_keeps_the_tail_last() -> None:
    order = torch.randperm(23, generator=torch.Generator().manual_seed(0))
    lengths = list(range(23))
    grouped = length_grouped(
        order, lengths, batch_size=4, generator=torch.Generator().manual_seed(1), group_batches=2
    )
    assert sorted(grouped.tolist()) == list(range(23))
    assert grouped[16:].tolist() == sorted(
        order[16:].tolist(), key=lambda i: -lengths[i]
    )  # 2 groups of 8, then 7
    assert grouped[-3:].tolist() == sorted(order[-7:].tolist(), key=lambda i: -lengths[i])[-3:]


def test_grouped_batches_still_split_across_processes_and_resume() -> None:
    lengths = [(i * 7) % 31 for i in range(200)]
    whole = _collect(ShardedBatchSampler(200, 8, 3, 0, 0, 0, 1, lengths=lengths))
    parts = [
        _collect(ShardedBatchSampler(200, 8, 3, 0, 0, rank, 2, lengths=lengths)) for rank in (0, 1)
    ]
    assert [a + b for a, b in zip(*parts, strict=True)] == whole
    assert _collect(ShardedBatchSampler(200, 8, 3, 0, 5, 0, 1, lengths=lengths)) == whole[5:]
