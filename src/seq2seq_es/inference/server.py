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
from collections.abc import AsyncIterator, Mapping
from typing import Annotated, Any, Literal

from fastapi import FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, create_model
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from seq2seq_es.inference.api_errors import DECODE_ERRORS, ErrorBody, json_int
from seq2seq_es.inference.compat_routes import compat_router
from seq2seq_es.inference.config import GenerationOptions, ServeConfig, ServeLimits
from seq2seq_es.inference.engines import Engine
from seq2seq_es.inference.model_service import ClientGone, ModelService, client_gone
from seq2seq_es.inference.server_metrics import ServerMetrics
from seq2seq_es.inference.web.page import PageTask, add_page_routes, card_page_task

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
        max_new_tokens=(json_int(1, limits.max_new_tokens) | None, None),
        num_beams=(json_int(1, limits.max_num_beams) | None, None),
        do_sample=(bool, False),
        temperature=(float, Field(1.0, ge=TEMPERATURE_RANGE[0], le=TEMPERATURE_RANGE[1])),
        top_k=(json_int(0, MAX_TOP_K), 0),
        top_p=(float, Field(1.0, gt=0.0, le=1.0)),
        length_penalty=(
            float | None,
            Field(None, ge=LENGTH_PENALTY_RANGE[0], le=LENGTH_PENALTY_RANGE[1]),
        ),
        no_repeat_ngram_size=(json_int(0, MAX_NO_REPEAT_NGRAM) | None, None),
        seed=(json_int(0, MAX_SEED) | None, None),
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


class GeneratedOutput(BaseModel):
    text: str
    tokens: int = Field(description="Generated tokens, the end token included.")
    score: float | None = Field(description="log p(output | input); null unless output_scores.")
    input_tokens: int = Field(description="Tokens of the input, special tokens included.")
    truncated: bool = Field(description="The input was cut at the model's source length.")


class GenerateResponse(BaseModel):
    model: str
    outputs: list[GeneratedOutput]
    latency_ms: float


def create_app(
    engines: Mapping[str, Engine], config: ServeConfig, page_tasks: list[PageTask] | None = None
) -> FastAPI:
    """The FastAPI app serving ``engines`` (served name → engine) under ``config``'s limits.

    ``app.state`` carries what the HTTP server needs (``http_server.build_server``): the
    limits, ``count_response`` (for the answers the protocol gives itself) and ``drain``.
    """
    if not engines:
        raise ValueError("create_app needs at least one engine")
    names = list(engines)
    limits = config.limits
    metrics = ServerMetrics()
    services = {
        name: ModelService(name, engine, config, metrics) for name, engine in engines.items()
    }
    GenerateRequest, _ = request_schemas(limits, names)
    state = {"ready": False}

    async def drain() -> None:
        """SIGTERM: not ready any more; in-flight work finishes within the grace period."""
        state["ready"] = False
        await asyncio.gather(
            *(service.batcher.drain(limits.shutdown_grace_s) for service in services.values())
        )

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        for service in services.values():
            service.batcher.start()
        state["ready"] = True
        yield
        state["ready"] = False
        for service in services.values():
            await service.batcher.stop()

    app = FastAPI(
        title="seq2seq-es",
        version="1",
        lifespan=lifespan,
        description="Spanish sequence-to-sequence models: generate from text. Every error is "
        "a JSON object with an `error` message that names the limit or field to change.",
        docs_url=None,
        redoc_url=None,
    )
    app.add_middleware(
        RequestBodyLimits, max_bytes=limits.max_request_bytes, timeout_s=limits.read_timeout_s
    )

    def count_response(path: str, status: int) -> None:
        metrics.requests.labels(path, str(status)).inc()

    app.add_middleware(CountedResponses, count=count_response)
    app.state.limits, app.state.count_response, app.state.drain = limits, count_response, drain

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        details = _validation_messages(exc)
        return _error_response(422, "Invalid request: " + "; ".join(details), details)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        message = str(exc.detail)
        if exc.status_code == 400 and not message.startswith("The following `model_kwargs`"):
            # FastAPI could not parse the body (e.g. bytes that are not UTF-8)
            message = f"Bad request ({message}): {BODY_HINT}, in UTF-8."
        headers = dict(exc.headers or {})
        if exc.status_code == 405:  # every method of the path, not only the first route's
            headers["Allow"] = ", ".join(_methods_of(app, request.url.path))
        return _error_response(exc.status_code, message, headers=headers)

    @app.post(
        "/v1/generate",
        summary="Decode texts with a served model",
        response_model=GenerateResponse,
        responses=DECODE_ERRORS,
    )
    async def generate(body: GenerateRequest, request: Request) -> Any:  # type: ignore[valid-type]
        parsed: Any = body
        name = parsed.model or names[0]
        options = GenerationOptions.model_validate(parsed.options.model_dump(exclude_unset=True))
        try:
            outputs, seconds = await services[name].answer(parsed.inputs, options, request.receive)
        except ClientGone:
            return client_gone()
        return {"model": name, "outputs": outputs, "latency_ms": round(seconds * 1000, 1)}

    @app.get("/v1/models", summary="The served models and their limits")
    async def models() -> dict[str, Any]:
        return {
            "models": [_model_info(service) for service in services.values()],
            "limits": limits.model_dump(),
        }

    def health_report() -> dict[str, Any]:
        degraded = [name for name, service in services.items() if service.degraded]
        status = "ok" if state["ready"] and not degraded else "degraded"
        if not any(service.batcher.accepting for service in services.values()):
            status = "shutting down" if state["ready"] is False else status
        return {
            "status": status,
            "models": names,
            "queued_texts": {n: s.batcher.queued_texts for n, s in services.items()},
            "running_texts": {n: s.batcher.running_texts for n, s in services.items()},
            "degraded_queued_inputs": limits.degraded_queued_inputs,
            "degraded_models": degraded,
        }

    @app.get("/health", summary="Liveness: the process answers (status says ok or degraded)")
    async def health() -> dict[str, Any]:
        return health_report()

    @app.get(
        "/health/ready",
        summary="Readiness: 200 when new work is welcome, 503 when degraded or shutting down",
        responses={503: {"model": ErrorBody, "description": "Not ready (degraded or stopping)"}},
    )
    async def ready() -> Any:
        report = health_report()
        if report["status"] != "ok":
            return _error_response(503, f"Not ready: {report['status']}.", headers=RETRY_SOON)
        return report

    @app.get("/metrics", summary="Prometheus metrics", response_class=Response)
    async def prometheus() -> Response:
        for name, service in services.items():
            metrics.queued.labels(name).set(service.batcher.queued_texts)
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    app.include_router(compat_router(services, limits), responses=DECODE_ERRORS)
    folders = config.model_folders()
    preselected = card_page_task(folders[names[0]]) if names[0] in folders else None
    model_infos = [_model_info(service) for service in services.values()]
    add_page_routes(app, page_tasks or [], model_infos, limits, preselected)
    return app


RETRY_SOON = {"Retry-After": "5"}


def _methods_of(app: FastAPI, path: str) -> list[str]:
    """The methods some route of ``app`` answers at ``path`` (included routers too: FastAPI
    keeps them as one entry that holds the router, ``original_router``)."""
    methods: set[str] = set()
    routes = list(app.routes)
    while routes:
        route = routes.pop()
        included = getattr(route, "original_router", None)
        if included is not None:
            routes.extend(included.routes)
            continue
        regex, allowed = getattr(route, "path_regex", None), getattr(route, "methods", None)
        if regex is not None and allowed and regex.match(path):
            methods |= set(allowed)
    return sorted(methods)


def _model_info(service: ModelService) -> dict[str, Any]:
    engine = service.engine
    return {
        "name": service.name,
        "engine": engine.name,
        "max_source_length": engine.max_source_length,
        "task": getattr(engine, "task", None),
        "num_beams": service.resolved(GenerationOptions()).num_beams,
    }
