"""Deterministic, resumable, process-sharded batches.

Why our own sampler: exact resume and "2 processes = 1 process" both need the batch
order to be a pure function of (seed, epoch). The global batch ``b`` of epoch ``e`` is
``permutation(seed, e)[b*B:(b+1)*B]``; process ``r`` of ``P`` takes its contiguous
slice of it. Resuming at batch ``b`` just starts the sampler there (no replay of
skipped batches). With ``lengths``, the permutation is first grouped by length (see
``length_grouped``), which keeps all of the above. Items reach the collator as
``(index, item)`` so a noise function can seed itself from (seed, epoch, index);
collators with ``set_epoch`` are told the epoch before each epoch's workers start.

Each epoch's ``DataLoader`` gets its own generator, seeded from (seed, epoch): iterating a
loader draws a seed for its workers from that generator, which otherwise is torch's
global one, the stream dropout draws from, so a resumed run (which builds the iterator
after restoring the random states) would drop different units than the run it continues.
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
    """Adapt a collator that takes plain items (e.g. ``DataCollatorForSeq2Seq``) to ``(index,
    item)`` pairs."""

    def __init__(self, collate: Callable[[list[Any]], Any]) -> None:
        self.collate = collate

    def __call__(self, pairs: list[tuple[int, Any]]) -> Any:
        return self.collate([item for _, item in pairs])


LOADER_SEED_OFFSET = 7_919  # keeps the loader's seed apart from the sampler's permutation seed
GROUP_BATCHES = 50  # batches per length group: HF's LengthGroupedSampler megabatch


def length_grouped(
    order: torch.Tensor,
    lengths: Sequence[int],
    batch_size: int,
    generator: torch.Generator,
    group_batches: int = GROUP_BATCHES,
) -> torch.Tensor:
    """``order`` rearranged so that each batch holds examples of similar length.

    Why: a batch is padded to its longest example, so random batches of fine-tuning data
    (sentences of 5 to 60 tokens, contexts of 100 to 384) spend much of their compute on
    pad tokens. As fairseq and HF's ``group_by_length`` do, each run of ``group_batches``
    batches of the random order is sorted by length and cut into batches, whose order
    within the run is then shuffled: batches stay random across the epoch, and a batch
    never mixes a 5-token with a 60-token example unless the run holds nothing closer.
    Only whole batches move; the tail shorter than a batch stays last (the sampler drops it).
    """
    group = batch_size * group_batches
    length_of = torch.as_tensor(lengths)
    pieces = []
    for start in range(0, len(order), group):
        chunk = order[start : start + group]
        chunk = chunk[torch.argsort(length_of[chunk], descending=True, stable=True)]
        whole = len(chunk) // batch_size * batch_size
        batches = chunk[:whole].view(-1, batch_size)[
            torch.randperm(whole // batch_size, generator=generator)
        ]
        pieces += [batches.reshape(-1), chunk[whole:]]
    return torch.cat(pieces) if pieces else order


class ShardedBatchSampler(Sampler[list[int]]):
    """This process's slice of each global batch of one epoch, from ``start_batch`` on."""

    def __init__(
        self,
        size: int,
        batch_size: int,
        seed: int,
        epoch: int,
        start_batch: int,
        rank: int,
        world_size: int,
        shuffle: bool = True,
        lengths: Sequence[int] | None = None,
    ) -> None:
        if batch_size % world_size:
            raise ConfigError(
                f"batch_size {batch_size} is not divisible by the {world_size} processes; "
                f"use a multiple of {world_size}."
            )
        self.size, self.batch_size, self.start_batch = size, batch_size, start_batch
        self.rank, self.world_size = rank, world_size
        generator = torch.Generator().manual_seed(seed * 100_003 + epoch)
        self.order = torch.randperm(size, generator=generator) if shuffle else torch.arange(size)
        if lengths is not None:
            self.order = length_grouped(self.order, lengths, batch_size, generator)

    def __len__(self) -> int:
        return max(self.size // self.batch_size - self.start_batch, 0)

    def __iter__(self) -> Iterator[list[int]]:
        per_process = self.batch_size // self.world_size
        for batch in range(self.start_batch, self.size // self.batch_size):
            start = batch * self.batch_size + self.rank * per_process
            yield self.order[start : start + per_process].tolist()


class EpochBatches:
    """Everything the loop needs to produce the batches of any epoch, from any batch.

    ``lengths`` (one per item, e.g. source + target tokens) turns on length-grouped batches.
    ``per_token_loss``: whether the loop weighs micro-batches by their target tokens (their
    sizes vary only with token-budget batches; fixed-size ones keep the plain mean of means).
    """

    per_token_loss = False

    def __init__(
        self,
        items: Sequence[Any],
        collate: Callable[[list[tuple[int, Any]]], dict[str, torch.Tensor]],
        batch_size: int,
        seed: int,
        num_workers: int = 0,
        shuffle: bool = True,
        lengths: Sequence[int] | None = None,
    ) -> None:
        if lengths is not None and len(lengths) != len(items):
            raise ValueError(f"{len(lengths)} lengths for {len(items)} items")
        self.dataset = IndexedDataset(items)
        self.collate = collate
        self.batch_size, self.seed, self.num_workers, self.shuffle = (
            batch_size,
            seed,
            num_workers,
            shuffle,
        )
        self.lengths = lengths

    def batches_per_epoch(self) -> int:
        return len(self.dataset) // self.batch_size

    def sampler(
        self, epoch: int, start_batch: int, rank: int, world_size: int
    ) -> Sampler[list[int]]:
        """This process's batches of ``epoch`` from ``start_batch`` on (token_batches.py: by a
        token budget)."""
        return ShardedBatchSampler(
            len(self.dataset),
            self.batch_size,
            self.seed,
            epoch,
            start_batch,
            rank,
            world_size,
            self.shuffle,
            self.lengths,
        )

    def epoch(
        self, epoch: int, start_batch: int, rank: int = 0, world_size: int = 1
    ) -> DataLoader[Any]:
        set_epoch = getattr(self.collate, "set_epoch", None)
        if set_epoch is not None:
            set_epoch(epoch)
        sampler = self.sampler(epoch, start_batch, rank, world_size)
        loader_seed = torch.Generator().manual_seed(
            self.seed * 100_003 + epoch + LOADER_SEED_OFFSET
        )
        return DataLoader(
            self.dataset,
            batch_sampler=sampler,
            collate_fn=self.collate,
            num_workers=self.num_workers,
            generator=loader_seed,
        )
