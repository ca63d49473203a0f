"""Deterministic, resumable, process-sharded batches.

Why our own sampler: exact resume and "2 processes = 1 process" both need the batch
order to be a pure function of (seed, epoch). The global batch ``b`` of epoch ``e`` is
``permutation(seed, e)[b*B:(b+1)*B]``; process ``r`` of ``P`` takes its contiguous
slice of it. Resuming at batch ``b`` just starts the sampler there (no replay of
skipped batches). Items reach the collator as ``(index, item)`` so a noise function
can seed itself from (seed, epoch, index); collators with ``set_epoch`` are told the
epoch before each epoch's workers start.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any

import torch
from torch.utils.data import DataLoader, Dataset, Sampler

from seq2seq_es.errors import ConfigError


class IndexedDataset(Dataset[tuple[int, Any]]):
    """Wrap a sequence so that item ``i`` is ``(i, items[i])``."""

    def __init__(self, items: Sequence[Any]) -> None:
        self.items = items

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int) -> tuple[int, Any]:
        return index, self.items[index]


class WithoutIndex:
    """Adapt a collator that takes plain items (e.g. ``DataCollatorForSeq2Seq``) to ``(index, item)`` pairs."""

    def __init__(self, collate: Callable[[list[Any]], Any]) -> None:
        self.collate = collate

    def __call__(self, pairs: list[tuple[int, Any]]) -> Any:
        return self.collate([item for _, item in pairs])


class ShardedBatchSampler(Sampler[list[int]]):
    """This process's slice of each global batch of one epoch, from ``start_batch`` on."""

    def __init__(self, size: int, batch_size: int, seed: int, epoch: int, start_batch: int,
                 rank: int, world_size: int, shuffle: bool = True) -> None:
        if batch_size % world_size:
            raise ConfigError(f"batch_size {batch_size} is not divisible by the {world_size} processes; "
                              f"use a multiple of {world_size}.")
        self.size, self.batch_size, self.start_batch = size, batch_size, start_batch
        self.rank, self.world_size = rank, world_size
        if shuffle:
            self.order = torch.randperm(size, generator=torch.Generator().manual_seed(seed * 100_003 + epoch))
        else:
            self.order = torch.arange(size)

    def __len__(self) -> int:
        return max(self.size // self.batch_size - self.start_batch, 0)

    def __iter__(self) -> Iterator[list[int]]:
        per_process = self.batch_size // self.world_size
        for batch in range(self.start_batch, self.size // self.batch_size):
            start = batch * self.batch_size + self.rank * per_process
            yield self.order[start:start + per_process].tolist()


class EpochBatches:
    """Everything the loop needs to produce the batches of any epoch, from any batch."""

    def __init__(self, items: Sequence[Any], collate: Callable[[list[tuple[int, Any]]], dict[str, torch.Tensor]],
                 batch_size: int, seed: int, num_workers: int = 0, shuffle: bool = True) -> None:
        self.dataset = IndexedDataset(items)
        self.collate = collate
        self.batch_size, self.seed, self.num_workers, self.shuffle = batch_size, seed, num_workers, shuffle

    def batches_per_epoch(self) -> int:
        return len(self.dataset) // self.batch_size

    def epoch(self, epoch: int, start_batch: int, rank: int = 0, world_size: int = 1) -> DataLoader[Any]:
        set_epoch = getattr(self.collate, "set_epoch", None)
        if set_epoch is not None:
            set_epoch(epoch)
        sampler = ShardedBatchSampler(len(self.dataset), self.batch_size, self.seed, epoch, start_batch,
                                      rank, world_size, self.shuffle)
        return DataLoader(self.dataset, batch_sampler=sampler, collate_fn=self.collate,
                          num_workers=self.num_workers)
