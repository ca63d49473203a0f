import math

import pytest

from seq2seq_es.training.schedules import lr_multiplier


@pytest.mark.parametrize("schedule", ["linear", "cosine", "inverse_sqrt", "constant"])
def test_warmup_is_linear_to_peak(schedule: str) -> None:
    values = [lr_multiplier(s, schedule, warmup_steps=10, total_steps=100) for s in range(10)]
    assert values == pytest.approx([(s + 1) / 10 for s in range(10)])


def test_decay_shapes() -> None:
    assert lr_multiplier(10, "linear", 10, 110) == pytest.approx(1.0)
    assert lr_multiplier(60, "linear", 10, 110) == pytest.approx(0.5)
    assert lr_multiplier(110, "linear", 10, 110) == pytest.approx(0.0)
    assert lr_multiplier(60, "cosine", 10, 110) == pytest.approx(0.5)
    assert lr_multiplier(110, "cosine", 10, 110, min_ratio=0.1) == pytest.approx(0.1)
    assert lr_multiplier(39, "inverse_sqrt", 10, 1000) == pytest.approx(math.sqrt(10 / 40))
    assert lr_multiplier(500, "constant", 10, 100) == 1.0
