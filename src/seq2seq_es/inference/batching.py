"""Dynamic batching: concurrent requests share ``generate`` calls, fairly, and can be cancelled.

Why: a seq2seq model on CPU decodes 16 texts in one call in far less than 16 times the
time of one (the matrix products get wider, the per-step overhead is paid once). A
server that runs each request alone leaves that on the table; one that waits a fixed
time to fill a batch adds latency when it is quiet. This batcher does neither: while the
model is busy, new requests queue; when it is free, it builds the next batch from the
queue, waiting at most ``max_wait_ms`` for more only when the batch is not full.

* **Fair:** a request is split into chunks of ``chunk_size`` texts, and batches are filled
  round-robin: every queued request's first chunk comes before any request's second, so
  a small request waits for at most one batch however large the requests queued before
  it (one 32-text request used to hold the model for a whole 32-text decoding).
  A batch holds chunks decodable with the same options.
* **Alone:** requests with a ``seed`` run whole and alone (the same request gives the same
  sample whatever else is queued), and so do streamed ones (a token stream is one text's).
* **Cancellable:** a request whose caller is gone (a timeout, a client that disconnected,
  the shutdown) leaves the queue, and a running batch whose requests are all gone is
  stopped between decoding steps (``DecodeControl.should_stop``).
* **Drained on shutdown:** ``drain(grace_s)`` refuses new requests, lets the queued and
  running ones finish for up to ``grace_s``, then fails the rest with ``ShuttingDown``.

One worker thread calls the engine, so the engine (and its tokenizer) is never used by
two threads at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from seq2seq_es.inference.config import GenerationOptions
from seq2seq_es.inference.decode_control import DecodeControl

GenerateFn = Callable[[Sequence[str], GenerationOptions, DecodeControl], list[dict[str, Any]]]
BatchObserver = Callable[[int, float], None]
TokenCallback = Callable[[int], None]
ALONE = "alone-"  # batch key prefix of requests that must not share a batch
POLL_S = 0.05


class QueueFull(Exception):
    """More texts are waiting than the server accepts; the request should be retried later."""


class ShuttingDown(Exception):
    """The server is shutting down: the request was refused or cancelled before its answer."""


@dataclass(eq=False)
class _Job:
    """One request: its texts' results fill in as its chunks are decoded."""

    texts: list[str]
    options: GenerationOptions
    key: str
    arrival: int
    future: asyncio.Future[list[dict[str, Any]]] = field(repr=False)
    on_token: TokenCallback | None = None
    cancelled: threading.Event = field(default_factory=threading.Event)
    results: list[dict[str, Any]] = field(default_factory=list)
    pending: int = 0


Ticket = _Job  # what ``enqueue`` hands back, for ``wait``


@dataclass(eq=False)
class _Chunk:
    job: _Job
    start: int
    texts: list[str]
    round: int  # its position among its request's chunks: batches take round 0s first


def _all_cancelled(jobs: list[_Job]) -> Callable[[], bool]:
    def stop() -> bool:
        return all(job.cancelled.is_set() for job in jobs)

    return stop


class DynamicBatcher:
    """Queue requests and decode compatible chunks together, one ``generate`` call per batch.

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
        chunk_size: int | None = None,
    ) -> None:
        self._generate = generate
        self.max_batch_size = max_batch_size
        self.chunk_size = min(chunk_size or max_batch_size, max_batch_size)
        self.max_wait_s = max_wait_ms / 1000.0
        self.max_queued = max_queued
        self._observe = observe
        self._queue: list[_Chunk] = []
        self._running: list[_Chunk] = []
        self._arrived: asyncio.Event | None = None
        self._worker: asyncio.Task[None] | None = None
        self._executor: ThreadPoolExecutor | None = None
        self._arrivals = itertools.count()
        self.accepting = False

    @property
    def queued_texts(self) -> int:
        return sum(len(chunk.texts) for chunk in self._queue)

    @property
    def running_texts(self) -> int:
        return sum(len(chunk.texts) for chunk in self._running)

    def start(self) -> None:
        self._arrived = asyncio.Event()
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="generate")
        self._worker = asyncio.get_running_loop().create_task(self._run())
        self.accepting = True

    async def drain(self, grace_s: float) -> None:
        """Refuse new requests; let the queued and running ones finish for up to ``grace_s``;
        fail the rest with ``ShuttingDown`` (a running batch stops at its next step)."""
        self.accepting = False
        deadline = time.monotonic() + grace_s
        while (self._queue or self._running) and time.monotonic() < deadline:
            await asyncio.sleep(POLL_S)
        for chunk in [*self._queue, *self._running]:
            self._fail(chunk.job, ShuttingDown("the server is shutting down"))
        while self._running:  # the engine stops at its next decoding step
            await asyncio.sleep(POLL_S)

    async def stop(self) -> None:
        await self.drain(0.0)
        if self._worker is not None:
            self._worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._worker
        if self._executor is not None:
            self._executor.shutdown(wait=True)

    async def submit(
        self,
        texts: Sequence[str],
        options: GenerationOptions,
        on_token: TokenCallback | None = None,
    ) -> list[dict[str, Any]]:
        """``enqueue`` then ``wait``: the outputs of ``texts`` decoded with ``options``."""
        return await self.wait(self.enqueue(texts, options, on_token))

    def enqueue(
        self,
        texts: Sequence[str],
        options: GenerationOptions,
        on_token: TokenCallback | None = None,
    ) -> Ticket:
        """Queue ``texts``; ``QueueFull`` when overloaded, ``ShuttingDown`` when stopping.

        ``on_token`` (one text only) is called from the worker thread with each new token id.
        Synchronous, so a caller knows before answering anything (a stream) that the request
        was accepted.
        """
        if self._arrived is None:
            raise RuntimeError("DynamicBatcher.start() was not called")
        if not self.accepting:
            raise ShuttingDown("the server is shutting down")
        if self.queued_texts + len(texts) > self.max_queued:
            raise QueueFull(
                f"{self.queued_texts} texts are already waiting (limit {self.max_queued})"
            )
        if on_token is not None and len(texts) != 1:
            raise ValueError("a token stream decodes exactly one text")
        arrival = next(self._arrivals)
        alone = options.seed is not None or on_token is not None
        key = f"{ALONE}{arrival}" if alone else options.model_dump_json()
        loop = asyncio.get_running_loop()
        job = _Job(list(texts), options, key, arrival, loop.create_future(), on_token)
        size = len(job.texts) if alone else self.chunk_size
        chunks = [
            _Chunk(job, start, job.texts[start : start + size], number)
            for number, start in enumerate(range(0, len(job.texts), size))
        ]
        job.results, job.pending = [{} for _ in job.texts], len(chunks)
        self._queue.extend(chunks)
        self._arrived.set()
        return job

    async def wait(self, ticket: Ticket) -> list[dict[str, Any]]:
        """The outputs of an enqueued request. Cancelling the caller (a timeout, a disconnect)
        takes the request's chunks out of the queue and stops a running batch that no other
        request needs."""
        try:
            return await ticket.future
        finally:
            if not ticket.future.done() or ticket.future.cancelled():
                self._fail(ticket, None)

    def _fail(self, job: _Job, error: Exception | None) -> None:
        """Take ``job`` out: its chunks leave the queue, its running batch may stop, its caller
        gets ``error`` (None: the caller is gone already)."""
        job.cancelled.set()
        self._queue = [chunk for chunk in self._queue if chunk.job is not job]
        if error is not None and not job.future.done():
            job.future.set_exception(error)

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            batch = await self._next_batch()
            texts = [text for chunk in batch for text in chunk.texts]
            jobs = list(dict.fromkeys(chunk.job for chunk in batch))
            control = DecodeControl(_all_cancelled(jobs), jobs[0].on_token)
            started = time.perf_counter()
            self._running = batch
            try:
                results = await loop.run_in_executor(
                    self._executor, self._generate, texts, jobs[0].options, control
                )
            except Exception as exc:  # the engine failed: every request of the batch gets the error
                for job in jobs:
                    self._fail(job, exc)
                continue
            finally:
                self._running = []
            if self._observe is not None:
                self._observe(len(texts), time.perf_counter() - started)
            offsets = itertools.accumulate((len(chunk.texts) for chunk in batch), initial=0)
            for chunk, offset in zip(batch, offsets, strict=False):
                job = chunk.job
                if job.future.done():
                    continue
                job.results[chunk.start : chunk.start + len(chunk.texts)] = results[
                    offset : offset + len(chunk.texts)
                ]
                job.pending -= 1
                if job.pending == 0:
                    job.future.set_result(job.results)

    async def _next_batch(self) -> list[_Chunk]:
        """The first chunk in round-robin order and the queued ones that share its options, up
        to the batch size; waits up to ``max_wait_ms`` after the first arrival for the batch
        to fill."""
        assert self._arrived is not None
        deadline: float | None = None
        while True:
            while not self._queue:
                self._arrived.clear()
                await self._arrived.wait()
            deadline = deadline or time.perf_counter() + self.max_wait_s
            batch = self._compatible()
            remaining = deadline - time.perf_counter()
            full = sum(len(chunk.texts) for chunk in batch) >= self.max_batch_size
            if full or remaining <= 0 or batch[0].job.key.startswith(ALONE):
                break
            self._arrived.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._arrived.wait(), remaining)
        taken = set(map(id, batch))
        self._queue = [chunk for chunk in self._queue if id(chunk) not in taken]
        return batch

    def _compatible(self) -> list[_Chunk]:
        ordered = sorted(self._queue, key=lambda chunk: (chunk.round, chunk.job.arrival))
        first = ordered[0]
        batch, size = [first], len(first.texts)
        if first.job.key.startswith(ALONE):
            return batch
        for chunk in ordered[1:]:
            if chunk.job.key == first.job.key and size + len(chunk.texts) <= self.max_batch_size:
                batch.append(chunk)
                size += len(chunk.texts)
        return batch
