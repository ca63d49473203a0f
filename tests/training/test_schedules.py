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


def test_rsqrt_is_t5x_constant_times_rsqrt_decay() -> None:
    """t5x pretrain.gin: lr = 1 / sqrt(max(step, 10,000)), i.e. peak lr 0.01 held for the
    warm-up (no ramp), then 0.01 × sqrt(10,000 / step)."""
    for step in (0, 1, 5_000, 9_999):
        assert lr_multiplier(step, "rsqrt", 10_000, 100_000) == 1.0
    for step in (10_000, 40_000, 99_999):
        t5x = 1 / math.sqrt(max(step + 1, 10_000))  # t5x counts steps from 1
        assert math.isclose(0.01 * lr_multiplier(step, "rsqrt", 10_000, 100_000), t5x)
