"""The whole datatrove pipeline on tiny generated corpora: dedup, stats, rejects, resume, bad
input."""

from __future__ import annotations

import gzip
import itertools
import json
import random
from pathlib import Path

import pytest

from seq2seq_es.corpus.arpa import write_bigram_arpa
from seq2seq_es.corpus.config import CorpusConfig
from seq2seq_es.corpus.perplexity import cc_net_normalize
from seq2seq_es.corpus.pipeline import run_corpus

from .conftest import read_rejects, read_shards, run, spanish_doc, write_jsonl


def _corpus(rng: random.Random, n: int, prefix: str = "d") -> list[dict[str, str]]:
    return [{"id": f"{prefix}{i}", "text": spanish_doc(rng)} for i in range(n)]


def test_dedup_drops_exact_and_near_duplicates(tmp_path: Path, rng: random.Random) -> None:
    docs = _corpus(rng, 30)
    exact = {"id": "copy", "text": docs[3]["text"]}
    words = docs[7]["text"].split(" ")
    for position in (5, 40, 80):  # a few words changed
        words[position] = "cambiado"
    near = {"id": "near", "text": " ".join(words)}
    write_jsonl(tmp_path / "in" / "a.jsonl", [*docs[:15], exact])
    write_jsonl(tmp_path / "in" / "b.jsonl", [*docs[15:], near])
    stats = run(tmp_path / "in", tmp_path / "out", tasks=2)

    assert stats["steps"]["exact_dedup"]["dropped"]["exact_duplicate"]["docs"] == 1
    assert stats["steps"]["minhash_dedup"]["dropped"]["near_duplicate"]["docs"] == 1
    kept_ids = {record["id"] for record in read_shards(tmp_path / "out")}
    assert (
        len(kept_ids) == 30
        and len({"d3", "copy"} & kept_ids) == 1
        and len({"d7", "near"} & kept_ids) == 1
    )
    assert [
        r["metadata"]["filter_reason"] for r in read_rejects(tmp_path / "out", "minhash_dedup")
    ] == ["near_duplicate"]


def test_stats_chain_and_every_drop_is_in_rejects(tmp_path: Path, rng: random.Random) -> None:
    docs = _corpus(rng, 20)
    docs += [
        {"id": "short", "text": "Hola."},
        {"id": "english", "text": "The committee met on Tuesday to discuss the new budget. " * 8},
        {
            "id": "menu",
            "text": spanish_doc(rng, paragraphs=1, sentences=3)
            + "\nInicio\nQuiénes somos\nServicios\nContacto\nAviso legal\nMapa del sitio",
        },
    ]
    write_jsonl(tmp_path / "in.jsonl", docs)
    stats = run(tmp_path / "in.jsonl", tmp_path / "out")

    rows = [row for row in stats["steps"].values() if "docs_in" in row]
    for before, after in itertools.pairwise(rows):
        assert after["docs_in"] == before["docs_out"] and after["chars_in"] == before["chars_out"]
    for step, row in stats["steps"].items():
        if "docs_in" in row and step != "read":
            assert row["docs_in"] - row["docs_out"] == sum(
                r["docs"] for r in row["dropped"].values()
            ), step
            assert len(read_rejects(tmp_path / "out", step)) == row["docs_in"] - row["docs_out"], (
                step
            )
    assert stats["steps"]["length"]["dropped"]["too_short"]["docs"] == 1
    assert stats["steps"]["language"]["dropped"]["lang_en"]["docs"] == 1
    assert stats["steps"]["lines"]["dropped"]["c4_too_few_sentences"]["docs"] == 1
    assert stats["output"]["docs"] == len(read_shards(tmp_path / "out")) == 20
    assert json.loads((tmp_path / "out" / "stats.json").read_text(encoding="utf-8")) == stats


def test_resume_after_a_killed_task_gives_identical_output(
    tmp_path: Path, rng: random.Random
) -> None:
    for name in ("a", "b", "c"):
        write_jsonl(tmp_path / "in" / f"{name}.jsonl", _corpus(rng, 8, prefix=name))
    reference = run(tmp_path / "in", tmp_path / "ref", tasks=3)
    out = tmp_path / "out"
    run(tmp_path / "in", out, tasks=3)
    # What a run killed during filter task 1 leaves: tasks 0 and 2 done, task 1 half-written, no
    # later stage.
    for marker in (out / "logs").glob("*/completions/*"):
        if marker.parts[-3] != "filter" or marker.name == "00001":
            marker.unlink()
    half = out / "work" / "filtered" / "00001.jsonl"
    half.write_text(half.read_text(encoding="utf-8")[:500], encoding="utf-8")
    for shard in (out / "shards").glob("*"):
        shard.unlink()
    (out / "stats.json").unlink()
    done_log = out / "logs" / "filter" / "logs" / "task_00000.log"
    before = done_log.stat().st_mtime_ns

    resumed = run(tmp_path / "in", out, tasks=3)
    assert done_log.stat().st_mtime_ns == before, "finished tasks are skipped"
    assert read_shards(out) == read_shards(tmp_path / "ref")
    assert {k: v["docs_out"] for k, v in resumed["steps"].items() if "docs_out" in v} == {
        k: v["docs_out"] for k, v in reference["steps"].items() if "docs_out" in v
    }


def test_bad_input_is_counted_never_a_crash(tmp_path: Path, rng: random.Random) -> None:
    good = [
        json.dumps({"id": f"g{i}", "text": spanish_doc(rng)}, ensure_ascii=False).encode()
        for i in range(5)
    ]
    huge = json.dumps({"id": "huge", "text": "palabra " * 6_500_000}).encode()  # a 52 MB line
    lines = [
        good[0],
        b'{"id": "broken", "text": "sin cerrar',
        good[1],
        b"\xff\xfe no es utf-8",
        b"[1, 2]",
        b'{"id": "notext"}',
        good[2],
        huge,
        good[3],
        b"",
        good[4],
    ]
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "mixed.jsonl").write_bytes(b"\n".join(lines) + b"\n")
    (folder / "empty.jsonl").write_bytes(b"")
    (folder / "truncated.jsonl.gz").write_bytes(gzip.compress(b"\n".join(good) + b"\n")[:-30])
    stats = run(folder, tmp_path / "out", tasks=3, **{"dedup": {"exact": False, "minhash": False}})

    unreadable = {reason: entry["docs"] for reason, entry in stats["input"]["unreadable"].items()}
    assert unreadable == {
        "invalid_json": 1,
        "invalid_utf8": 1,
        "not_an_object": 1,
        "missing_text": 1,
        "unreadable_file": 1,
    }
    assert stats["steps"]["length"]["dropped"]["too_long"]["docs"] == 1
    shard_ids = {r["id"] for r in read_shards(tmp_path / "out")}
    assert {f"g{i}" for i in range(5)} <= shard_ids
    assert len(read_rejects(tmp_path / "out", "read")) == 5


def test_text_folder_and_parquet_readers(tmp_path: Path, rng: random.Random) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    (tmp_path / "txt").mkdir()
    for i in range(3):
        (tmp_path / "txt" / f"doc{i}.txt").write_text(spanish_doc(rng), encoding="utf-8")
    (tmp_path / "txt" / "latin1.txt").write_bytes("canción de otoño".encode("latin-1"))
    stats = run(tmp_path / "txt", tmp_path / "out-txt")
    assert stats["steps"]["read"]["docs_out"] == 3
    assert stats["input"]["unreadable"]["invalid_utf8"]["docs"] == 1

    table = pa.table(
        {"id": [f"p{i}" for i in range(4)], "text": [spanish_doc(rng) for _ in range(4)]}
    )
    (tmp_path / "pq").mkdir()
    pq.write_table(table, tmp_path / "pq" / "part.parquet")
    stats = run(tmp_path / "pq", tmp_path / "out-pq", output_format="parquet")
    assert stats["output"]["docs"] == 4
    assert pq.read_table(next((tmp_path / "out-pq" / "shards").glob("*.parquet"))).num_rows == 4


def test_perplexity_scoring_and_sampling_in_the_pipeline(
    tmp_path: Path, rng: random.Random
) -> None:
    arpa = write_bigram_arpa(
        [cc_net_normalize(spanish_doc(rng)) for _ in range(100)], tmp_path / "lm.arpa"
    )
    write_jsonl(tmp_path / "in.jsonl", _corpus(rng, 40))
    perplexity = {"model": str(arpa)}
    scored = run(tmp_path / "in.jsonl", tmp_path / "scored", perplexity=perplexity)
    median = scored["perplexity_quartiles"][1]
    assert all(r["metadata"]["perplexity"] > 1 for r in read_shards(tmp_path / "scored"))

    sampled = run(
        tmp_path / "in.jsonl",
        tmp_path / "sampled",
        perplexity=perplexity | {"sampling": True, "median": median, "factor": 0.5},
    )
    dropped = sampled["steps"]["sampling"]["dropped"]["perplexity_sampling"]["docs"]
    assert 5 < dropped < 35 and sampled["output"]["docs"] == 40 - dropped
    run(
        tmp_path / "in.jsonl",
        tmp_path / "again",
        perplexity=perplexity | {"sampling": True, "median": median, "factor": 0.5},
    )
    assert read_shards(tmp_path / "again") == read_shards(tmp_path / "sampled")


def test_unknown_source_path_is_a_clear_error(tmp_path: Path) -> None:
    from seq2seq_es.errors import DataError

    with pytest.raises(DataError, match="no such file or folder"):
        run(tmp_path / "nowhere", tmp_path / "out")


@pytest.mark.shared_data
def test_shared_sample_few_hundred_docs(shared_data: Path, tmp_path: Path) -> None:
    stats = run(shared_data / "pretrain" / "sample.jsonl.gz", tmp_path / "out", limit=300)
    assert stats["input"]["docs"] == 300
    # Real Spanish prose: language ID and the Spanish Gopher rules keep nearly everything.
    assert stats["steps"]["language"]["docs_out"] >= 0.97 * stats["steps"]["language"]["docs_in"]
    assert stats["steps"]["quality"]["docs_out"] >= 0.95 * stats["steps"]["quality"]["docs_in"]
    assert stats["output"]["docs"] >= 240


def test_limit_caps_every_source(tmp_path: Path, rng: random.Random) -> None:
    """``limit=`` with ``sources:`` reads at most that many documents of each source (it was
    ignored); a source's own smaller limit wins."""
    write_jsonl(tmp_path / "a.jsonl", _corpus(rng, 12, "a"))
    write_jsonl(tmp_path / "b.jsonl", _corpus(rng, 12, "b"))
    sources = [{"path": str(tmp_path / "a.jsonl")}, {"path": str(tmp_path / "b.jsonl"), "limit": 2}]
    config = CorpusConfig.model_validate(
        {"sources": sources, "limit": 5, "output_dir": str(tmp_path / "out")}
    )
    assert [source.limit for source in config.resolved_sources()] == [5, 2]
    stats = run_corpus(config)
    kept = [record["id"] for record in read_shards(tmp_path / "out")]
    assert stats["input"]["docs"] == 7 and len(kept) <= 7, stats["input"]
    assert sum(name.startswith("b") for name in kept) <= 2


def test_the_command_shows_which_stage_runs(tmp_path: Path, rng: random.Random) -> None:
    """Issue 39: the corpus command printed nothing until its report. One bar over the stages,
    named as they run; outside a terminal (a log, this runner) it is printed once, finished."""
    from typer.testing import CliRunner

    from seq2seq_es.cli import app
    from seq2seq_es.corpus.pipeline import build_stages

    write_jsonl(tmp_path / "in.jsonl", _corpus(rng, 8))
    out = tmp_path / "out"
    result = CliRunner().invoke(
        app, ["corpus", f"input={tmp_path / 'in.jsonl'}", f"output_dir={out}"]
    )
    assert result.exit_code == 0, result.output
    stages = len(build_stages(CorpusConfig(input=str(tmp_path / "in.jsonl")), out))
    bar = next(line for line in result.output.splitlines() if "corpus stages" in line)
    assert f"{stages}/{stages}" in bar and "done" in bar and stages > 3
    assert "\x1b[" not in result.output, "no terminal control codes in a log"
