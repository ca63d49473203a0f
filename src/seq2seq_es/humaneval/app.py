"""The annotation web app of one study (FastAPI, server-rendered pages).

Who is who: every request is tied to an annotator by their secret token (a cookie set at
login, or an ``Authorization: Bearer`` header for scripts); without a valid one the answer
is 401. Pages are addressed by position in *the caller's own queue*, so no URL can name
another annotator's ratings: reading or changing them is impossible by construction.

Bad requests get 4xx, never 5xx: unknown page 404, page ahead of the first unrated one 409,
stale or repeated submission 409, wrong content type 415, oversized body 413, malformed or
out-of-range answers 422. Each accepted page is one SQLite transaction (store.py).
"""

from __future__ import annotations

import hmac
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from seq2seq_es.humaneval import pages
from seq2seq_es.humaneval.forms import FormError, parse_answers
from seq2seq_es.humaneval.store import RatingStore, StaleSubmission
from seq2seq_es.humaneval.study import Study, load_study

COOKIE = "humaneval_token"
MAX_BODY = 64 * 1024
FORM_TYPE = "application/x-www-form-urlencoded"


def _page(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"text/html": {"schema": {"type": "string"}}}}


# What each route answers, for /openapi.json (every answer is an HTML page or a redirect).
SEE_OTHER = {
    "description": "Where to go next (the Location header).",
    "headers": {"Location": {"schema": {"type": "string"}}},
}
LOGIN_PAGE = _page("No valid access code (cookie or Authorization: Bearer): the login page.")
NO_PAGE = _page("No such page in the caller's queue.")
NOT_YET = _page("A page ahead of the first unrated one, or a stale or repeated submission.")
BAD_ADDRESS = _page("The address or the answers are not valid (the page says why).")
TOO_LARGE = _page(f"A form body over {MAX_BODY:,} bytes.")
NOT_A_FORM = _page(f"The body is not {FORM_TYPE}.")


def _form(fields: dict[str, Any], required: list[str]) -> dict[str, Any]:
    """An ``openapi_extra`` request body: the routes read their form themselves (its fields
    depend on the study's protocol), so FastAPI cannot describe it."""
    schema = {
        "type": "object",
        "properties": fields,
        "required": required,
        "additionalProperties": {"type": "string"},  # the protocol's criteria, the preference
    }
    return {"requestBody": {"required": True, "content": {FORM_TYPE: {"schema": schema}}}}


class PageError(Exception):
    """Answer with ``status`` and an HTML message (in Spanish, the annotators' language)."""

    def __init__(self, status: int, message: str, annotator: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.annotator = annotator


def build_app(study_dir: str | Path) -> FastAPI:
    """The app for one study folder (read once; ratings live in its SQLite file)."""
    study = load_study(study_dir)
    store = RatingStore(study.database)
    title = study.protocol.title
    # The schema is served (for API clients and schemathesis); no Swagger UI: it loads from a CDN.
    app = FastAPI(
        title=f"humaneval: {title}",
        docs_url=None,
        redoc_url=None,
        default_response_class=HTMLResponse,
    )

    def annotator_of(request: Request) -> str | None:
        token = request.cookies.get(COOKIE, "")
        header = request.headers.get("authorization", "")
        if header.lower().startswith("bearer "):
            token = header[7:].strip()
        return _match_token(study, token)

    def require_annotator(request: Request) -> str:
        annotator = annotator_of(request)
        if annotator is None:
            raise PageError(401, "Falta el código de acceso o no es válido. Entre de nuevo.")
        return annotator

    def first_unrated(annotator: str) -> int | None:
        rated = store.rated_positions(annotator)
        return next((p.position for p in study.queues[annotator] if p.position not in rated), None)

    def presentation(annotator: str, position: int) -> Any:
        queue = study.queues[annotator]
        if not 0 <= position < len(queue):
            raise PageError(404, f"La página {position} no existe (hay {len(queue)}).", annotator)
        frontier = first_unrated(annotator)
        if frontier is not None and position > frontier:
            raise PageError(
                409, "Valore las páginas en orden: hay páginas anteriores sin valorar.", annotator
            )
        return queue[position]

    def render_item(annotator: str, position: int, error: str | None = None) -> str:
        page = presentation(annotator, position)
        stored = store.page(annotator, position)
        return pages.item_page(
            study.protocol,
            annotator,
            study.items[page.item],
            page,
            len(study.queues[annotator]),
            len(store.rated_positions(annotator)),
            stored.revision if stored else 0,
            stored.answers if stored else None,
            study.asks_preference,
            error,
        )

    @app.exception_handler(PageError)
    async def page_error(request: Request, exc: PageError) -> HTMLResponse:
        if exc.status == 401:
            return HTMLResponse(pages.login_page(title, exc.message), status_code=401)
        return HTMLResponse(
            pages.message_page(title, exc.message, exc.annotator, ("/next", "Continuar")),
            status_code=exc.status,
        )

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> HTMLResponse:
        headers = dict(getattr(exc, "headers", None) or {})
        if exc.status_code == 405:  # every method of the path, not only its first route's
            headers["Allow"] = ", ".join(_allowed_methods(app, request))
        return HTMLResponse(
            pages.message_page(title, f"Error {exc.status_code}: {exc.detail}"),
            status_code=exc.status_code,
            headers=headers or None,
        )

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> HTMLResponse:
        return HTMLResponse(
            pages.message_page(title, "La dirección o los datos no son válidos."), status_code=422
        )

    @app.get("/healthz", response_class=PlainTextResponse)
    def healthz() -> str:
        return "ok"

    @app.get("/", responses={303: SEE_OTHER})
    def home(request: Request) -> Response:
        if annotator_of(request) is not None:
            return RedirectResponse("/next", status_code=303)
        return HTMLResponse(pages.login_page(title))

    @app.post(
        "/login",
        status_code=303,
        response_class=RedirectResponse,
        responses={303: SEE_OTHER, 401: LOGIN_PAGE, 413: TOO_LARGE, 415: NOT_A_FORM},
        openapi_extra=_form({"token": {"type": "string"}}, ["token"]),
    )
    async def login(request: Request) -> Response:
        body = await _form_body(request)
        try:
            token = parse_qs(body.decode("utf-8")).get("token", [""])[0]
        except (UnicodeDecodeError, ValueError):
            token = ""
        if _match_token(study, token) is None:
            raise PageError(401, "Código no válido.")
        response = RedirectResponse("/next", status_code=303)
        response.set_cookie(
            COOKIE, token, httponly=True, samesite="strict", max_age=60 * 60 * 24 * 60
        )
        return response

    @app.post(
        "/logout", status_code=303, response_class=RedirectResponse, responses={303: SEE_OTHER}
    )
    def logout() -> Response:
        response = RedirectResponse("/", status_code=303)
        response.delete_cookie(COOKIE)
        return response

    @app.get(
        "/next",
        status_code=303,
        response_class=RedirectResponse,
        responses={303: SEE_OTHER, 401: LOGIN_PAGE},
    )
    def next_page(request: Request) -> Response:
        annotator = require_annotator(request)
        position = first_unrated(annotator)
        return RedirectResponse(
            "/done" if position is None else f"/item/{position}", status_code=303
        )

    @app.get("/instructions", responses={401: LOGIN_PAGE})
    def instructions(request: Request) -> str:
        return pages.instructions_page(study.protocol, require_annotator(request))

    @app.get(
        "/item/{position}",
        responses={401: LOGIN_PAGE, 404: NO_PAGE, 409: NOT_YET, 422: BAD_ADDRESS},
    )
    def show_item(request: Request, position: int) -> str:
        return render_item(require_annotator(request), position)

    @app.post(
        "/item/{position}",
        status_code=303,
        response_class=RedirectResponse,
        responses={
            303: SEE_OTHER,
            401: LOGIN_PAGE,
            404: NO_PAGE,
            409: NOT_YET,
            413: TOO_LARGE,
            415: NOT_A_FORM,
            422: BAD_ADDRESS,
        },
        openapi_extra=_form(
            {
                "revision": {"type": "string", "pattern": "^[0-9]+$"},
                "shown_at": {"type": "string"},
            },
            ["revision"],
        ),
    )
    async def rate_item(request: Request, position: int) -> Response:
        annotator = require_annotator(request)
        page = await run_in_threadpool(presentation, annotator, position)
        body = await _form_body(request)
        try:
            revision, answers, seconds = parse_answers(
                body, study.protocol, page.order, study.asks_preference
            )
        except FormError as exc:
            text = await run_in_threadpool(render_item, annotator, position, str(exc))
            return HTMLResponse(text, status_code=422)
        try:
            await run_in_threadpool(
                store.submit, annotator, position, page.item, revision, answers, seconds
            )
        except StaleSubmission:
            raise PageError(
                409,
                "Esta página ya se había guardado desde otra pestaña o con un doble envío; "
                "su respuesta anterior se mantiene. Vuelva a abrir la página para cambiarla.",
                annotator,
            ) from None
        return RedirectResponse("/next", status_code=303)

    @app.get("/done", responses={303: SEE_OTHER, 401: LOGIN_PAGE})
    def done(request: Request) -> Response:
        annotator = require_annotator(request)
        if first_unrated(annotator) is not None:
            return RedirectResponse("/next", status_code=303)
        return HTMLResponse(
            pages.message_page(
                title,
                "Ha valorado todas las páginas. ¡Muchas gracias!",
                annotator,
                ("/item/0", "Revisar mis respuestas"),
            )
        )

    return app


def _allowed_methods(app: FastAPI, request: Request) -> list[str]:
    """The methods of every route on the request's path (a path served by a GET and a POST
    route gets ``Allow: GET, POST`` from either)."""
    methods: set[str] = set()
    for route in app.router.routes:
        match, _ = route.matches(request.scope)
        if match is not Match.NONE:
            methods |= getattr(route, "methods", None) or set()
    return sorted(methods)


def _match_token(study: Study, token: str) -> str | None:
    """The annotator holding ``token``; compares in constant time against every token."""
    found = None
    for annotator, secret in study.tokens.items():
        if hmac.compare_digest(secret.encode(), token.encode("utf-8", "replace")):
            found = annotator
    return found if token else None


async def _form_body(request: Request) -> bytes:
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != FORM_TYPE:
        raise PageError(415, f"Se esperaba un formulario ({FORM_TYPE}).")
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY:
        raise PageError(413, "El formulario es demasiado grande.")
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY:
            raise PageError(413, "El formulario es demasiado grande.")
    return body
