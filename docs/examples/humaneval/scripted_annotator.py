"""A *scripted* annotator: rates a whole study through the real web app in headless Chromium.

It exists to run the example study end to end (docs/examples/humaneval/README.md); it is not a
substitute for people. It logs in with each token of ``annotators.json``, reads every page as
the browser shows it (input and blind outputs), ticks radio buttons and saves, until the app
says the queue is done. Its judgements are simple, stated rules:

* adequacy (or any criterion but fluency): 1 + 4 × the share of the reference's words found in
  the output (the script reads the references from study.json, matched by the page's input
  text; a person would read the English input instead);
* fluency: 5, minus 2 for a word repeated back to back, minus 1 when over a third of the words
  are repeats, minus 1 when the output is under half or over twice the reference's length;
  an empty output gets 1;
* preference: the output with the higher sum, a tie when equal;
* each annotator adds its own noise (a seeded ±1 on a share of the answers), and the annotator
  named in ``--careless`` answers at random (to show the exclusion rule at work).

Usage: python scripted_annotator.py STUDY_DIR http://127.0.0.1:8765 [--careless anotador-3]
       [--screenshot page.png]
"""

from __future__ import annotations

import argparse
import itertools
import json
import random
import re
from pathlib import Path
from typing import Any

FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
         "--disable-sync", "--no-first-run"]
WORD = re.compile(r"\w+", re.UNICODE)


def words(text: str) -> list[str]:
    return WORD.findall(text.lower())


def adequacy(output: str, references: list[str]) -> int:
    out = set(words(output))
    recall = max((sum(w in out for w in words(r)) / max(len(words(r)), 1) for r in references), default=0.0)
    return 1 + round(4 * recall)


def fluency(output: str, references: list[str]) -> int:
    tokens = words(output)
    if not tokens:
        return 1
    score = 5
    if any(a == b for a, b in itertools.pairwise(tokens)):
        score -= 2
    if 1 - len(set(tokens)) / len(tokens) > 1 / 3:
        score -= 1
    ratio = len(tokens) / max(1, min(len(words(r)) for r in references))
    if not 0.5 <= ratio <= 2:
        score -= 1
    return max(1, score)


def judge(criterion: str, output: str, references: list[str]) -> int:
    return fluency(output, references) if criterion == "fluency" else adequacy(output, references)


def rate_queue(browser: Any, url: str, token: str, references: dict[str, list[str]], rng: random.Random,
               careless: bool, screenshot: Path | None) -> int:
    page = browser.new_context().new_page()
    page.goto(url + "/")
    page.fill("#token", token)
    page.click("button[type=submit]")
    page.wait_for_load_state()
    pages = 0
    while "/item/" in page.url:
        source = " ".join(page.inner_text("#source").split())
        outputs = [page.inner_text(f"#s{slot} .text") for slot in range(1, page.locator("section.output").count() + 1)]
        names = {page.locator("input[type=radio]").nth(k).get_attribute("name")
                 for k in range(page.locator("input[type=radio]").count())}
        totals = [0] * len(outputs)
        for name in sorted(n for n in names if n and n != "preference"):
            slot, criterion = name[1:].split(".", 1)
            text = outputs[int(slot) - 1]
            text = "" if text.strip() == "(salida vacía)" else text
            score = rng.randint(1, 5) if careless else judge(criterion, text, references[source])
            if not careless and rng.random() < 0.2:
                score = min(5, max(1, score + rng.choice([-1, 1])))
            totals[int(slot) - 1] += score
            page.check(f'input[name="{name}"][value="{score}"]')
        if "preference" in names:
            best = max(totals)
            choice = "tie" if totals.count(best) > 1 else f"s{totals.index(best) + 1}"
            if careless:
                choice = rng.choice(["s1", "s2", "tie"])
            page.check(f'input[name="preference"][value="{choice}"]')
        if screenshot is not None and pages == 3:
            page.screenshot(path=str(screenshot), full_page=True)
        page.click("#save")
        page.wait_for_load_state()
        pages += 1
    return pages


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("study", type=Path)
    parser.add_argument("url")
    parser.add_argument("--careless", default=None, help="This annotator answers at random.")
    parser.add_argument("--screenshot", type=Path, default=None)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    study = json.loads((args.study / "study.json").read_text(encoding="utf-8"))
    references: dict[str, list[str]] = {}
    for item in study["items"]:
        references.setdefault(" ".join(item["source"].split()), []).extend(item["references"])
    annotators = json.loads((args.study / "annotators.json").read_text(encoding="utf-8"))
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", headless=True, args=FLAGS)
        for k, annotator in enumerate(annotators):
            rng = random.Random(f"{args.seed}-{k}")
            done = rate_queue(browser, args.url, annotator["token"], references, rng,
                              annotator["name"] == args.careless, args.screenshot if k == 0 else None)
            print(f"{annotator['name']}: {done} pages rated")
        browser.close()


if __name__ == "__main__":
    main()
