"""Run identity: volatility is declared on the schema fields, and each claimed command's identity
ignores exactly those fields: changing a volatile field reruns or resumes the run in its folder,
changing any other is refused with the key named."""

from __future__ import annotations

import json
import shutil
import types
import typing
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

from seq2seq_es.cli import commands
from seq2seq_es.commands.base import Command
from seq2seq_es.config import volatile_keys
from seq2seq_es.errors import ConfigError
from seq2seq_es.run_record import flatten, run_identity, write_run_record
from seq2seq_es.training.run_folder import CHECKPOINTS, FORMAT, PREFIX, STATE_FILE

CLAIMED = {command.name: command for command in commands() if command.prepare_output}
# A valid config of each claimed command (the schema defaults, plus what has no default).
BASE: dict[str, dict[str, Any]] = {
    "corpus": {"input": "raw.jsonl"},
    "tokenizer": {},
    "pretrain": {"resume": True},
    "finetune": {"resume": True, "task": "tatoeba-en-es"},
    "demo": {},
}
ENGINE = {
    "optim.steps",
    "engine.log_every",
    "engine.checkpoint_every",
    "engine.keep_checkpoints",
    "engine.tensorboard",
    "engine.trackio",
    "engine.measure_mfu",
    "engine.peak_flops",
    "engine.threads",
    "engine.num_workers",
}
# What may change between a run and its resume (or rerun): how long it trains, how often it
# logs or checkpoints, where it reports or runs, the final decoding of a fine-tuning, where its
# folder is, whether this invocation resumes. A change here is a change of the contract.
EXPECTED_VOLATILE = {
    "corpus": {"output_dir", "executor", "workers", "slurm", "ray"},
    "tokenizer": {"output_dir"},
    "pretrain": {"output_dir", "resume", "engine.eval_every", *ENGINE},
    "finetune": {
        "output_dir",
        "resume",
        "max_eval_examples",
        "bootstrap_samples",
        "generation",
        "decode_batch_size",
        "decode_max_tokens",
        *ENGINE,
    },
    "demo": {"output_dir"},
}
# Values a generic change cannot make valid (a registered task, a source entry).
OTHER_VALUES: dict[str, Any] = {
    "task": "squad-es-qa",
    "sources": [{"path": "other.jsonl"}],
    "model": "t5s-tiny",
}
# Keys changed together with one (`sources:` replaces the `input` shorthand, refused beside it).
PAIRED: dict[str, dict[str, Any]] = {"sources": {"input": None}}
# resume: the switch itself (it is not part of the identity, but changing it asks for another
# action); perplexity.sampling: valid only with perplexity.model and median set (tested there).
NOT_ALONE = {"resume", "perplexity.sampling"}


def test_every_claimed_command_is_covered() -> None:
    assert sorted(CLAIMED) == sorted(BASE)


@pytest.mark.parametrize("name", sorted(BASE))
def test_every_volatile_marker_names_a_key_of_the_identity(name: str) -> None:
    schema = CLAIMED[name].schema
    keys = flatten(schema.model_validate(BASE[name]).model_dump(mode="json"))
    for marked in volatile_keys(schema):
        assert any(k == marked or k.startswith(marked + ".") for k in keys), marked
    assert set(volatile_keys(schema)) == EXPECTED_VOLATILE[name]


def annotation_at(schema: type[BaseModel], key: str) -> Any:
    model: Any = schema
    annotation: Any = None
    for part in key.split("."):
        annotation = model.model_fields[part].annotation
        model = annotation
    return annotation


def candidates(schema: type[BaseModel], key: str, value: Any) -> list[Any]:
    """Other values to try for ``key`` (the first that validates and changes the config wins)."""
    if key.rsplit(".", 1)[-1] in OTHER_VALUES:
        return [OTHER_VALUES[key.rsplit(".", 1)[-1]]]
    annotation = annotation_at(schema, key)
    arguments = typing.get_args(annotation)
    literals = [
        choice
        for arg in (annotation, *arguments)
        if typing.get_origin(arg) is typing.Literal
        for choice in typing.get_args(arg)
    ]
    if isinstance(value, bool):
        return [not value]
    if isinstance(value, int | float):
        return [value + 1, value * 2, value / 2, 0.5, value - 1, *literals]
    if isinstance(value, str):
        return [*literals, value + "x", "1", "auto"]
    if isinstance(value, list):
        shorter = [value[:-1]] if len(value) > 1 else []
        halved = [[value[0] / 2, *value[1:]]] if value and isinstance(value[0], float) else []
        return [*shorter, *halved, ["x"], [1]]
    if isinstance(value, dict):
        return [{"x": "1"}]
    if isinstance(annotation, types.UnionType) or arguments:
        return [*literals, 1, 64, 0.5, "x", True, ["x"]]
    return [1, "x"]


def changed(schema: type[BaseModel], data: dict[str, Any], key: str) -> BaseModel:
    parts = key.split(".")
    base = schema.model_validate(data).model_dump(mode="json")
    for value in candidates(schema, key, flatten(base)[key]):
        new = json.loads(json.dumps(base))
        node = new
        for part in parts[:-1]:
            node = node[part]
        node[parts[-1]] = value
        new.update(PAIRED.get(key, {}))
        try:
            config = schema.model_validate(new)
        except ValueError:
            continue
        if flatten(config.model_dump(mode="json")).get(key) != flatten(base)[key]:
            return config
    raise AssertionError(f"{key}: no other valid value found; add one to OTHER_VALUES")


def claimed_folder(command: Command, config: BaseModel, folder: Path) -> None:
    """A folder holding ``config``'s run: its record and, for training, a checkpoint."""
    starting = (
        config.model_copy(update={"resume": False})
        if "resume" in type(config).model_fields
        else config
    )
    claim = command.prepare_output(starting)  # type: ignore[misc]
    write_run_record(folder, config, command.name, {"inputs": claim.inputs})
    if getattr(config, "resume", False):
        checkpoint = folder / CHECKPOINTS / f"{PREFIX}00000002"
        checkpoint.mkdir(parents=True)
        state = {"step": 2, "format": FORMAT, "run_identity": claim.identity}
        (checkpoint / STATE_FILE).write_text(json.dumps(state), encoding="utf-8")


@pytest.mark.parametrize("name", sorted(BASE))
def test_identity_ignores_exactly_the_volatile_fields(
    name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # relative default paths (runs/...) point nowhere
    command = CLAIMED[name]
    schema = command.schema
    folder = tmp_path / "run"
    data = {**BASE[name], "output_dir": str(folder)}
    base = schema.model_validate(data)
    claimed_folder(command, base, folder)
    volatile = volatile_keys(schema)
    refused, kept = [], []
    for key in flatten(base.model_dump(mode="json")):
        if key in NOT_ALONE:
            continue
        config = changed(schema, data, key)
        if key == "output_dir":  # the same run, moved: still the same run
            shutil.copytree(folder, config.output_dir)  # type: ignore[attr-defined]
        is_volatile = any(key == v or key.startswith(v + ".") for v in volatile)
        try:
            claim = command.prepare_output(config)  # type: ignore[misc]
        except ConfigError as exc:
            assert not is_volatile, f"{key} is volatile, yet the claim refused: {exc}"
            assert f"{key}: " in str(exc), f"the refusal names {key}: {exc}"
            refused.append(key)
            continue
        assert is_volatile, f"changing {key} (not volatile) was accepted as the same run"
        assert claim.state in ("rerun", "resume"), (key, claim.state)
        assert claim.identity == run_identity(base, claim.inputs), "the identity ignores it"
        kept.append(key)
    assert refused and kept, (refused, kept)
