"""``seq2seq-es corpus executor=ray`` on a real local Ray runtime (started by the command) gives
the local executor's result."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from corpus_outputs import assert_same_corpus, corpus
from needs import skip_or_fail


def test_ray_equals_local(shared_data: Path, tmp_path: Path) -> None:
    if importlib.util.find_spec("ray") is None:
        skip_or_fail("needs the `ray` extra: pip install 'seq2seq-es[ray]'")
    corpus(shared_data, tmp_path / "local", 2)
    done = corpus(
        shared_data, tmp_path / "ray", 2, "executor=ray", "workers=2", "ray.mem_per_cpu_gb=0.5"
    )
    assert_same_corpus(tmp_path / "ray", tmp_path / "local")
    assert done.stderr.count("points to a local filesystem") == 1, "warned once, not per stage"
