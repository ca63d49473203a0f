"""Config schemas and the CLI's front door load no heavy library.

Why: a typo in a config must fail in about a second, not after torch, transformers and
datatrove load (12-30 s before this was enforced). Checked in a fresh interpreter,
because this test process has long imported everything.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

HEAVY = (
    "torch",
    "transformers",
    "accelerate",
    "datatrove",
    "numba",
    "datasets",
    "fastapi",
    "ctranslate2",
    "peft",
    "matplotlib",
    "sacrebleu",
)


def loaded_heavy_modules(code: str) -> list[str]:
    """Run ``code`` in a new interpreter; the heavy packages it left in ``sys.modules``."""
    probe = f"{code}\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))"
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=120
    )
    modules = json.loads(done.stdout.strip().splitlines()[-1])
    return sorted({name.split(".")[0] for name in modules} & set(HEAVY))


def test_every_command_schema_imports_light() -> None:
    code = (
        "from seq2seq_es.cli import commands\n"
        "schemas = [c.schema for c in commands()]\n"
        "assert len(schemas) >= 10"
    )
    assert loaded_heavy_modules(code) == []


@pytest.mark.parametrize(
    "args",
    [
        ["--help"],
        ["pretrain", "optim.steps=many"],
        ["finetune", "nope=1"],
        ["corpus", "--config", "missing.yaml"],
    ],
)
def test_help_and_config_errors_load_no_heavy_library(args: list[str]) -> None:
    code = (
        "import sys\n"
        "from seq2seq_es.cli import app\n"
        f"sys.argv = ['seq2seq-es', *{json.dumps(args)}]\n"
        "try:\n"
        "    app()\n"
        "except SystemExit as exit:\n"
        "    assert exit.code in (0, 2), exit.code\n"
    )
    assert loaded_heavy_modules(code) == []
