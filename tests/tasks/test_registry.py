"""Every registry entry validates; local entries match the shared data's schema; hub entries are
well formed."""

from __future__ import annotations

from pathlib import Path

import pytest

from seq2seq_es.errors import ConfigError, DataError
from seq2seq_es.metrics.scoring import METRICS
from seq2seq_es.tasks.examples import load_examples
from seq2seq_es.tasks.registry import LOCAL_TASKS, PAPER_TASKS, get_task, task_names

PAPER = [
    "mlsum-es",
    "wikilingua-es",
    "xlsum-es",
    "eurlex-sum-es",
    "bisect-es",
    "mlqa-es",
    "sqac",
    "miam-dihana",
    "wmt13-es-en",
    "wmt13-en-es",
    "fapesp-es-pt",
]


def test_every_paper_task_is_registered() -> None:
    assert set(PAPER) <= set(PAPER_TASKS)


@pytest.mark.parametrize("name", task_names())
def test_entry_validates_and_names_real_metrics(name: str) -> None:
    task = get_task(name)
    assert set(task.metrics) <= set(METRICS)
    assert task.max_source_length > 0 and task.max_target_length > 0


@pytest.mark.parametrize("name", sorted(PAPER_TASKS))
def test_hub_entry_is_well_formed(name: str) -> None:
    task = get_task(name)
    assert task.hub is not None
    assert "/" in task.hub.dataset or task.hub.dataset in {"mlsum", "mlqa", "miam"}
    assert "validation" in task.hub.splits


def test_paper_lengths() -> None:
    lengths = {n: (get_task(n).max_source_length, get_task(n).max_target_length) for n in PAPER}
    assert lengths["mlsum-es"] == (512, 48) and lengths["wikilingua-es"] == (512, 96)
    assert lengths["xlsum-es"] == (512, 128) and lengths["eurlex-sum-es"] == (16384, 128)
    assert (
        lengths["sqac"] == (480, 32)
        and lengths["mlqa-es"] == (384, 30)
        and lengths["bisect-es"] == (128, 128)
    )
    assert get_task("eurlex-sum-es").model_hint == "led"


@pytest.mark.shared_data
@pytest.mark.parametrize("name", sorted(LOCAL_TASKS))
def test_local_entry_reads_the_shared_data(name: str, shared_data: Path) -> None:
    examples = load_examples(get_task(name), shared_data, "validation", limit=5)
    assert len(examples) == 5
    assert all(e.source.strip() and e.target.strip() and e.references for e in examples)


@pytest.mark.shared_data
def test_single_file_tasks_split_without_overlap(shared_data: Path) -> None:
    task = get_task("caldracor-dialogue")
    validation = {e.id for e in load_examples(task, shared_data, "validation", limit=300)}
    train = {e.id for e in load_examples(task, shared_data, "train", limit=3000)}
    assert validation and train and not validation & train


def test_unknown_task_and_bad_yaml(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="Registered tasks"):
        get_task("mlsum")
    with pytest.raises(ConfigError, match="Did you mean 'tatoeba-es-en'"):  # issue 39
        get_task("tatoeba-es-enn")
    bad = tmp_path / "t.yaml"
    bad.write_text("name: x\nkind: qa\nsource_template: '{q}'\ntarget_field: a\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="exactly one of `local` or `hub`"):
        get_task(str(bad))


def test_missing_local_file_names_data_dir(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="as data_dir=FOLDER"):  # a key: there is no --data-dir flag
        load_examples(get_task("squad-es-qa"), tmp_path, "train")


def test_unreachable_hub_says_how_to_work_offline(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    with pytest.raises(DataError) as info:
        load_examples(get_task("xlsum-es"), tmp_path, "validation", limit=2)
    message = str(info.value)
    assert (
        "csebuetnlp/xlsum" in message and str(tmp_path / "xlsum-es" / "validation.jsonl") in message
    )


def test_hub_task_reads_an_offline_export(tmp_path: Path) -> None:
    export = tmp_path / "wmt13-es-en" / "validation.jsonl"
    export.parent.mkdir()
    export.write_text('{"translation": {"es": "Hola.", "en": "Hello."}}\n', encoding="utf-8")
    [example] = load_examples(get_task("wmt13-es-en"), tmp_path, "validation")
    assert (example.source, example.target) == ("Hola.", "Hello.")
