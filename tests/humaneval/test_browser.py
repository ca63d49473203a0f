"""An annotator in a real headless Chromium (Debian's, driven by Playwright): log in, rate,
reload, resume."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from seq2seq_es.humaneval.store import RatingStore
from seq2seq_es.humaneval.study import load_study

from .conftest import ServerProcess, free_port, tokens_of

CHROMIUM = Path("/usr/bin/chromium")
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture(scope="module")
def browser() -> Any:
    """Debian chromium via Playwright; skipped when absent, except under CI=true where that
    fails."""
    reason = None
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        reason = "needs the playwright Python package (pip install -e '.[browser]')"
    if reason is None and not CHROMIUM.is_file():
        reason = f"needs Debian chromium at {CHROMIUM} (apt-get install chromium)"
    if reason is not None:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(reason + "; under CI=true the browser tests must run")
        pytest.skip(reason)
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=FLAGS
        )
        yield launched
        launched.close()


def log_in(browser: Any, url: str, token: str) -> Any:
    page = browser.new_context().new_page()
    page.goto(url + "/")
    page.fill("#token", token)
    page.click("button[type=submit]")
    page.wait_for_url("**/item/*")
    return page


def rate(page: Any, score: int) -> None:
    """Tick ``score`` on every scale of the page, prefer output 1, save (as an annotator would
    click)."""
    names = {
        page.locator("input[type=radio]").nth(k).get_attribute("name")
        for k in range(page.locator("input[type=radio]").count())
    }
    for name in sorted(n for n in names if n != "preference"):
        page.check(f'input[name="{name}"][value="{score}"]')
    if "preference" in names:
        page.check('input[name="preference"][value="s1"]')
    page.click("#save")
    page.wait_for_load_state()


def test_annotator_rates_reloads_resumes_and_stays_private(
    browser: Any, shared_server: ServerProcess, tmp_path: Path
) -> None:
    tokens = tokens_of(shared_server.study)
    page = log_in(browser, shared_server.url, tokens["anotador-4"])
    assert "Página 1 de" in page.content()
    for score in (5, 4, 3):
        rate(page, score)
    assert page.url.endswith("/item/3")
    page.reload()
    assert "Página 4 de" in page.content() and "3 valoradas" in page.content()
    page.screenshot(path=str(tmp_path / "annotator-page-4.png"), full_page=True)
    assert (tmp_path / "annotator-page-4.png").stat().st_size > 10_000

    later = log_in(
        browser, shared_server.url, tokens["anotador-4"]
    )  # a new session: resumes at page 4
    assert later.url.endswith("/item/3")
    later.click("#previous")
    later.wait_for_url("**/item/2")
    assert later.locator("input[type=radio]:checked").count() >= 2
    assert all(
        later.locator("input[type=radio]:checked").nth(k).get_attribute("value") in ("3", "s1")
        for k in range(later.locator("input[type=radio]:checked").count())
    )

    other = log_in(browser, shared_server.url, tokens["anotador-5"])
    assert "Página 1 de" in other.content() and "0 valoradas" in other.content()
    assert other.locator("input[type=radio]:checked").count() == 0
    other.goto(f"{shared_server.url}/item/2")
    assert "Valore las páginas en orden" in other.content()  # cannot even open page 3 yet

    stored = RatingStore(load_study(shared_server.study).database).pages("anotador-4")
    assert [p.position for p in stored] == [0, 1, 2]
    assert [set(p.answers.scores.values()) for p in stored] == [{5}, {4}, {3}]


SPOOF = "Pago a: \u202eGNP.exe"


def test_outputs_are_bidi_isolated_with_visible_controls_and_wrap(
    browser: Any, server_factory: type[ServerProcess], tmp_path: Path
) -> None:
    from tests.conftest import write_jsonl

    from seq2seq_es.humaneval.config import CreateConfig
    from seq2seq_es.humaneval.study import create_study

    rows = [
        {"id": f"ej-{k}", "source": f"{SPOOF} fuente {k}", "reference": "la casa"} for k in range(8)
    ]
    paths = [
        write_jsonl(
            tmp_path / "a" / "predictions.jsonl", [r | {"prediction": SPOOF} for r in rows]
        ),
        write_jsonl(
            tmp_path / "b" / "predictions.jsonl", [r | {"prediction": "x" * 3000} for r in rows]
        ),
    ]
    study = create_study(
        CreateConfig(
            predictions=[str(p) for p in paths],
            protocol="translation",
            output_dir=str(tmp_path / "study"),
            n_items=4,
            annotators=1,
            repeat_share=0.0,
            seed=1,
        )
    )
    server = server_factory(study.path, free_port()).start()
    page = log_in(browser, server.url, next(iter(tokens_of(study.path).values())))
    page.set_viewport_size({"width": 800, "height": 600})
    shown = page.locator(".output .text").all_inner_texts()
    assert "Pago a: ⟦U+202E⟧GNP.exe" in shown  # the override is shown, not obeyed
    assert page.inner_text("#source").startswith("Pago a: ⟦U+202E⟧GNP.exe fuente")
    assert all(d == "auto" for d in page.locator(".text").evaluate_all("e => e.map(x => x.dir)"))
    isolation = page.locator("#source").evaluate("e => getComputedStyle(e).unicodeBidi")
    assert isolation == "isolate"
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 800, f"the page is {width} px wide: the 3,000-character output did not wrap"
