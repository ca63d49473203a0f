"""Creating a study: sampling, blind orders, repeats, and refusing bad input without writing
anything."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from seq2seq_es.config import load_config
from seq2seq_es.errors import ConfigError, DataError
from seq2seq_es.humaneval.config import BUILT_IN_PROTOCOLS, CreateConfig, load_protocol
from seq2seq_es.humaneval.store import RatingStore
from seq2seq_es.humaneval.study import create_study, load_study

from .conftest import make_predictions, new_study, write_jsonl

REPO = Path(__file__).resolve().parents[2]


def test_study_has_blind_random_orders_and_spaced_repeats(tmp_path: Path) -> None:
    study = new_study(tmp_path, n_items=16, annotators=3, repeat_share=0.25)
    assert len(study.items) == 16 and study.pool_size == 24
    assert set(study.systems) == {"base", "mejor"}
    orders = []
    for queue in study.queues.values():
        firsts = [p.item for p in queue if p.repeat_of is None]
        assert sorted(firsts) == sorted(study.items)  # every annotator rates every item once...
        repeats = [p for p in queue if p.repeat_of is not None]
        assert len(repeats) == 4  # ...and a quarter of them twice
        for page in repeats:
            assert queue[page.repeat_of].item == page.item
            assert page.position - page.repeat_of >= len(queue) // 4  # far apart
        for page in queue:
            assert sorted(page.order) == sorted(study.systems)
            orders.append(tuple(page.order))
    assert len(set(orders)) == 2  # both orders occur
    assert [p.item for p in study.queues["anotador-1"]] != [
        p.item for p in study.queues["anotador-2"]
    ]
    assert "base" not in (study.path / "annotators.json").read_text(encoding="utf-8")
    assert RatingStore(study.database).pages() == []
    for name in ("config.yaml", "run_info.json"):
        assert (study.path / name).is_file()


def test_same_seed_same_study_but_fresh_tokens(tmp_path: Path) -> None:
    paths = [str(p) for p in make_predictions(tmp_path / "systems")]
    a = create_study(
        CreateConfig(
            predictions=paths,
            protocol="translation",
            output_dir=str(tmp_path / "a"),
            n_items=10,
            seed=3,
        ),
        record=False,
    )
    b = create_study(
        CreateConfig(
            predictions=paths,
            protocol="translation",
            output_dir=str(tmp_path / "b"),
            n_items=10,
            seed=3,
        ),
        record=False,
    )
    assert (a.path / "study.json").read_bytes() == (b.path / "study.json").read_bytes()
    assert set(a.tokens.values()).isdisjoint(b.tokens.values())


def test_mismatched_ids_are_refused_naming_file_and_ids(tmp_path: Path) -> None:
    paths = make_predictions(tmp_path / "systems", n=10)
    rows = [json.loads(line) for line in paths[1].read_text(encoding="utf-8").splitlines()]
    write_jsonl(paths[1], rows[:-2])  # the second system lacks the last two ids
    out = tmp_path / "study"
    with pytest.raises(DataError) as error:
        create_study(
            CreateConfig(
                predictions=[str(p) for p in paths],
                protocol="translation",
                output_dir=str(out),
                n_items=5,
            )
        )
    message = str(error.value)
    assert str(paths[1]) in message and "'ej-008'" in message and "'ej-009'" in message
    assert not out.exists() and list(tmp_path.iterdir()) == [
        tmp_path / "systems"
    ]  # no temporary left


@pytest.mark.parametrize("problem", ["duplicate", "other_source", "not_json", "no_prediction"])
def test_broken_predictions_are_refused(tmp_path: Path, problem: str) -> None:
    paths = make_predictions(tmp_path / "systems", n=6)
    rows = [json.loads(line) for line in paths[1].read_text(encoding="utf-8").splitlines()]
    if problem == "duplicate":
        rows[3]["id"] = rows[2]["id"]
    elif problem == "other_source":
        rows[4]["source"] = "otra cosa"
    elif problem == "no_prediction":
        del rows[1]["prediction"]
    write_jsonl(paths[1], rows)
    if problem == "not_json":
        paths[1].write_text(paths[1].read_text(encoding="utf-8") + "{roto\n", encoding="utf-8")
    with pytest.raises(DataError, match=str(paths[1])):
        create_study(
            CreateConfig(
                predictions=[str(p) for p in paths],
                protocol="translation",
                output_dir=str(tmp_path / "study"),
                n_items=3,
            )
        )
    assert not (tmp_path / "study").exists()


def test_existing_study_is_never_overwritten(tmp_path: Path) -> None:
    study = new_study(tmp_path)
    before = (study.path / "study.json").read_bytes()
    paths = [str(p) for p in make_predictions(tmp_path / "other", n=8)]
    with pytest.raises(ConfigError, match="never overwritten"):
        create_study(
            CreateConfig(predictions=paths, protocol="qa", output_dir=str(study.path), n_items=4)
        )
    assert (study.path / "study.json").read_bytes() == before
    empty = tmp_path / "empty"
    empty.mkdir()
    assert create_study(
        CreateConfig(predictions=paths, protocol="qa", output_dir=str(empty), n_items=4)
    ).items


def test_too_many_items_and_unknown_protocol(tmp_path: Path) -> None:
    paths = [str(p) for p in make_predictions(tmp_path / "systems", n=5)]
    with pytest.raises(ConfigError, match="only 5 common ids"):
        create_study(
            CreateConfig(
                predictions=paths, protocol="translation", output_dir=str(tmp_path / "s"), n_items=6
            )
        )
    with pytest.raises(ConfigError, match="Built-in protocols"):
        create_study(
            CreateConfig(
                predictions=paths, protocol="poesía", output_dir=str(tmp_path / "s"), n_items=2
            )
        )
    with pytest.raises(ConfigError, match="duplicate system names"):
        create_study(
            CreateConfig(
                predictions=[paths[0], paths[0]],
                protocol="qa",
                output_dir=str(tmp_path / "s"),
                n_items=2,
            )
        )
    assert not (tmp_path / "s").exists()
    assert load_study(new_study(tmp_path / "ok").path).items


def test_protocols_and_example_configs_validate() -> None:
    assert {load_protocol(name).task_kind for name in BUILT_IN_PROTOCOLS} == {
        "summarization",
        "translation",
        "dialogue",
        "qa",
    }
    from seq2seq_es.commands.humaneval import COMMANDS

    schemas = {c.name.split()[1]: c.schema for c in COMMANDS}
    configs = sorted((REPO / "configs" / "humaneval").glob("*.yaml"))
    assert configs
    for path in configs:
        load_config(schemas[path.stem.split("-")[0]], path)


def test_schemas_import_nothing_heavy() -> None:
    code = (
        "import sys, seq2seq_es.commands.humaneval; print(sorted({m.split('.')[0] for m in "
        "sys.modules} & {'torch', 'transformers', 'fastapi', 'uvicorn', 'scipy', 'krippendorff', "
        "'numpy', 'sacrebleu'}))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"
