"""The annotation pages as server-rendered HTML: plain forms, no JavaScript, no build step.

Why plain HTML forms: they work in any browser, survive a reload (the server holds all
state), and every request is an ordinary POST a test can make too. Everything shown is
escaped; outputs are shown as "Salida 1, 2, …" only, never with a system name.
"""

from __future__ import annotations

import html
import time

from seq2seq_es.humaneval.config import Criterion, Protocol
from seq2seq_es.humaneval.forms import field_name
from seq2seq_es.humaneval.store import TIE, Answers
from seq2seq_es.humaneval.study import Item, Presentation
from seq2seq_es.text_display import DISPLAY_CSS, display_html

STYLE = (
    """
body{font-family:system-ui,sans-serif;max-width:60rem;margin:1rem auto;padding:0 1rem;
  line-height:1.45;color:#222}
header{display:flex;justify-content:space-between;align-items:baseline;border-bottom:1px solid #ccc}
.text{background:#f6f6f6;border:1px solid #ddd;padding:.6rem;border-radius:4px;"""
    + DISPLAY_CSS
    + """}
.output{border:2px solid #88a;border-radius:6px;padding:.6rem;margin:1rem 0}
fieldset{border:1px solid #ddd;margin:.5rem 0}
label{margin-right:1rem;white-space:nowrap}
.notice{background:#eef6ee;border:1px solid #9c9;padding:.4rem}
.error{background:#fbeaea;border:1px solid #c99;padding:.4rem}
nav{display:flex;gap:1.5rem;margin:1rem 0}
button{font-size:1.05rem;padding:.4rem 1.2rem}
"""
)


def esc(text: object) -> str:
    return html.escape(str(text), quote=True)


def layout(title: str, body: str, annotator: str | None = None) -> str:
    who = (
        f'<span>{esc(annotator)} · <a href="/instructions">Instrucciones</a> · <form method="post" '
        'action="/logout" style="display:inline"><button>Salir</button></form></span>'
        if annotator
        else ""
    )
    return (
        f'<!doctype html><html lang="es"><head><meta charset="utf-8"><title>{esc(title)}</title>'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        f"<style>{STYLE}</style></head>"
        f"<body><header><h1>{esc(title)}</h1>{who}</header>{body}</body></html>"
    )


def login_page(title: str, error: str | None = None) -> str:
    problem = f'<p class="error">{esc(error)}</p>' if error else ""
    return layout(
        title,
        f"""{problem}
<p>Introduzca el código personal que le han dado para este estudio.</p>
<form method="post" action="/login">
  <label for="token">Código</label>
  <input id="token" name="token" type="password" required autocomplete="off">
  <button type="submit">Entrar</button>
</form>""",
    )


def message_page(
    title: str, message: str, annotator: str | None = None, link: tuple[str, str] | None = None
) -> str:
    extra = f'<p><a href="{esc(link[0])}">{esc(link[1])}</a></p>' if link else ""
    return layout(title, f"<p>{esc(message)}</p>{extra}", annotator)


def _scale(criterion: Criterion, name: str, chosen: int | None) -> str:
    options = []
    for value in criterion.values:
        anchor = criterion.anchors.get(value)
        text = f"{value}" + (f" ({anchor})" if anchor else "")
        checked = " checked" if chosen == value else ""
        options.append(
            f'<label><input type="radio" name="{esc(name)}" value="{value}" required{checked}> '
            f"{esc(text)}</label>"
        )
    return (
        f"<fieldset><legend><strong>{esc(criterion.label)}</strong>: "
        f"{esc(criterion.question)}</legend>{''.join(options)}</fieldset>"
    )


def item_page(
    protocol: Protocol,
    annotator: str,
    item: Item,
    page: Presentation,
    n_pages: int,
    n_rated: int,
    revision: int,
    stored: Answers | None,
    asks_preference: bool,
    error: str | None = None,
) -> str:
    """One page: the input, each output with its scales, the preference, and navigation."""
    parts = [
        f"<p>Página {page.position + 1} de {n_pages} · {n_rated} valoradas</p>",
        f'<p class="instructions">{esc(protocol.instructions)}</p>',
    ]
    if error:
        parts.append(f'<p class="error">{esc(error)}</p>')
    if stored is not None:
        parts.append(
            '<p class="notice">Ya valorada: puede cambiar sus respuestas y guardar de nuevo.</p>'
        )
    parts.append(
        f'<h2>{esc(protocol.source_label)}</h2><div class="text" dir="auto" '
        f'id="source">{display_html(item.source)}</div>'
    )
    if protocol.show_reference and item.references:
        refs = "".join(
            f'<div class="text" dir="auto">{display_html(r)}</div>' for r in item.references
        )
        parts.append(f"<h2>{esc(protocol.reference_label)}</h2>{refs}")
    parts.append(f'<form method="post" action="/item/{page.position}">')
    for slot, system in enumerate(page.order, start=1):
        output = item.outputs[system]
        shown = display_html(output) if output.strip() else "<em>(salida vacía)</em>"
        scales = "".join(
            _scale(
                c, field_name(slot, c.name), stored.scores.get((system, c.name)) if stored else None
            )
            for c in protocol.criteria
        )
        parts.append(
            f'<section class="output" id="s{slot}"><h2>Salida {slot}</h2>'
            f'<div class="text" dir="auto">{shown}</div>'
            f"{scales}</section>"
        )
    if asks_preference:
        chosen = stored.preference if stored else None
        options = [
            (f"s{slot}", f"Salida {slot}", system)
            for slot, system in enumerate(page.order, start=1)
        ]
        options.append((TIE, "Empate", TIE))
        radios = "".join(
            f'<label><input type="radio" name="preference" value="{value}" required'
            f"{' checked' if chosen == system else ''}> {esc(text)}</label>"
            for value, text, system in options
        )
        parts.append(
            f"<fieldset><legend><strong>{esc(protocol.preference_question)}</strong></legend>"
            f"{radios}</fieldset>"
        )
    parts.append(
        f'<input type="hidden" name="revision" value="{revision}">'
        f'<input type="hidden" name="shown_at" value="{int(time.time() * 1000)}">'
        '<button type="submit" id="save">Guardar y continuar</button></form>'
    )
    nav = []
    if page.position > 0:
        nav.append(f'<a href="/item/{page.position - 1}" id="previous">← Anterior</a>')
    if stored is not None and page.position + 1 < n_pages:
        nav.append(f'<a href="/item/{page.position + 1}" id="following">Siguiente →</a>')
    nav.append('<a href="/next">Ir a la primera página sin valorar</a>')
    parts.append(f"<nav>{''.join(nav)}</nav>")
    return layout(protocol.title, "".join(parts), annotator)


def instructions_page(protocol: Protocol, annotator: str) -> str:
    criteria = "".join(
        f"<li><strong>{esc(c.label)}</strong>: {esc(c.question)} (de {c.scale_min} a {c.scale_max}"
        + "".join(f"; {k} = {esc(v)}" for k, v in sorted(c.anchors.items()))
        + ")</li>"
        for c in protocol.criteria
    )
    return layout(
        protocol.title,
        f"""<h2>Instrucciones</h2><p>{esc(protocol.instructions)}</p><ul>{criteria}</ul>
<p>Valore cada página y pulse «Guardar y continuar». Puede volver atrás y cambiar una respuesta;
puede cerrar el navegador y seguir más tarde: lo guardado no se pierde.</p>
<p><a href="/next">Continuar</a></p>""",
        annotator,
    )
