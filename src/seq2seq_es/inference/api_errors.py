"""The one error body every route answers with, its OpenAPI entries, and ``json_int``.

Why documented per status: a client (and schemathesis) reads from the schema which statuses
a route can answer and what their body is; FastAPI alone lists only 200 and its own 422
body, which is not the body we send.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, Field


class ErrorBody(BaseModel):
    """Every error the server answers (4xx and 5xx): what went wrong and what to change."""

    error: str
    details: list[str] | None = None


def errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI entries for the error statuses a route can answer, each with its real body."""
    described = {
        400: "Unreadable request (not UTF-8), or a parameter this server does not implement",
        404: "No such served model",
        408: "The request (headers or body) did not arrive within limits.read_timeout_s",
        413: "The body is larger than limits.max_request_bytes",
        422: "The request breaks the schema or a limit (the message names it)",
        429: "The queue is full; retry after Retry-After seconds",
        500: "A server bug (logged; counted in /metrics)",
        503: "No answer within limits.request_timeout_s, or the server is shutting down",
    }
    return {
        status: {"model": ErrorBody, "description": described[status]}
        for status in (*statuses, 500)
    }


DECODE_ERRORS = errors(400, 408, 413, 422, 429, 503)


def _integral_float_as_int(value: Any) -> Any:
    """2.0 is an integer in JSON (and JSON Schema); a strict int field would refuse it."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def json_int(ge: int, le: int | None = None) -> Any:
    """An integer request field within [ge, le]: JSON integers, and numbers such as 2.0 that
    JSON Schema calls integers; still no strings ("5") or booleans, as in strict mode.

    The bounds go before the validator: after it, pydantic writes them into the schema as
    ``ge``/``le`` (not ``minimum``/``maximum``), and the schema stops saying them.
    """
    return Annotated[int, Field(ge=ge, le=le), BeforeValidator(_integral_float_as_int)]
