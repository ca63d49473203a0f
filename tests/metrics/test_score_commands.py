"""``seq2seq-es score`` and ``seq2seq-es compare`` as a user runs them."""

from __future__ import annotations

import json
import random
from pathlib import Path

from typer.testing import CliRunner

from seq2seq_es.cli import app

runner = CliRunner()
VOCAB = [
    "el",
    "niño",
    "come",
    "pan",
    "con",
    "su",
    "madre",
    "en",
    "la",
    "casa",
    "grande",
    "dónde",
    "está",
    "perro",
    "qué",
    "día",
    "tan",
    "bonito",
]


def _write_systems(tmp_path: Path, n: int = 80) -> tuple[Path, Path, Path]:
    rng = random.Random(0)
    refs = [" ".join(rng.choice(VOCAB) for _ in range(rng.randint(5, 12))) for _ in range(n)]
    good = [
        " ".join(w if rng.random() < 0.85 else rng.choice(VOCAB) for w in r.split()) for r in refs
    ]
    bad = [
        " ".join(w if rng.random() < 0.4 else rng.choice(VOCAB) for w in r.split()) for r in refs
    ]
    paths = []
    for name, outputs in (("base", bad), ("good", good), ("same", bad)):
        order = list(range(n))
        rng.shuffle(order)  # the compare command aligns on ids, not on line order
        path = tmp_path / f"{name}.jsonl"
        path.write_text(
            "".join(
                json.dumps(
                    {
                        "id": f"ex-{i}",
                        "source": refs[i] + " fuente",
                        "reference": refs[i],
                        "prediction": outputs[i],
                    },
                    ensure_ascii=False,
                )
                + "\n"
                for i in order
            ),
            encoding="utf-8",
        )
        paths.append(path)
    return paths[0], paths[1], paths[2]


def test_score_writes_scores_with_cis_signatures_and_a_report(tmp_path: Path) -> None:
    base, _, _ = _write_systems(tmp_path)
    result = runner.invoke(
        app,
        [
            "score",
            "--pred",
            str(base),
            "-m",
            "rouge",
            "-m",
            "rouge-paper",
            "-m",
            "bleu",
            "-m",
            "sari",
            "bootstrap_samples=200",
        ],
    )
    assert result.exit_code == 0, result.output
    scores = json.loads((tmp_path / "scores.json").read_text(encoding="utf-8"))
    assert scores["n"] == 80 and scores["bootstrap"]["samples"] == 200
    assert "variant:spanish" in scores["rouge"]["signature"]
    assert "variant:paper-compatible" in scores["rouge-paper"]["signature"]
    low, high = scores["bleu"]["ci"]["score"]
    assert low <= scores["bleu"]["score"] <= high
    report = (tmp_path / "scores.md").read_text(encoding="utf-8")
    assert "rouge-paper/rouge1" in report and "`rouge|variant:paper-compatible" in report


def test_score_plain_text_with_ref_option(tmp_path: Path) -> None:
    (tmp_path / "hyp.txt").write_text("el niño come\nla casa\n", encoding="utf-8")
    (tmp_path / "ref.txt").write_text("el niño come pan\nla casa grande\n", encoding="utf-8")
    result = runner.invoke(
        app,
        [
            "score",
            "--pred",
            str(tmp_path / "hyp.txt"),
            "--ref",
            str(tmp_path / "ref.txt"),
            "-m",
            "chrf",
            f"output={tmp_path / 'out.json'}",
        ],
    )
    assert result.exit_code == 0, result.output
    assert json.loads((tmp_path / "out.json").read_text(encoding="utf-8"))[
        "references_file"
    ].endswith("ref.txt")


def test_compare_marks_the_better_system_and_not_the_identical_one(tmp_path: Path) -> None:
    base, good, same = _write_systems(tmp_path)
    out = tmp_path / "cmp"
    result = runner.invoke(
        app,
        [
            "compare",
            str(base),
            str(good),
            str(same),
            "-m",
            "bleu",
            "-m",
            "rouge",
            f"output_dir={out}",
            "bootstrap_samples=300",
            "randomization_trials=300",
        ],
    )
    assert result.exit_code == 0, result.output
    comparison = json.loads((out / "compare.json").read_text(encoding="utf-8"))
    assert comparison["baseline"] == str(base) and comparison["n"] == 80
    for test in comparison["tests"]:
        if test["system"] == str(good):
            assert (
                test["delta"] > 0
                and test["p_bootstrap_holm"] < 0.05
                and test["p_randomization_holm"] < 0.05
            )
        else:
            assert (
                test["delta"] == 0 and test["p_bootstrap"] == 1.0 and test["p_randomization"] == 1.0
            )
    report = (out / "report.md").read_text(encoding="utf-8")
    good_row = next(line for line in report.splitlines() if line.startswith(f"| {good} |"))
    same_row = next(line for line in report.splitlines() if line.startswith(f"| {same} |"))
    assert "*†" in good_row and "*" not in same_row and "†" not in same_row
    assert (out / "run_info.json").is_file()


def test_compare_errors(tmp_path: Path) -> None:
    base, good, _ = _write_systems(tmp_path)
    result = runner.invoke(app, ["compare", str(base), f"output_dir={tmp_path / 'c'}"])
    assert result.exit_code == 2 and "at least two" in result.output
    lines = good.read_text(encoding="utf-8").splitlines()
    record = json.loads(lines[4])
    record["reference"] = "otra referencia"
    lines[4] = json.dumps(record, ensure_ascii=False)
    good.write_text("\n".join(lines) + "\n", encoding="utf-8")
    result = runner.invoke(app, ["compare", str(base), str(good), f"output_dir={tmp_path / 'c'}"])
    assert result.exit_code == 2 and "good.jsonl:5: the reference of id" in result.output
    good.write_text("\n".join(lines[:-1]) + "\n", encoding="utf-8")
    result = runner.invoke(app, ["compare", str(base), str(good), f"output_dir={tmp_path / 'c'}"])
    assert result.exit_code == 2 and "no prediction for id" in result.output
