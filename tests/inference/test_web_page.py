"""The web page in a real headless Chromium (Debian's ``chromium`` driven by Playwright).

Skipped with the reason when the browser or Playwright is missing; under ``CI=true`` that
is a failure instead (CI installs both).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from spanish_inputs import spanish_sentences

from seq2seq_es.inference.config import GenerationOptions, ServeConfig
from seq2seq_es.inference.engines import Engine, load_engine
from seq2seq_es.inference.http_server import serve_in_thread
from seq2seq_es.inference.server import create_app

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def _missing_browser() -> str | None:
    if not CHROMIUM.exists():
        return f"needs Debian's chromium at {CHROMIUM} (apt-get install -y chromium)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return (
            "needs Playwright for Python (pip install playwright; no `playwright install` needed)"
        )
    return None


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    reason = _missing_browser()
    if reason is not None:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(reason + "; under CI=true the browser test must run")
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        yield launched
        launched.close()


@pytest.fixture(scope="module")
def engines(tiny_t5_folder: Path, tiny_bart_folder: Path) -> dict[str, Engine]:
    return {"default": load_engine(tiny_bart_folder), "translate": load_engine(tiny_t5_folder)}


@pytest.fixture(scope="module")
def page_url(engines: dict[str, Engine], tiny_bart_folder: Path) -> Iterator[str]:
    from seq2seq_es.commands.serve import page_tasks

    config = ServeConfig(
        model=str(tiny_bart_folder),
        limits={"max_new_tokens": 32, "max_num_beams": 4, "max_input_tokens": 48},
    )
    with serve_in_thread(create_app(engines, config, page_tasks())) as url:
        yield url


@pytest.fixture()
def page(browser: Any, page_url: str) -> Iterator[Any]:
    context = browser.new_context()
    tab = context.new_page()
    errors: list[str] = []
    tab.on("pageerror", lambda error: errors.append(str(error)))
    tab.goto(page_url + "/")
    yield tab
    context.close()
    assert errors == [], f"JavaScript errors on the page: {errors}"


def submit_and_wait(page: Any) -> str:
    page.click("#submit")
    page.wait_for_selector("form[data-state='done'], form[data-state='error']", timeout=60_000)
    return str(page.get_attribute("#generate-form", "data-state"))


def test_answer_a_question_shows_the_models_output_and_the_latency(
    page: Any, engines: dict[str, Engine], tmp_path: Path
) -> None:
    assert page.locator("#task option").all_inner_texts() == [
        "Resumir",
        "Traducir",
        "Responder una pregunta",
        "Responder en un diálogo",
    ]
    page.select_option("#task", "qa")
    assert page.locator("#fields label").all_inner_texts() == ["Pregunta", "Contexto"]
    question, context = "¿Dónde come el niño?", spanish_sentences(1, seed=5)[0]
    page.fill("#field-question", question)
    page.fill("#field-context", context)
    page.click("details summary")  # the decoding settings are folded away
    page.fill("#max-new-tokens", "10")
    assert submit_and_wait(page) == "done"
    # The page fills the registry's QA template; the task has no model of its own, so 'default'
    # answers.
    expected = engines["default"].generate(
        [f"question: {question} context: {context}"], GenerationOptions(max_new_tokens=10)
    )[0]["text"]
    assert page.inner_text("#output") == expected != ""
    assert page.inner_text("#model-name") == "modelo: default"
    assert "Latencia:" in page.inner_text("#latency") and " ms" in page.inner_text("#latency")
    screenshot = tmp_path / "seq2seq-es-page.png"
    page.screenshot(path=str(screenshot), full_page=True)
    assert screenshot.stat().st_size > 1000
    print(f"screenshot: {screenshot}")


def test_translate_is_answered_by_the_model_served_under_that_name(
    page: Any, engines: dict[str, Engine]
) -> None:
    page.select_option("#task", "translate")
    text = "el perro bebe agua en la casa"
    page.fill("#field-text", text)
    page.click("details summary")
    page.fill("#num-beams", "2")
    page.fill("#max-new-tokens", "8")
    assert submit_and_wait(page) == "done"
    expected = engines["translate"].generate(
        [text], GenerationOptions(num_beams=2, max_new_tokens=8)
    )[0]["text"]
    assert page.inner_text("#output") == expected != ""
    assert page.inner_text("#model-name") == "modelo: translate"


def test_the_servers_refusal_is_shown_to_the_user(page: Any) -> None:
    page.select_option("#task", "summarize")
    page.fill(
        "#field-text", " ".join(spanish_sentences(12, seed=6))
    )  # over limits.max_input_tokens
    assert submit_and_wait(page) == "error"
    assert "limits.max_input_tokens" in page.inner_text("#error")
    assert page.inner_text("#output") == ""
    page.fill("#field-text", "   ")
    assert submit_and_wait(page) == "error"
    assert "Falta el campo" in page.inner_text("#error")


def test_a_greedy_decoding_streams_one_event_per_token(
    page: Any, engines: dict[str, Engine]
) -> None:
    page.select_option("#task", "summarize")
    text = "el niño come pan en la casa con el perro"
    page.fill("#field-text", text)
    page.click("details summary")
    page.fill("#num-beams", "1")
    page.fill("#max-new-tokens", "12")
    assert submit_and_wait(page) == "done"
    expected = engines["default"].generate(
        [text], GenerationOptions(num_beams=1, max_new_tokens=12)
    )[0]
    assert page.inner_text("#output") == expected["text"] != ""
    assert int(page.get_attribute("#output", "data-events") or 0) == expected["tokens"] > 1
    assert "primer token:" in page.inner_text("#latency")


def test_outputs_are_bidi_isolated_marked_and_wrapped(page: Any) -> None:
    from seq2seq_es.text_display import visible_text

    spoof = "Pago a: \u202eGNP.exe\u200b\u0007"
    assert page.evaluate("t => window.seq2seqEs.visibleText(t)", spoof) == visible_text(spoof)
    assert visible_text(spoof) == "Pago a: ⟦U+202E⟧GNP.exe⟦U+200B⟧⟦U+0007⟧"
    assert page.get_attribute("#output", "dir") == "auto"
    style = page.locator("#output").evaluate(
        "e => [getComputedStyle(e).unicodeBidi, getComputedStyle(e).overflowWrap]"
    )
    assert style == ["isolate", "anywhere"]
    page.set_viewport_size({"width": 800, "height": 600})
    page.evaluate("document.getElementById('output').textContent = 'x'.repeat(3000)")
    assert page.evaluate("document.documentElement.scrollWidth") <= 800


def test_the_task_of_the_models_card_is_preselected(
    browser: Any, engines: dict[str, Engine], tiny_bart_folder: Path, tmp_path: Path
) -> None:
    import shutil

    from seq2seq_es.commands.serve import page_tasks

    folder = tmp_path / "translator"
    shutil.copytree(tiny_bart_folder, folder)
    (folder / "README.md").write_text(
        "---\npipeline_tag: translation\ntags:\n- fine-tuned\n- translation\n---\n# m\n",
        encoding="utf-8",
    )
    config = ServeConfig(model=str(folder))
    with serve_in_thread(create_app({"default": engines["default"]}, config, page_tasks())) as url:
        tab = browser.new_context().new_page()
        tab.goto(url + "/")
        assert tab.input_value("#task") == "translate"
        tab.context.close()
