"""FSDP for real: ``engine.distributed=fsdp`` with 2 gloo processes on CPU (torch FSDP2).

The defaults users run (the presets' dropout 0.1): the loss curve equals DDP's on the same
data within float tolerance (both draw the same dropout masks: one stream per process,
seeded alike), checkpoints are per-process safetensors shards written by DCP (nothing
pickled), a SIGKILL mid-run resumes bit-exactly, and ``model/`` is a plain folder that
``from_pretrained`` loads.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors import safe_open
from safetensors.torch import load_file
from training_helpers import losses, run_cli

from seq2seq_es.training.checkpoint import list_checkpoints

LAUNCH = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2"]
FSDP = "engine.distributed=fsdp"
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false"}
KILL_AT = Path(__file__).with_name("kill_at.py")


def _settings(preset: str, tiny_pretrain: list[str], request: pytest.FixtureRequest) -> list[str]:
    settings = [*tiny_pretrain, f"model={preset}", "optim.steps=8", "engine.checkpoint_every=4"]
    if preset.startswith("t5s"):  # span corruption needs a vocabulary with sentinels
        settings.append(f"tokenizer={request.getfixturevalue('tiny_unigram_tokenizer')}")
    return settings


def _weights(folder: Path) -> dict[str, torch.Tensor]:
    return load_file(str(folder / "model" / "model.safetensors"))


def _killed_before_the_last_checkpoint(args: list[str]) -> None:
    """A 2-process run whose main process SIGKILLs itself as it starts writing the step-8
    checkpoint (``kill_at.py`` as torchrun's script): steps 5-8 ran, only step 4's checkpoint
    is complete; torchrun then ends the other process."""
    done = subprocess.run(
        [*LAUNCH, str(KILL_AT), r"\.step-00000008\.tmp$", "1", "--", *args],
        capture_output=True,
        text=True,
        env=ENV,
        timeout=600,
    )
    assert done.returncode != 0 and "SIGKILL" in done.stderr, done.stderr[-2000:]


@pytest.mark.parametrize("preset", ["barto-tiny", "t5s-tiny"])  # BART noise, span corruption
def test_fsdp_matches_ddp_resumes_bit_exact_and_saves_a_plain_model(
    preset: str, tiny_pretrain: list[str], tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    settings = _settings(preset, tiny_pretrain, request)
    ddp, fsdp, killed = tmp_path / "ddp", tmp_path / "fsdp", tmp_path / "killed"
    run_cli(["pretrain", f"output_dir={ddp}", *settings], launcher=LAUNCH)
    run_cli(["pretrain", f"output_dir={fsdp}", *settings, FSDP], launcher=LAUNCH)

    # the same optimisation as DDP, dropout included
    expected, found = losses(ddp), losses(fsdp)
    assert [s for s, _ in found] == [s for s, _ in expected] == list(range(1, 9))
    assert [b for _, b in found] == pytest.approx([a for _, a in expected], rel=1e-4, abs=1e-5)
    for name, tensor in _weights(ddp).items():
        torch.testing.assert_close(_weights(fsdp)[name], tensor, rtol=1e-3, atol=1e-5)

    # sharded checkpoints: one safetensors file of shards per process, no model.safetensors
    checkpoint = list_checkpoints(fsdp / "checkpoints")[-1]
    shards = sorted(p.name for p in (checkpoint / "shards").iterdir())
    assert shards == [
        "shard-00001-model-00001-of-00001.safetensors",
        "shard-00002-model-00001-of-00001.safetensors",
    ]
    assert not (checkpoint / "model.safetensors").exists()
    for shard in shards:
        with safe_open(str(checkpoint / "shards" / shard), framework="pt") as handle:
            assert any(key.startswith("model.") for key in handle.keys())  # noqa: SIM118
            assert any(key.startswith("optimizer.") for key in handle.keys())  # noqa: SIM118
    assert all(p.suffix in (".json", ".safetensors") for p in checkpoint.rglob("*") if p.is_file())

    # SIGKILL after the step-4 checkpoint, resume: the same losses and weights, bit for bit
    args = ["pretrain", f"output_dir={killed}", *settings, FSDP]
    _killed_before_the_last_checkpoint(args)
    assert [p.name for p in list_checkpoints(killed / "checkpoints")] == ["step-00000004"]
    assert len(losses(killed)) == 8  # steps 5-8 were logged before the kill, then redone
    run_cli([*args, "--resume"], launcher=LAUNCH)
    assert losses(killed) == losses(fsdp)
    resumed, straight = _weights(killed), _weights(fsdp)
    assert resumed.keys() == straight.keys()
    assert all(bool((resumed[name] == straight[name]).all()) for name in straight)
    assert (
        json.loads((killed / "summary.json").read_text())["validation_loss"]
        == json.loads((fsdp / "summary.json").read_text())["validation_loss"]
    )

    # model/ is a plain save_pretrained folder
    from transformers import AutoModelForSeq2SeqLM

    model = AutoModelForSeq2SeqLM.from_pretrained(fsdp / "model")
    for name, tensor in model.state_dict().items():
        if name in straight:
            assert bool((tensor == straight[name]).all()), name


def test_fsdp_finetune_selects_like_ddp(finetune_settings: list[str], tmp_path: Path) -> None:
    """Fine-tuning's selection decodes with the main process's gathered copy and saves
    ``best_model/`` from it: the same evaluations, best step and final model as DDP (dropout
    0.1, early stopping), within float tolerance."""
    settings = ["finetune", "model=barto-tiny", *finetune_settings]
    run_cli([*settings, f"output_dir={tmp_path / 'ddp'}"], launcher=LAUNCH)
    run_cli([*settings, f"output_dir={tmp_path / 'fsdp'}", FSDP], launcher=LAUNCH)
    ddp, fsdp = (
        json.loads((tmp_path / run / "scores.json").read_text(encoding="utf-8"))
        for run in ("ddp", "fsdp")
    )
    assert fsdp["training"]["steps"] == ddp["training"]["steps"]
    selection, expected = fsdp["training"]["selection"], ddp["training"]["selection"]
    assert selection["best_step"] == expected["best_step"]
    assert selection["best"] == pytest.approx(expected["best"], abs=1e-6)
    assert fsdp["nll"]["nll_per_token"] == pytest.approx(ddp["nll"]["nll_per_token"], rel=1e-4)
    for name, tensor in _weights(tmp_path / "ddp").items():
        torch.testing.assert_close(_weights(tmp_path / "fsdp")[name], tensor, rtol=1e-3, atol=1e-5)


def test_a_sharded_checkpoint_with_dcp_pickles_or_a_truncated_shard_is_refused(
    tmp_path: Path,
) -> None:
    """DCP's default index (``.metadata``, pickled) is never read, and a truncated shard under
    ``shards/`` is caught before anything is written, like a truncated ``model.safetensors``."""
    from safetensors.torch import save_file

    from seq2seq_es.errors import CheckpointError
    from seq2seq_es.training.run_folder import FORMAT, STATE_FILE, check_checkpoint_files

    checkpoint = tmp_path / "step-00000004"
    (checkpoint / "shards").mkdir(parents=True)
    (checkpoint / STATE_FILE).write_text(json.dumps({"format": FORMAT, "step": 4}))
    shard = checkpoint / "shards" / "shard-00001-model-00001-of-00001.safetensors"
    save_file({"model.weight": torch.ones(64)}, str(shard))
    assert check_checkpoint_files(checkpoint)["step"] == 4
    (checkpoint / "shards" / ".metadata").write_bytes(b"\x80\x04N.")  # pickle.dumps(None)
    with pytest.raises(CheckpointError, match=r"holds pickle files \(\.metadata\)"):
        check_checkpoint_files(checkpoint)
    (checkpoint / "shards" / ".metadata").unlink()
    shard.write_bytes(shard.read_bytes()[:-10])
    with pytest.raises(CheckpointError, match="truncated"):
        check_checkpoint_files(checkpoint)
