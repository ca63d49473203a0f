"""One served model behind every route: check a request, queue it, wait for it, answer it.

Why one class for all routes: ``/v1/generate``, the TGI routes and the Hugging Face task
routes must refuse, bound and cancel work the same way, or the least guarded route is
the server's limit. Each check raises an ``HTTPException`` a client can act on:

* texts: only whitespace, more than ``max_input_tokens`` tokens, or longer than the model's
  source length (422, unless ``long_inputs=truncate``: then cut, ``truncated: true``);
* work: inputs × beams × new tokens over ``max_work`` (422), so one request cannot hold
  the only worker for a minute;
* queue full (429), or more work queued than the model answers within ``request_timeout_s``
  at the rate it has been answering (429 at once, with ``Retry-After``: a saturated batch-1
  server otherwise held every such request 60 s, then gave it a 503); shutting down (503), no
  answer within ``request_timeout_s`` (503).

Waiting is cancelled as soon as the client disconnects or the deadline passes: the request
leaves the queue, and a running batch no one waits for any more stops at its next step.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from fastapi import HTTPException
from fastapi.responses import Response
from starlette.types import Receive

from seq2seq_es.inference.batching import DynamicBatcher, QueueFull, ShuttingDown, TokenCallback
from seq2seq_es.inference.config import GenerationOptions, ServeConfig
from seq2seq_es.inference.decode_control import DecodeControl
from seq2seq_es.inference.engines import Engine
from seq2seq_es.inference.request_tokenizer import RequestTokenizer
from seq2seq_es.inference.server_metrics import ServerMetrics

CLIENT_GONE = 499  # nginx's "client closed request": counted, never read by anyone


class ClientGone(Exception):
    """The client disconnected before its answer; nothing is sent."""


@dataclass(frozen=True)
class Checked:
    """A request that passed the checks: its texts, their token counts and its options."""

    texts: list[str]
    counts: list[int]
    options: GenerationOptions


class AnswerRate:
    """Texts per second the model has been answering: an exponential average over batches.

    Why per batch: a batch of 32 texts takes longer than one of 1 but answers more texts per
    second; the average follows the batch sizes the current load makes. ``None`` until a few
    batches have run (a cold server refuses nothing on a guess).
    """

    SMOOTHING = 0.2
    WARM_UP_BATCHES = 3

    def __init__(self) -> None:
        self.texts_per_s: float | None = None
        self.batches = 0

    def observe(self, texts: int, seconds: float) -> None:
        if seconds <= 0:
            return
        rate = texts / seconds
        previous = self.texts_per_s
        self.texts_per_s = (
            rate if previous is None else previous + self.SMOOTHING * (rate - previous)
        )
        self.batches += 1

    def seconds_for(self, texts: int) -> float | None:
        """How long ``texts`` texts take at the current rate (None: not known yet)."""
        if self.batches < self.WARM_UP_BATCHES or not self.texts_per_s:
            return None
        return texts / self.texts_per_s


class ModelService:
    """A served model: its engine, its batcher and the server's own tokenizer for it."""

    def __init__(
        self, name: str, engine: Engine, config: ServeConfig, metrics: ServerMetrics
    ) -> None:
        self.name, self.engine, self.limits = name, engine, config.limits
        self.metrics = metrics
        self.tokenizer = RequestTokenizer(engine.tokenizer)
        server_options = config.generation

        def generate(
            texts: Sequence[str], options: GenerationOptions, control: DecodeControl
        ) -> list[dict[str, Any]]:
            return engine.generate(texts, server_options.overridden_by(options), control)

        self.server_options = server_options
        self.rate = AnswerRate()
        self.batcher = DynamicBatcher(
            generate,
            config.batching.max_batch_size,
            config.batching.max_wait_ms,
            config.limits.max_queued_inputs,
            self._observe,
            chunk_size=config.batching.chunk_size,
        )

    def _observe(self, texts: int, seconds: float) -> None:
        self.rate.observe(texts, seconds)
        self.metrics.batch_size.labels(self.name).observe(texts)
        self.metrics.batch_seconds.labels(self.name).observe(seconds)

    @property
    def degraded(self) -> bool:
        return self.batcher.queued_texts > self.limits.degraded_queued_inputs

    async def check(self, texts: list[str], options: GenerationOptions) -> Checked:
        """The request's token counts, or the 422 that says which limit it breaks."""
        counts = await asyncio.to_thread(self._counts, texts)
        source_length = self.engine.max_source_length
        if self.limits.long_inputs == "refuse":
            for position, count in enumerate(counts):
                if count > source_length:
                    raise _invalid(
                        f"inputs.{position}: {count:,} tokens, longer than the model's source "
                        f"length of {source_length:,} tokens (it would be cut there, and the "
                        "rest ignored). Shorten the text, or start the server with "
                        "limits.long_inputs=truncate to have it cut (the output then says "
                        "truncated: true)."
                    )
        self._check_work(len(texts), options)
        return Checked(texts, counts, options)

    def _counts(self, texts: list[str]) -> list[int]:
        counts = self.tokenizer.count(texts)
        limit = self.limits.max_input_tokens
        for position, (text, count) in enumerate(zip(texts, counts, strict=True)):
            if not text.strip():
                raise _invalid(f"inputs.{position}: the text is only whitespace.")
            if count > limit:
                raise _invalid(
                    f"inputs.{position}: {count:,} tokens, more than the limit of {limit:,} "
                    "(limits.max_input_tokens). Shorten the text."
                )
        return counts

    def resolved(self, options: GenerationOptions) -> GenerationOptions:
        """``options`` as the engine will decode them (server, then model defaults filled in)."""
        defaults = getattr(self.engine, "defaults", GenerationOptions())
        return self.server_options.overridden_by(options).resolved(defaults)

    def _check_work(self, texts: int, options: GenerationOptions) -> None:
        settings = self.resolved(options)
        assert settings.num_beams is not None and settings.max_new_tokens is not None
        work = texts * settings.num_beams * settings.max_new_tokens
        if work > self.limits.max_work:
            raise _invalid(
                f"{texts} inputs × {settings.num_beams} beams × {settings.max_new_tokens} new "
                f"tokens = {work:,}, more than limits.max_work = {self.limits.max_work:,}. "
                "Send fewer inputs per request, or ask for fewer beams or new tokens."
            )

    def enqueue(self, checked: Checked, on_token: TokenCallback | None = None) -> Any:
        """Queue a checked request (429 when the queue is full or its answer could not come in
        time, 503 when shutting down)."""
        self._check_wait(len(checked.texts))
        try:
            return self.batcher.enqueue(checked.texts, checked.options, on_token)
        except QueueFull as exc:
            raise HTTPException(
                429, f"The server is busy ({exc}); retry in a moment.", headers={"Retry-After": "1"}
            ) from None
        except ShuttingDown:
            raise _shutting_down() from None

    def _check_wait(self, texts: int) -> None:
        """429 now for a request that would wait past its deadline behind the queued work."""
        ahead = self.batcher.queued_texts + self.batcher.running_texts + texts
        wait = self.rate.seconds_for(ahead)
        timeout = self.limits.request_timeout_s
        if wait is not None and wait > timeout:
            raise HTTPException(
                429,
                f"The server is saturated: about {wait:.0f} s of work is ahead of this request, "
                f"more than limits.request_timeout_s = {timeout:g} s; retry in a moment.",
                headers={"Retry-After": str(max(1, math.ceil(wait - timeout)))},
            )

    async def wait(self, ticket: Any, receive: Receive | None = None) -> list[dict[str, Any]]:
        """The engine's outputs for ``ticket``, unless the client leaves (``ClientGone``), the
        deadline passes (503) or the server shuts down (503); each gives the work up."""
        work = asyncio.ensure_future(self.batcher.wait(ticket))
        watch = asyncio.ensure_future(_disconnect(receive)) if receive is not None else None
        try:
            async with asyncio.timeout(self.limits.request_timeout_s):
                await asyncio.wait(
                    {work, *([watch] if watch else [])}, return_when="FIRST_COMPLETED"
                )
        except TimeoutError:
            self.metrics.cancelled.labels(self.name, "timeout").inc()
            raise HTTPException(
                503,
                f"No answer within {self.limits.request_timeout_s:g} s "
                "(limits.request_timeout_s): the server is saturated; retry later.",
                headers={"Retry-After": "5"},
            ) from None
        finally:
            for task in (work, watch):
                if task is not None and not task.done():
                    task.cancel()
            self.metrics.queued.labels(self.name).set(self.batcher.queued_texts)
        if not work.done() or work.cancelled():
            self.metrics.cancelled.labels(self.name, "disconnect").inc()
            raise ClientGone
        try:
            return work.result()
        except ShuttingDown:
            self.metrics.cancelled.labels(self.name, "shutdown").inc()
            raise _shutting_down() from None

    def outputs(self, checked: Checked, results: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """The engine's results with each input's token count and whether it was cut."""
        self.metrics.tokens.labels(self.name).inc(sum(int(result["tokens"]) for result in results))
        source_length = self.engine.max_source_length
        return [
            result | {"input_tokens": count, "truncated": count > source_length}
            for result, count in zip(results, checked.counts, strict=True)
        ]

    async def answer(
        self, texts: list[str], options: GenerationOptions, receive: Receive | None = None
    ) -> tuple[list[dict[str, Any]], float]:
        """Check, queue and wait: the outputs and the seconds it took."""
        started = time.perf_counter()
        checked = await self.check(texts, options)
        results = await self.wait(self.enqueue(checked), receive)
        seconds = time.perf_counter() - started
        self.metrics.latency.labels(self.name).observe(seconds)
        return self.outputs(checked, results), seconds


async def _disconnect(receive: Receive | None) -> None:
    """Returns when the client disconnects (the request body has been read already)."""
    assert receive is not None
    while (await receive())["type"] != "http.disconnect":
        pass


def client_gone() -> Response:
    """What a handler returns for a client that left: nobody reads it; it is counted as 499."""
    return Response(status_code=CLIENT_GONE)


def _invalid(message: str) -> HTTPException:
    return HTTPException(422, f"Invalid request: {message}")


def _shutting_down() -> HTTPException:
    return HTTPException(
        503,
        "The server is shutting down; the request was not answered. Retry (on another "
        "instance, or once it is back).",
        headers={"Retry-After": "5", "Connection": "close"},
    )
