"""The launch configs in configs/accelerate/ parse as Accelerate configs of the promised kind."""

from pathlib import Path

import pytest
from accelerate.commands.config.config_args import load_config_from_file

FOLDER = Path(__file__).resolve().parents[2] / "configs" / "accelerate"
EXPECTED = {
    "single-gpu.yaml": ("NO", 1),
    "ddp-8gpu.yaml": ("MULTI_GPU", 8),
    "fsdp2-8gpu.yaml": ("MULTI_GPU", 8),  # launchers for engine.distributed=fsdp
    "deepspeed-zero2-8gpu.yaml": ("DEEPSPEED", 8),
    "fsdp2-multinode.yaml": ("MULTI_GPU", 16),
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_accelerate_config(name: str) -> None:
    config = load_config_from_file(str(FOLDER / name))
    kind, processes = EXPECTED[name]
    assert config.distributed_type.value == kind and config.num_processes == processes
    assert config.mixed_precision == "bf16"
    if name.startswith("fsdp"):  # the engine shards: Accelerate's own FSDP plugin stays off
        assert not config.fsdp_config
