"""Render the page: pick a task, paste Spanish text, see the output and the latency.

Why server-rendered with one plain script: the page must work from a fresh install with
no Node, no bundler and no network (everything is served by ``serve`` itself). A task
is a source template (``question: {question} context: {context}``, as the task registry
formats it for training); its placeholders become the form's fields, and the script
fills the template, so the model sees text shaped as in fine-tuning. A task is answered by
the served model of the same name when there is one, else by the first model.
"""

from __future__ import annotations

import html
import json
import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from fastapi import FastAPI, HTTPException
from fastapi.responses import HTMLResponse, Response

from seq2seq_es.inference.config import ServeLimits

ASSETS = {"page.js": "text/javascript; charset=utf-8", "page.css": "text/css; charset=utf-8"}
# Labels of the placeholders our task templates use; any other shows its own name.
FIELD_LABELS = {
    "text": "Texto",
    "question": "Pregunta",
    "context": "Contexto",
    "document": "Documento",
}
SHORT_FIELDS = {"question"}


@dataclass(frozen=True)
class PageTask:
    """A task on the page: its key (also the served model name that answers it), label and
    template."""

    key: str
    label: str
    template: str = "{text}"
    hint: str = ""

    def fields(self) -> list[str]:
        """The template's placeholders, in order, each once."""
        return list(dict.fromkeys(re.findall(r"{(\w+)}", self.template)))


def default_page_tasks(
    qa_template: str = "question: {question} context: {context}",
    dialogue_template: str = "{context}",
) -> list[PageTask]:
    """The four tasks of the page; the command passes the registry's templates."""
    return [
        PageTask("summarize", "Resumir", "{text}", "Pega un texto largo en español."),
        PageTask("translate", "Traducir", "{text}", "Pega una frase para traducir."),
        PageTask(
            "qa",
            "Responder una pregunta",
            qa_template,
            "Escribe una pregunta y el texto que la responde.",
        ),
        PageTask(
            "reply",
            "Responder en un diálogo",
            dialogue_template,
            "Pega los turnos anteriores del diálogo.",
        ),
    ]


def page_asset(name: str) -> tuple[bytes, str] | None:
    """``(content, media type)`` of a static file of the page, or None for any other name."""
    if name not in ASSETS:
        return None
    return resources.files(__package__).joinpath(name).read_bytes(), ASSETS[name]


def _json_for_script(data: object) -> str:
    """JSON safe inside a <script> element (no ``</script>`` or ``<!--`` can close it)."""
    return (
        json.dumps(data, ensure_ascii=False)
        .replace("<", "\\u003c")
        .replace(">", "\\u003e")
        .replace("&", "\\u0026")
    )


# The model card's task kinds (``tags``) and pipeline tags, as the page's task keys.
CARD_TASKS = {
    "summarization": "summarize",
    "translation": "translate",
    "qa": "qa",
    "dialogue": "reply",
}


def card_page_task(folder: str | Path) -> str | None:
    """The page task a model folder's own card names (its README's YAML header: the task kind
    in ``tags``, else ``pipeline_tag``), or None when it names none we know."""
    readme = Path(folder) / "README.md"
    try:
        text = readme.read_text(encoding="utf-8")
        header = yaml.safe_load(text.split("---", 2)[1]) if text.startswith("---") else None
    except (OSError, UnicodeDecodeError, IndexError, yaml.YAMLError):
        return None
    if not isinstance(header, dict):
        return None
    tags = header.get("tags")
    for label in [*(tags if isinstance(tags, list) else []), header.get("pipeline_tag")]:
        if isinstance(label, str) and label in CARD_TASKS:
            return CARD_TASKS[label]
    return None


def render_page(
    tasks: list[PageTask],
    models: list[dict[str, Any]],
    limits: ServeLimits,
    preselected: str | None = None,
) -> str:
    """The page's HTML; task and model data go to the script as JSON, never as markup.

    ``models`` are ``/v1/models`` entries (name, and the beams the model decodes with by
    default: the page streams tokens when that is one). The task ``preselected`` (from the
    default model's card) is the one selected on load.
    """
    tasks = tasks or default_page_tasks()
    names = [model["name"] for model in models]
    beams = {model["name"]: model.get("num_beams") or 1 for model in models}
    config = {
        "tasks": [
            {
                "key": t.key,
                "label": t.label,
                "template": t.template,
                "hint": t.hint,
                "fields": [
                    {"name": f, "label": FIELD_LABELS.get(f, f), "short": f in SHORT_FIELDS}
                    for f in t.fields()
                ],
                "model": t.key if t.key in names else names[0],
            }
            for t in tasks
        ],
        "models": names,
        "defaultBeams": beams,
        "maxChars": limits.max_input_chars,
        "maxNewTokens": limits.max_new_tokens,
    }
    selected = preselected if preselected in {t.key for t in tasks} else tasks[0].key
    options = "\n".join(
        f'        <option value="{html.escape(t.key)}"'
        f"{' selected' if t.key == selected else ''}>{html.escape(t.label)}</option>"
        for t in tasks
    )
    return f"""<!doctype html>
<html lang="es">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>seq2seq-es</title>
  <link rel="stylesheet" href="/static/page.css">
</head>
<body>
  <main>
    <h1>seq2seq-es</h1>
    <form id="generate-form">
      <label for="task">Tarea</label>
      <select id="task" name="task">
{options}
      </select>
      <p id="task-hint" class="hint"></p>
      <div id="fields"></div>
      <details>
        <summary>Decodificación</summary>
        <label for="num-beams">Haces (beams)</label>
        <input id="num-beams" type="number" min="1" max="{limits.max_num_beams}"
          placeholder="del modelo">
        <label for="max-new-tokens">Máximo de tokens nuevos</label>
        <input id="max-new-tokens" type="number" min="1" max="{limits.max_new_tokens}"
          placeholder="del modelo">
      </details>
      <button id="submit" type="submit">Generar</button>
      <span id="model-name" class="hint"></span>
    </form>
    <section aria-live="polite">
      <h2>Resultado</h2>
      <p id="error" class="error" hidden></p>
      <pre id="output" dir="auto"></pre>
      <p id="latency" class="hint"></p>
    </section>
  </main>
  <script type="application/json" id="page-config">{_json_for_script(config)}</script>
  <script src="/static/page.js"></script>
</body>
</html>
"""


_PAGE_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-cache",
}
DOCS_NOTE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>seq2seq-es API</title></head>
<body><h1>seq2seq-es API</h1>
<p>The interactive documentation (Swagger UI) is not served: it loads its scripts from a CDN,
and this server must work offline. The API's OpenAPI schema is at
<a href="/openapi.json">/openapi.json</a>; open it in any OpenAPI viewer.</p>
</body></html>
"""


def add_page_routes(
    app: FastAPI,
    tasks: list[PageTask],
    models: list[dict[str, Any]],
    limits: ServeLimits,
    preselected: str | None = None,
) -> None:
    """``GET /`` (the page), ``/static/*`` (its script and style) and ``/docs`` (a note)."""
    page_html = render_page(tasks, models, limits, preselected)

    @app.get("/", response_class=HTMLResponse, summary="The web page")
    async def page() -> HTMLResponse:
        return HTMLResponse(page_html, headers=_PAGE_HEADERS)

    @app.get("/static/{name}", include_in_schema=False)
    async def static(name: str) -> Response:
        asset = page_asset(name)
        if asset is None:
            raise HTTPException(404, f"No static file {name!r}.")
        content, media_type = asset
        return Response(content, media_type=media_type, headers=_PAGE_HEADERS)

    @app.get("/docs", response_class=HTMLResponse, include_in_schema=False)
    async def docs() -> HTMLResponse:
        return HTMLResponse(DOCS_NOTE, headers=_PAGE_HEADERS)
