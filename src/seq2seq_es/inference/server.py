"""The HTTP API and web page over loaded engines: ``create_app(engines, config)``.

Endpoints: ``POST /v1/generate`` (texts in, outputs out), ``GET /v1/models``,
``GET /health``, ``GET /metrics`` (Prometheus text), ``GET /`` (the web page),
``/docs`` and ``/openapi.json`` (FastAPI's schema).

Why it is built this way:

* **Requests name models, never paths.** The engines are opened by ``serve`` from the
  folders given at start; a request picks one by its served name (an enum in the schema).
* **Every bad request is a 4xx that says what to change.** The request schema is built from
  the configured limits (so ``/openapi.json`` shows them), strict (no "5" for 5, no unknown
  field, no NaN); the body size is capped before it is read (413); the token count is
  checked after tokenizing (422); a full queue is 429. A request that waits longer than
  ``request_timeout_s`` gets 503: the server is alive but saturated, retry later.
* **Concurrent requests share generate calls** (``batching.DynamicBatcher``), one worker
  thread per model, so the event loop keeps answering ``/health`` while a batch decodes.
* **Metrics live in the app's own registry** (no global state): two apps in one process
  (tests) do not mix their counts.
"""

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Mapping
from typing import Annotated, Any, Literal

from fastapi import FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, create_model
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from seq2seq_es.inference.batching import DynamicBatcher, QueueFull
from seq2seq_es.inference.config import GenerationOptions, ServeConfig, ServeLimits
from seq2seq_es.inference.engines import Engine
from seq2seq_es.inference.token_counts import TokenCounter
from seq2seq_es.inference.web.page import PageTask, page_asset, render_page

LOG = logging.getLogger(__name__)
MAX_SEED = 2**31 - 1
MAX_TOP_K = 1000
MAX_NO_REPEAT_NGRAM = 16
TEMPERATURE_RANGE = (0.01, 100.0)
LENGTH_PENALTY_RANGE = (-10.0, 10.0)


class _StrictRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False)


def request_schemas(
    limits: ServeLimits, model_names: list[str]
) -> tuple[type[BaseModel], type[BaseModel]]:
    """``(GenerateRequest, GenerateOptions)`` with ``limits`` written into the schema."""
    options = create_model(
        "GenerateOptions",
        __base__=_StrictRequest,
        __doc__="Decoding options; unset ones take the model's.",
        max_new_tokens=(int | None, Field(None, ge=1, le=limits.max_new_tokens)),
        num_beams=(int | None, Field(None, ge=1, le=limits.max_num_beams)),
        do_sample=(bool, False),
        temperature=(float, Field(1.0, ge=TEMPERATURE_RANGE[0], le=TEMPERATURE_RANGE[1])),
        top_k=(int, Field(0, ge=0, le=MAX_TOP_K)),
        top_p=(float, Field(1.0, gt=0.0, le=1.0)),
        length_penalty=(
            float | None,
            Field(None, ge=LENGTH_PENALTY_RANGE[0], le=LENGTH_PENALTY_RANGE[1]),
        ),
        no_repeat_ngram_size=(int | None, Field(None, ge=0, le=MAX_NO_REPEAT_NGRAM)),
        seed=(int | None, Field(None, ge=0, le=MAX_SEED)),
        output_scores=(bool, False),
    )
    served: Any = Literal[tuple(model_names)]
    text = Annotated[str, StringConstraints(min_length=1, max_length=limits.max_input_chars)]
    generate = create_model(
        "GenerateRequest",
        __base__=_StrictRequest,
        __doc__="Texts to decode with one served model.",
        inputs=(list[text], Field(min_length=1, max_length=limits.max_inputs)),
        model=(
            served | None,
            Field(None, description=f"Served model name (default: {model_names[0]})."),
        ),
        options=(options, Field(default_factory=options)),
    )
    return generate, options


class _BodyTooLarge(HTTPException):
    def __init__(self, limit: int) -> None:
        super().__init__(
            413,
            f"The request body is larger than {limit:,} bytes (limits.max_request_bytes). "
            "Send fewer or shorter texts per request.",
        )


class _BodyTooSlow(HTTPException):
    def __init__(self, limit: float) -> None:
        super().__init__(
            408,
            f"The request body did not arrive within {limit:g} s (limits.read_timeout_s).",
            headers={"Connection": "close"},
        )


class RequestBodyLimits:
    """Refuse request bodies over ``max_bytes`` bytes (413) or slower than ``timeout_s`` (408).

    Checks ``Content-Length`` first, then counts the bytes of a streamed body as they arrive.
    The rest of a too-large body is read and dropped (up to ``DRAIN_FACTOR`` times the
    limit) before answering: a server that answers while the client is still sending and
    closes the connection makes most clients report a broken connection instead of the 413.
    The whole body must arrive within ``timeout_s`` of the first read: a client dripping a
    byte every few seconds otherwise holds a connection for as long as it likes (the
    headers' timeout is the protocol's, ``http_server.limited_protocol``). The errors are
    ``HTTPException``s so FastAPI's body reader passes them through as they are.
    """

    DRAIN_FACTOR = 8

    def __init__(self, app: ASGIApp, max_bytes: int, timeout_s: float) -> None:
        self.app, self.limit, self.timeout_s = app, max_bytes, timeout_s

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.limit:
            if int(declared) <= self.DRAIN_FACTOR * self.limit:
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(self.timeout_s):
                        await self._drain(receive, 0)
            await _error_response(413, str(_BodyTooLarge(self.limit).detail))(scope, receive, send)
            return
        seen, deadline, complete = 0, None, False

        async def limited() -> Message:
            nonlocal seen, deadline, complete
            if complete:  # the body is read: what comes now is the disconnect, whenever it comes
                return await receive()
            loop = asyncio.get_running_loop()
            deadline = deadline or loop.time() + self.timeout_s
            try:
                async with asyncio.timeout_at(deadline):
                    message = await receive()
            except TimeoutError:
                raise _BodyTooSlow(self.timeout_s) from None
            seen += len(message.get("body", b""))
            complete = message["type"] != "http.request" or not message.get("more_body", False)
            if seen > self.limit:
                if not complete:
                    with contextlib.suppress(TimeoutError):
                        async with asyncio.timeout_at(deadline):
                            await self._drain(receive, seen)
                raise _BodyTooLarge(self.limit)
            return message

        await self.app(scope, limited, send)

    async def _drain(self, receive: Receive, seen: int) -> None:
        while seen <= self.DRAIN_FACTOR * self.limit:
            message = await receive()
            seen += len(message.get("body", b""))
            if message["type"] != "http.request" or not message.get("more_body", False):
                return


class CountedResponses:
    """Count every response by route and status; answer an unhandled error with a JSON 500.

    A pure ASGI middleware (not ``@app.middleware``): it sees the status of streamed
    responses too, and an exception that escapes the app becomes a counted, logged JSON
    500 instead of Starlette's plain-text one, so the page and clients can show it and
    ``/metrics`` shows every 5xx.
    """

    def __init__(self, app: ASGIApp, count: Any) -> None:
        self.app, self.count = app, count

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status: int | None = None

        async def send_counted(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_counted)
        except Exception:
            LOG.exception("unhandled error answering %s %s", scope["method"], scope["path"])
            if status is None:
                await _error_response(
                    500, "Internal server error (logged on the server); retry or report it."
                )(scope, receive, send)
            status = 500
        finally:
            route = scope.get("route")
            self.count(getattr(route, "path", "unmatched"), status or 500)


def _error_response(
    status: int,
    message: str,
    details: list[str] | None = None,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    return JSONResponse(
        {"error": message, **({"details": details} if details else {})},
        status_code=status,
        headers=headers,
    )


BODY_HINT = 'send a JSON object such as {"inputs": ["..."]} with Content-Type: application/json'


def _validation_messages(exc: RequestValidationError) -> list[str]:
    messages = []
    for error in exc.errors():
        location = ".".join(str(part) for part in error["loc"] if part != "body") or "body"
        if location == "body" and error["type"] != "json_invalid":
            messages.append(f"the body is not a JSON object: {BODY_HINT}")
        elif error["type"] == "extra_forbidden":
            messages.append(f"{location}: unknown field")
        elif error["type"] == "json_invalid":
            messages.append(
                f"body is not valid JSON ({error.get('ctx', {}).get('error', error['msg'])})"
            )
        else:
            messages.append(f"{location}: {error['msg']}")
    return messages


class _Metrics:
    """The server's Prometheus series, in a registry of its own."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "seq2seq_es_requests",
            "HTTP requests by path and status.",
            ["path", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "seq2seq_es_generate_latency_seconds",
            "Time to answer POST /v1/generate.",
            ["model"],
            registry=self.registry,
            buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
        )
        self.batch_size = Histogram(
            "seq2seq_es_batch_size",
            "Texts per generate call.",
            ["model"],
            registry=self.registry,
            buckets=(1, 2, 4, 8, 16, 32, 64, 128),
        )
        self.batch_seconds = Histogram(
            "seq2seq_es_batch_seconds",
            "Time of one generate call.",
            ["model"],
            registry=self.registry,
        )
        self.tokens = Counter(
            "seq2seq_es_generated_tokens", "Tokens generated.", ["model"], registry=self.registry
        )
        self.queued = Gauge(
            "seq2seq_es_queued_texts",
            "Texts waiting for the model.",
            ["model"],
            registry=self.registry,
        )


def create_app(
    engines: Mapping[str, Engine], config: ServeConfig, page_tasks: list[PageTask] | None = None
) -> FastAPI:
    """The FastAPI app serving ``engines`` (served name → engine) under ``config``'s limits."""
    if not engines:
        raise ValueError("create_app needs at least one engine")
    names = list(engines)
    limits = config.limits
    metrics = _Metrics()
    batchers = {
        name: DynamicBatcher(
            _generate_with(engine, config.generation),
            config.batching.max_batch_size,
            config.batching.max_wait_ms,
            limits.max_queued_inputs,
            _observer(metrics, name),
        )
        for name, engine in engines.items()
    }
    counters = {name: TokenCounter(engine.tokenizer) for name, engine in engines.items()}
    GenerateRequest, _ = request_schemas(limits, names)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        for batcher in batchers.values():
            batcher.start()
        yield
        for batcher in batchers.values():
            await batcher.stop()

    app = FastAPI(
        title="seq2seq-es",
        version="1",
        lifespan=lifespan,
        description="Spanish sequence-to-sequence models: generate from text.",
    )
    app.add_middleware(
        RequestBodyLimits, max_bytes=limits.max_request_bytes, timeout_s=limits.read_timeout_s
    )

    def count_response(path: str, status: int) -> None:
        metrics.requests.labels(path, str(status)).inc()

    app.add_middleware(CountedResponses, count=count_response)
    app.state.limits, app.state.count_response = limits, count_response
    app.state.drain = _drain_all(batchers)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        details = _validation_messages(exc)
        return _error_response(422, "Invalid request: " + "; ".join(details), details)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        message = str(exc.detail)
        if (
            exc.status_code == 400
        ):  # FastAPI could not parse the body (e.g. bytes that are not UTF-8)
            message = f"Bad request ({message}): {BODY_HINT}, in UTF-8."
        return _error_response(exc.status_code, message, headers=exc.headers)

    @app.post("/v1/generate", summary="Decode texts with a served model")
    async def generate(body: GenerateRequest) -> dict[str, Any]:  # type: ignore[valid-type]
        started = time.perf_counter()
        request: Any = body
        name = request.model or names[0]
        counts = await asyncio.to_thread(
            _checked_token_counts, counters[name], request.inputs, limits.max_input_tokens
        )
        source_length = engines[name].max_source_length
        if limits.long_inputs == "refuse":
            _refuse_long_inputs(counts, source_length)
        options = GenerationOptions.model_validate(request.options.model_dump(exclude_unset=True))
        batcher = batchers[name]
        try:
            outputs = await asyncio.wait_for(
                batcher.submit(request.inputs, options), limits.request_timeout_s
            )
        except QueueFull as exc:
            raise HTTPException(
                429, f"The server is busy ({exc}); retry in a moment.", headers={"Retry-After": "1"}
            ) from None
        except TimeoutError:
            raise HTTPException(
                503,
                f"No answer within {limits.request_timeout_s:g} s "
                "(limits.request_timeout_s): the server is saturated; retry later.",
                headers={"Retry-After": "5"},
            ) from None
        finally:
            metrics.queued.labels(name).set(batcher.queued_texts)
        seconds = time.perf_counter() - started
        metrics.latency.labels(name).observe(seconds)
        metrics.tokens.labels(name).inc(sum(int(output["tokens"]) for output in outputs))
        outputs = [
            output | {"input_tokens": count, "truncated": count > source_length}
            for output, count in zip(outputs, counts, strict=True)
        ]
        return {"model": name, "outputs": outputs, "latency_ms": round(seconds * 1000, 1)}

    @app.get("/v1/models", summary="The served models and their limits")
    async def models() -> dict[str, Any]:
        return {
            "models": [
                {
                    "name": name,
                    "engine": engine.name,
                    "max_source_length": engine.max_source_length,
                    "task": getattr(engine, "task", None),
                }
                for name, engine in engines.items()
            ],
            "limits": limits.model_dump(),
        }

    @app.get("/health", summary="Liveness: the models are loaded and the batchers run")
    async def health() -> dict[str, Any]:
        return {
            "status": "ok",
            "models": names,
            "queued_texts": {name: batcher.queued_texts for name, batcher in batchers.items()},
        }

    @app.get("/metrics", summary="Prometheus metrics", response_class=Response)
    async def prometheus() -> Response:
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    tasks = page_tasks or []

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    async def page() -> HTMLResponse:
        return HTMLResponse(render_page(tasks, names, limits), headers=_PAGE_HEADERS)

    @app.get("/static/{name}", include_in_schema=False)
    async def static(name: str) -> Response:
        asset = page_asset(name)
        if asset is None:
            raise HTTPException(404, f"No static file {name!r}.")
        content, media_type = asset
        return Response(content, media_type=media_type, headers=_PAGE_HEADERS)

    return app


_PAGE_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-cache",
}


def _generate_with(engine: Engine, server_options: GenerationOptions) -> Any:
    """The batcher's generate: the server's configured options under each request's."""

    def run(texts: list[str], options: GenerationOptions) -> list[dict[str, Any]]:
        return engine.generate(texts, server_options.overridden_by(options))

    return run


def _observer(metrics: _Metrics, name: str) -> Any:
    def observe(texts: int, seconds: float) -> None:
        metrics.batch_size.labels(name).observe(texts)
        metrics.batch_seconds.labels(name).observe(seconds)

    return observe


def _refuse_long_inputs(counts: list[int], source_length: int) -> None:
    """422 naming the first text longer than the model's source length (where the engine cuts)."""
    for position, count in enumerate(counts):
        if count > source_length:
            raise HTTPException(
                422,
                f"Invalid request: inputs.{position}: {count:,} tokens, longer than the model's "
                f"source length of {source_length:,} tokens (it would be cut there, and the rest "
                "ignored). Shorten the text, or start the server with limits.long_inputs=truncate "
                "to have it cut (the output then says truncated: true).",
            )


def _drain_all(batchers: Mapping[str, DynamicBatcher]) -> Any:
    async def drain() -> None:
        for batcher in batchers.values():
            await batcher.stop()

    return drain


def _checked_token_counts(counter: TokenCounter, texts: list[str], limit: int) -> list[int]:
    """Each text's token count, or a 422 naming the first text longer than ``limit`` tokens
    (or only whitespace)."""
    counts = counter.count(texts)
    for position, (text, count) in enumerate(zip(texts, counts, strict=True)):
        if not text.strip():
            raise HTTPException(
                422, f"Invalid request: inputs.{position}: the text is only whitespace."
            )
        if count > limit:
            raise HTTPException(
                422,
                f"Invalid request: inputs.{position}: {count:,} tokens, more than the "
                f"limit of {limit:,} (limits.max_input_tokens). Shorten the text.",
            )
    return counts
