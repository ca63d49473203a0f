import pytest

from seq2seq_es.errors import ConfigError
from seq2seq_es.training.batches import EpochBatches, ShardedBatchSampler


def _collect(sampler: ShardedBatchSampler) -> list[list[int]]:
    return list(iter(sampler))


def test_order_is_a_function_of_seed_and_epoch() -> None:
    a = _collect(ShardedBatchSampler(50, 8, seed=1, epoch=0, start_batch=0, rank=0, world_size=1))
    assert a == _collect(ShardedBatchSampler(50, 8, seed=1, epoch=0, start_batch=0, rank=0, world_size=1))
    assert a != _collect(ShardedBatchSampler(50, 8, seed=1, epoch=1, start_batch=0, rank=0, world_size=1))
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
