"""Splitting input files across tasks: every line read once, loads even, same output as whole
files."""

from __future__ import annotations

import gzip
import itertools
import json
import random
from collections import Counter
from pathlib import Path

import pytest

from seq2seq_es.corpus.pieces import FilePart, plan_pieces, text_size

from .conftest import read_shards, run, spanish_doc, write_jsonl


@pytest.mark.parametrize("tasks", [1, 2, 3, 5, 8, 16])
def test_every_line_of_every_file_belongs_to_exactly_one_task(tasks: int) -> None:
    rng = random.Random(tasks)
    sizes = {f"f{i}.jsonl.gz": rng.choice([10, 1_000, 40_000, 150_000]) for i in range(5)}
    plan = plan_pieces(sizes, tasks)
    assert len(plan) == tasks
    for path, size in sizes.items():
        starts = sorted(
            {0, *rng.sample(range(1, 2 * size), min(300, 2 * size - 1))}
        )  # line starts, some past the estimate
        owners = Counter(
            offset
            for parts in plan
            for part in parts
            if part.path == path
            for offset in starts
            if part.wants(offset)
        )
        assert owners == Counter(starts), path
        for parts in plan:
            for part in (p for p in parts if p.path == path):
                assert not any(part.wants(offset) for offset in starts if part.done(offset))


def _loads(sizes: dict[str, int], tasks: int) -> list[float]:
    def covered(part: FilePart) -> int:
        return sum((sizes[part.path] if end is None else end) - start for start, end in part.ranges)

    return [sum(covered(part) for part in parts) for parts in plan_pieces(sizes, tasks)]


def test_loads_are_even_and_the_heaviest_task_comes_first() -> None:
    sizes = {
        "gutenberg": 40_552_191,
        "eltec": 25_377_829,
        "parlamint": 15_771_706,
        "legal": 15_304_418,
        "caldracor": 5_154_164,
    }  # the text bytes of ../shared/data/pretrain
    for tasks in (4, 8, 16):
        loads = _loads(sizes, tasks)
        assert all(
            a >= b - 16 for a, b in itertools.pairwise(loads)
        )  # up to integer rounding of the ranges
        assert sum(loads) == sum(sizes.values())
        assert max(loads) <= 1.5 * sum(sizes.values()) / tasks, (
            tasks,
            loads,
        )  # whole files: gutenberg is 40%


def test_a_small_file_stays_whole_and_a_task_reads_a_file_once() -> None:
    plan = plan_pieces({"big": 1_000, "small": 10}, 2)
    small = [part for parts in plan for part in parts if part.path == "small"]
    assert small == [FilePart("small")]
    for parts in plan:
        assert len({part.path for part in parts}) == len(parts)
    assert plan_pieces({"only": 100}, 1) == [
        [FilePart("only")]
    ]  # adjacent pieces merge into one range


def test_text_size_reads_the_gzip_trailer(tmp_path: Path) -> None:
    text = ("una línea de texto en español\n" * 5_000).encode()
    path = tmp_path / "a.jsonl.gz"
    path.write_bytes(gzip.compress(text))
    with path.open("rb") as handle:
        assert text_size(path.stat().st_size, str(path), handle) == len(text)
    assert text_size(123, "b.jsonl") == 123
    assert text_size(100, "c.parquet") == 300


def test_a_file_split_across_tasks_gives_the_documents_of_one_task(
    tmp_path: Path, rng: random.Random
) -> None:
    docs = [{"id": f"d{i}", "text": spanish_doc(rng)} for i in range(40)]
    lines = [json.dumps(d, ensure_ascii=False) for d in docs]
    lines.insert(17, '{"id": "broken", "text": "sin cerrar')
    path = tmp_path / "in.jsonl.gz"
    path.write_bytes(gzip.compress(("\n".join(lines) + "\n").encode()))
    one = run(path, tmp_path / "one", tasks=1)
    split = run(path, tmp_path / "split", tasks=4)

    assert len(list((tmp_path / "split" / "shards").glob("*.jsonl.gz"))) > 1, (
        "the file was read by several tasks"
    )
    assert split["input"]["unreadable"] == one["input"]["unreadable"]
    assert one["input"]["unreadable"]["invalid_json"]["docs"] == 1
    assert split["steps"]["read"]["docs_out"] == one["steps"]["read"]["docs_out"] == 40
    by_id = {record["id"]: record for record in read_shards(tmp_path / "one")}
    assert {record["id"]: record for record in read_shards(tmp_path / "split")} == by_id


def test_tasks_beyond_the_files_are_used_for_jsonl_only(tmp_path: Path, rng: random.Random) -> None:
    from seq2seq_es.corpus.pipeline import CorpusConfig, count_tasks

    write_jsonl(tmp_path / "j" / "a.jsonl", [{"id": "a", "text": spanish_doc(rng)}])
    (tmp_path / "t").mkdir()
    (tmp_path / "t" / "a.txt").write_text(spanish_doc(rng), encoding="utf-8")
    assert count_tasks(CorpusConfig(input=str(tmp_path / "j"), tasks=6)) == 6
    assert count_tasks(CorpusConfig(input=str(tmp_path / "t"), tasks=6)) == 1
