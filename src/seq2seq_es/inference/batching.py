"""Dynamic batching: concurrent requests share one ``generate`` call.

Why: a seq2seq model on CPU decodes 16 texts in one call in far less than 16 times the
time of one (the matrix products get wider, the per-step overhead is paid once). A
server that runs each request alone leaves that on the table; one that waits a fixed
time to fill a batch adds latency when it is quiet. This batcher does neither: while the
model is busy, new requests queue; when it is free, it takes the oldest request and
every queued request decodable with the same options (up to ``max_batch_size`` texts),
waiting at most ``max_wait_ms`` for more only when the batch is not full.

Requests are never split (a batch is whole requests; one request larger than the batch
size runs alone). Requests with a ``seed`` run alone, so the same request gives the same
sample whatever else is queued. One worker thread calls the engine, so the engine is
never used by two threads at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from seq2seq_es.inference.config import GenerationOptions

GenerateFn = Callable[[Sequence[str], GenerationOptions], list[dict[str, Any]]]
BatchObserver = Callable[[int, float], None]
ALONE = "alone-"  # batch key prefix of requests that must not share a batch


class QueueFull(Exception):
    """More texts are waiting than the server accepts; the request should be retried later."""


@dataclass(eq=False)
class _Request:
    texts: list[str]
    options: GenerationOptions
    key: str
    future: asyncio.Future[list[dict[str, Any]]] = field(repr=False)


class DynamicBatcher:
    """Queue requests and decode compatible ones together, one ``generate`` call per batch.

    ``observe(texts, seconds)`` is called after each call (for metrics). Start it inside
    the event loop that will submit (``start``), stop it on shutdown (``stop``).
    """

    def __init__(
        self,
        generate: GenerateFn,
        max_batch_size: int,
        max_wait_ms: float,
        max_queued: int,
        observe: BatchObserver | None = None,
    ) -> None:
        self._generate = generate
        self.max_batch_size = max_batch_size
        self.max_wait_s = max_wait_ms / 1000.0
        self.max_queued = max_queued
        self._observe = observe
        self._queue: list[_Request] = []
        self._arrived: asyncio.Event | None = None
        self._worker: asyncio.Task[None] | None = None
        self._executor: ThreadPoolExecutor | None = None
        self._unique = itertools.count()

    @property
    def queued_texts(self) -> int:
        return sum(len(request.texts) for request in self._queue)

    def start(self) -> None:
        self._arrived = asyncio.Event()
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="generate")
        self._worker = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        if self._worker is not None:
            self._worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._worker
        for request in self._queue:
            if not request.future.done():
                request.future.cancel()
        self._queue.clear()
        if self._executor is not None:
            self._executor.shutdown(wait=True)

    async def submit(
        self, texts: Sequence[str], options: GenerationOptions
    ) -> list[dict[str, Any]]:
        """Decode ``texts`` with ``options`` in some batch; raises ``QueueFull`` when overloaded.

        Cancelling the caller (a timeout) takes the request out of the queue if it has
        not started; a started batch finishes and its result for this request is dropped.
        """
        if self._arrived is None:
            raise RuntimeError("DynamicBatcher.start() was not called")
        if self.queued_texts + len(texts) > self.max_queued:
            raise QueueFull(
                f"{self.queued_texts} texts are already waiting (limit {self.max_queued})"
            )
        key = options.model_dump_json() if options.seed is None else f"{ALONE}{next(self._unique)}"
        request = _Request(list(texts), options, key, asyncio.get_running_loop().create_future())
        self._queue.append(request)
        self._arrived.set()
        try:
            return await request.future
        finally:
            if request in self._queue:
                self._queue.remove(request)

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            batch = await self._next_batch()
            texts = [text for request in batch for text in request.texts]
            started = time.perf_counter()
            try:
                results = await loop.run_in_executor(
                    self._executor, self._generate, texts, batch[0].options
                )
            except Exception as exc:  # the engine failed: every request of the batch gets the error
                for request in batch:
                    if not request.future.done():
                        request.future.set_exception(exc)
                continue
            if self._observe is not None:
                self._observe(len(texts), time.perf_counter() - started)
            offsets = itertools.accumulate((len(request.texts) for request in batch), initial=0)
            for request, start in zip(batch, offsets, strict=False):
                if not request.future.done():
                    request.future.set_result(results[start : start + len(request.texts)])

    async def _next_batch(self) -> list[_Request]:
        """The oldest request and the queued ones that share its options, up to the batch size;
        waits up to ``max_wait_ms`` after the first arrival for the batch to fill."""
        assert self._arrived is not None
        deadline: float | None = None
        while True:
            while not self._queue:
                self._arrived.clear()
                await self._arrived.wait()
            deadline = deadline or time.perf_counter() + self.max_wait_s
            batch = self._compatible(self._queue[0])
            remaining = deadline - time.perf_counter()
            full = sum(len(request.texts) for request in batch) >= self.max_batch_size
            if full or remaining <= 0 or batch[0].key.startswith(ALONE):
                break
            self._arrived.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._arrived.wait(), remaining)
        for request in batch:
            self._queue.remove(request)
        return batch

    def _compatible(self, first: _Request) -> list[_Request]:
        batch, size = [first], len(first.texts)
        for request in self._queue[1:]:
            if request.key == first.key and size + len(request.texts) <= self.max_batch_size:
                batch.append(request)
                size += len(request.texts)
        return batch
