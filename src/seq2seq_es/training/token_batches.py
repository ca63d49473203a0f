"""Token-budget batches (fairseq's ``--max-tokens``): as many similar-length examples per batch
as fit a budget of padded source + target tokens.

Why: a fixed number of examples per batch either wastes memory on short sentences or overflows
it on long ones, and pads every example to its batch's longest. A budget of padded tokens keeps
each step's cost (memory and compute, both proportional to padded tokens) about constant, and
sorting by length first leaves little padding. As fairseq does, an epoch's examples (in the
random order of (seed, epoch), which breaks ties between equal lengths) are sorted by target,
then source length, cut greedily into batches whose ``rows × (longest source + longest target)``
stays within the budget (and ``max_rows`` rows at most, fairseq's ``--batch-size``), and the
batches are then shuffled. The batch list is a pure function of (seed, epoch), so a resume at
batch ``b`` starts there, as with ``batches.ShardedBatchSampler``.

Processes: every batch holds a multiple of the process count, and process ``r`` takes the
``r``-th equal slice of it; every process sees the same number of batches (DDP never waits for
a batch that does not come). Batches hold different numbers of target tokens, so the loop
weighs each micro-batch's mean loss by its tokens (``per_token_loss``; ``loop.loss_divisors``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any

import torch
from torch.utils.data import Sampler

from seq2seq_es.errors import ConfigError
from seq2seq_es.training.batches import EpochBatches

BUDGET_KEY = "train_max_tokens"  # the config key the errors name


def check_budget(
    sources: Sequence[int], targets: Sequence[int], max_tokens: int, max_rows: int, processes: int
) -> None:
    """Refuse a budget that cannot hold one row of the longest examples per process.

    Why refuse rather than give such an example a batch of its own: the budget is what a user
    sizes to the accelerator's memory, and a batch above it is the out-of-memory error the
    budget exists to prevent, hours into a run. The longest source and target bound every batch,
    so this check at the start is the whole guarantee."""
    longest = max(sources) + max(targets)
    if max_tokens < processes * longest:
        raise ConfigError(
            f"{BUDGET_KEY}={max_tokens} cannot hold {processes} row(s) (one per process) of the "
            f"longest training source ({max(sources)} tokens) and target ({max(targets)} tokens): "
            f"set {BUDGET_KEY} to at least {processes * longest}, or lower max_source_length / "
            "max_target_length."
        )
    if max_rows < processes:
        raise ConfigError(
            f"optim.batch_size={max_rows} (the cap on examples per token-budget batch) is below "
            f"the {processes} processes: each process needs an example per batch."
        )


def budget_batches(
    order: torch.Tensor,
    sources: Sequence[int],
    targets: Sequence[int],
    max_tokens: int,
    max_rows: int,
    multiple: int,
) -> list[list[int]]:
    """``order`` sorted longest first and cut into batches within the budget, each of a multiple
    of ``multiple`` rows (what does not fill a multiple is carried to the next batch; the last
    few, fewer than ``multiple``, are dropped, as the examples batching drops its tail).

    Sorted by target length, then source length (fairseq's order): a batch pads its sources and
    its targets apart, and examples of equal source + target length can differ in both. On
    Tatoeba en→es (9,600 pairs, budget 693) this leaves 1.0% padding against 16.8% when sorted
    by the sum (benchmarks/RESULTS.md, "batching")."""
    ranked = sorted(order.tolist(), key=lambda i: (-targets[i], -sources[i]))
    batches: list[list[int]] = []
    current: list[int] = []
    source, target = 0, 0  # the longest source and target in ``current``
    for index in ranked:
        wider = max(source, sources[index]) + max(target, targets[index])
        if current and ((len(current) + 1) * wider > max_tokens or len(current) == max_rows):
            keep = len(current) // multiple * multiple
            batches.append(current[:keep])
            current = current[keep:]
            source = max((sources[i] for i in current), default=0)
            target = max((targets[i] for i in current), default=0)
        current.append(index)
        source, target = max(source, sources[index]), max(target, targets[index])
    keep = len(current) // multiple * multiple
    if keep:
        batches.append(current[:keep])
    return batches


def epoch_plan(
    sources: Sequence[int],
    targets: Sequence[int],
    max_tokens: int,
    max_rows: int,
    seed: int,
    epoch: int,
    processes: int,
) -> list[list[int]]:
    """The global batches of ``epoch``, in training order: a pure function of its arguments."""
    check_budget(sources, targets, max_tokens, max_rows, processes)
    generator = torch.Generator().manual_seed(seed * 100_003 + epoch)
    order = torch.randperm(len(sources), generator=generator)
    batches = budget_batches(order, sources, targets, max_tokens, max_rows, processes)
    return [batches[i] for i in torch.randperm(len(batches), generator=generator).tolist()]


class TokenBudgetSampler(Sampler[list[int]]):
    """Process ``rank``'s equal slice of each batch of an epoch's plan, from ``start_batch`` on."""

    def __init__(self, plan: list[list[int]], start_batch: int, rank: int, world_size: int) -> None:
        self.plan, self.start_batch, self.rank, self.world_size = (
            plan,
            start_batch,
            rank,
            world_size,
        )

    def __len__(self) -> int:
        return max(len(self.plan) - self.start_batch, 0)

    def __iter__(self) -> Iterator[list[int]]:
        for batch in self.plan[self.start_batch :]:
            share = len(batch) // self.world_size
            yield batch[self.rank * share : (self.rank + 1) * share]


class TokenBatches(EpochBatches):
    """``EpochBatches`` whose batches fill a budget of ``max_tokens`` padded source + target
    tokens (global: split across processes) with at most ``max_rows`` examples each."""

    per_token_loss = True

    def __init__(
        self,
        items: Sequence[dict[str, Any]],
        collate: Callable[[list[tuple[int, Any]]], dict[str, torch.Tensor]],
        max_tokens: int,
        max_rows: int,
        seed: int,
        num_workers: int = 0,
    ) -> None:
        super().__init__(items, collate, max_rows, seed, num_workers)
        self.sources = [len(item["input_ids"]) for item in items]
        self.targets = [len(item["labels"]) for item in items]
        self.max_tokens = max_tokens
        check_budget(self.sources, self.targets, max_tokens, max_rows, processes=1)

    def sampler(
        self, epoch: int, start_batch: int, rank: int, world_size: int
    ) -> TokenBudgetSampler:
        plan = epoch_plan(
            self.sources,
            self.targets,
            self.max_tokens,
            self.batch_size,
            self.seed,
            epoch,
            world_size,
        )
        return TokenBudgetSampler(plan, start_batch, rank, world_size)

    def batches_per_epoch(self) -> int:
        """Epoch 0's count (epochs differ by a batch or so: ties break differently)."""
        return len(self.sampler(0, 0, 0, 1))
