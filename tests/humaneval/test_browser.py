"""An annotator in a real headless Chromium (Debian's, driven by Playwright): log in, rate,
reload, resume."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from seq2seq_es.humaneval.store import RatingStore
from seq2seq_es.humaneval.study import load_study

from .conftest import ServerProcess, tokens_of

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
