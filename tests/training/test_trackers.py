import importlib.util
from pathlib import Path

import pytest

from seq2seq_es.errors import ConfigError
from seq2seq_es.training.trackers import Trackers


def test_tensorboard_event_file_written(tmp_path: Path) -> None:
    trackers = Trackers(tmp_path, resume_step=0, tensorboard=True, trackio=False)
    trackers.log({"step": 1, "loss": 2.5, "mfu": None, "lr": 1e-3}, step=1)
    trackers.close()
    assert list((tmp_path / "tensorboard").glob("events.out.tfevents.*"))


@pytest.mark.skipif(importlib.util.find_spec("trackio") is not None, reason="trackio is installed")
def test_trackio_requested_but_missing(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="pip install trackio"):
        Trackers(tmp_path, resume_step=0, tensorboard=False, trackio=True)
