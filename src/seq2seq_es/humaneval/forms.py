"""Turn a submitted rating form into ``Answers``, refusing anything a page could not have sent.

Why our own parser instead of FastAPI's ``Form``: the form's fields depend on the study
(systems × criteria), and every malformed request must become a precise 4xx message, never
a 500; parsing the URL-encoded body with the standard library keeps that in one pure
function (and needs no python-multipart).

Field names on a page: ``s<k>.<criterion>`` for the output shown in slot k (1-based; the
slot → system mapping stays on the server, so the page never names a system),
``preference`` (``s1``, ``s2`` or ``tie``) when asked, ``revision`` (the page's revision
when it was shown) and ``shown_at`` (milliseconds since the epoch, for the time spent).
"""

from __future__ import annotations

import re
import time
from urllib.parse import parse_qs

from seq2seq_es.humaneval.config import Protocol
from seq2seq_es.humaneval.store import TIE, Answers

MAX_FIELDS = 200
INTEGER = re.compile(r"^-?[0-9]{1,9}$")
MILLISECONDS = re.compile(r"^[0-9]{1,15}$")


class FormError(ValueError):
    """A submitted form that no page of this study could have produced (message in Spanish)."""


def field_name(slot: int, criterion: str) -> str:
    return f"s{slot}.{criterion}"


def parse_answers(
    body: bytes,
    protocol: Protocol,
    order: list[str],
    asks_preference: bool,
    now: float | None = None,
) -> tuple[int, Answers, float | None]:
    """``(revision the form was made from, answers, seconds on the page or None)``."""
    try:
        text = body.decode("utf-8")
        fields = parse_qs(
            text, keep_blank_values=True, strict_parsing=bool(text), max_num_fields=MAX_FIELDS
        )
    except (UnicodeDecodeError, ValueError):
        raise FormError("El formulario no es válido (codificación o formato).") from None
    repeated = sorted(k for k, v in fields.items() if len(v) > 1)
    if repeated:
        raise FormError(f"Campos repetidos: {', '.join(repeated)}.")
    values = {k: v[0] for k, v in fields.items()}
    expected = {
        field_name(slot, c.name): c for slot in range(1, len(order) + 1) for c in protocol.criteria
    }
    allowed = (
        set(expected) | {"revision", "shown_at"} | ({"preference"} if asks_preference else set())
    )
    unknown = sorted(set(values) - allowed)
    if unknown:
        raise FormError(f"Campos desconocidos: {', '.join(unknown)}.")
    missing = sorted(
        name
        for name in [*expected, "revision", *(["preference"] if asks_preference else [])]
        if not values.get(name)
    )
    if missing:
        raise FormError(f"Faltan respuestas: {', '.join(missing)}.")
    revision = _integer(values["revision"], "revision")
    if revision < 0:
        raise FormError("La revisión no puede ser negativa.")
    scores: dict[tuple[str, str], int] = {}
    for slot, system in enumerate(order, start=1):
        for criterion in protocol.criteria:
            name = field_name(slot, criterion.name)
            value = _integer(values[name], name)
            if not criterion.scale_min <= value <= criterion.scale_max:
                raise FormError(
                    f"{name}: {value} está fuera de la escala "
                    f"{criterion.scale_min}–{criterion.scale_max}."
                )
            scores[(system, criterion.name)] = value
    preference = None
    if asks_preference:
        choices = {f"s{slot}": system for slot, system in enumerate(order, start=1)} | {TIE: TIE}
        if values["preference"] not in choices:
            raise FormError(
                f"preference: {values['preference']!r} no es una opción ({', '.join(choices)})."
            )
        preference = choices[values["preference"]]
    return revision, Answers(scores, preference), _seconds(values.get("shown_at"), now)


def _integer(text: str, name: str) -> int:
    if not INTEGER.match(text.strip()):
        raise FormError(f"{name}: {text[:20]!r} no es un número entero.")
    return int(text)


def _seconds(shown_at: str | None, now: float | None) -> float | None:
    """Time on the page from the hidden ``shown_at``; None when absent or implausible."""
    if not shown_at or not MILLISECONDS.match(shown_at.strip()):
        return None
    seconds = (time.time() if now is None else now) - int(shown_at) / 1000
    return round(seconds, 3) if 0 <= seconds <= 86_400 else None
