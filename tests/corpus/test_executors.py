"""One stage list, three executors: local, Slurm and Ray build the same chained stages.

They run for real in tests/cluster/ (a local Slurm cluster, a local Ray runtime)."""

from __future__ import annotations

import itertools
import random
import sys
from pathlib import Path

import pytest
from datatrove.executor import SlurmPipelineExecutor

from seq2seq_es.corpus.config import CorpusConfig
from seq2seq_es.corpus.executors import QuietLocalExecutor
from seq2seq_es.corpus.pipeline import build_stages, chain_executors
from seq2seq_es.errors import ConfigError

from .conftest import spanish_doc, write_jsonl


def _config(tmp_path: Path, rng: random.Random, executor: str) -> CorpusConfig:
    docs = [{"id": f"d{i}", "text": spanish_doc(rng)} for i in range(12)]
    write_jsonl(tmp_path / "in" / "a.jsonl", docs[:6])
    write_jsonl(tmp_path / "in" / "b.jsonl", docs[6:])
    return CorpusConfig.model_validate(
        {
            "input": str(tmp_path / "in"),
            "output_dir": str(tmp_path / executor),
            "executor": executor,
            "tasks": 2,
            "slurm": {"partition": "cpu", "job_name": "corpus"},
        }
    )


def _chain(config: CorpusConfig) -> list:
    out = Path(config.output_dir)
    return chain_executors(config, build_stages(config, out), out)


def test_slurm_runs_the_same_stages_as_local_chained_by_dependencies(
    tmp_path: Path, rng: random.Random
) -> None:
    local = _chain(_config(tmp_path, rng, "local"))
    slurm = _chain(_config(tmp_path, rng, "slurm"))

    assert all(isinstance(e, QuietLocalExecutor) for e in local)
    assert all(isinstance(e, SlurmPipelineExecutor) for e in slurm)
    assert [e.world_size for e in slurm] == [e.world_size for e in local]
    assert [[type(step).__name__ for step in e.pipeline] for e in slurm] == [
        [type(step).__name__ for step in e.pipeline] for e in local
    ]
    assert slurm[0].depends is None and all(
        e.depends is before for before, e in itertools.pairwise(slurm)
    )
    assert slurm[0].job_name == "corpus-filter" and slurm[0].partition == "cpu"


def test_ray_without_the_package_is_a_clear_error(
    tmp_path: Path, rng: random.Random, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)  # what `import ray` meets when it is absent
    with pytest.raises(ConfigError, match=r"pip install 'seq2seq-es\[ray\]'"):
        _chain(_config(tmp_path, rng, "ray"))
