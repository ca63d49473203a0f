"""``tests/warm_python.py`` gives what a fresh process gives: the tests that run the CLI through
it would otherwise test the server, not the program."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

from safetensors.torch import load_file
from training_helpers import cli_env

import warm_python


def test_a_warm_pretraining_run_equals_a_fresh_process(
    tiny_pretrain: list[str], tmp_path: Path
) -> None:
    """An 8-step pretraining with dropout, forked and fresh: the same exit status, losses and
    weights bit for bit (the printed summary holds timings)."""
    runs = {}
    for kind in ("warm", "fresh"):
        out = tmp_path / kind
        command = [
            sys.executable, "-m", "seq2seq_es.cli", "pretrain", f"output_dir={out}",
            *tiny_pretrain, "model=barto-tiny", "optim.steps=8",
        ]  # fmt: skip
        if kind == "warm":
            done = warm_python.run(command, env=cli_env(), timeout=300)
        else:
            done = subprocess.run(
                command, capture_output=True, text=True, env=cli_env(), timeout=300
            )
        assert done.returncode == 0, done.stderr
        runs[kind] = (done, out)
    (warm, warm_out), (fresh, fresh_out) = runs["warm"], runs["fresh"]
    assert warm.stdout.count("\n") == fresh.stdout.count("\n") > 5
    losses = [
        [r.get("loss") for r in map(json.loads, (o / "metrics.jsonl").open())]
        for o in (warm_out, fresh_out)
    ]
    assert losses[0] == losses[1] and len([x for x in losses[0] if x]) == 8
    a, b = (load_file(o / "model" / "model.safetensors") for o in (warm_out, fresh_out))
    assert a.keys() == b.keys() and all((a[k] == b[k]).all() for k in a)


def test_exit_codes_stdin_and_signals_are_a_processs(tmp_path: Path) -> None:
    script = tmp_path / "echo.py"
    script.write_text(
        "import sys, time\n"
        "if sys.argv[1] == 'sleep':\n    time.sleep(60)\n"
        "print(sys.stdin.read().upper(), end='')\n"
        "print('err', file=sys.stderr)\n"
        "sys.exit(int(sys.argv[1]))\n",
        encoding="utf-8",
    )
    env = cli_env()
    done = warm_python.run([sys.executable, str(script), "3"], input="hola", env=env)
    assert (done.returncode, done.stdout, done.stderr) == (3, "HOLA", "err\n")

    with warm_python.captured() as (stdin, stdout, stderr):
        process = warm_python.start(
            [str(script), "sleep"], stdin.fileno(), stdout.fileno(), stderr.fileno(), env
        )
        assert process is not None, "the server is up"
        time.sleep(0.5)
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == -signal.SIGTERM

    # an environment the preloaded modules read at import gets a server of its own
    other = {**env, "OMP_NUM_THREADS": "2"}
    assert warm_python.WARM.socket_for(other) != warm_python.WARM.socket_for(env)
