"""Our port of t5's span-corruption arithmetic, written from its description, for tests.

Two functions of ``t5/data/preprocessors.py`` (google-research/text-to-text-transfer-transformer):

* ``random_spans_helper(inputs_length, noise_density, mean_noise_span_length,
  extra_tokens_per_span_inputs, extra_tokens_per_span_targets)``: for a candidate raw
  length, noise tokens = Python ``round(length * density)``, spans = ``round(noise / mean)``
  (no clamping), inputs = non-noise + spans × extra + 1 (EOS), targets = noise + spans × extra
  + 1. Start from ``inputs_length - 1`` and grow the raw length while the *next* one's inputs
  still fit; take that length's (inputs, targets). Then the "minor hack": if the density is
  exactly 0.5 and those targets are longer than those inputs, one raw token and one target
  token less (the targets are decremented, not recomputed). Returns (raw length, targets).
* ``random_spans_noise_mask``'s counts: length at least 2; noise tokens =
  ``tf.round(float32(length) * density)`` (float32, half to even) clamped to [1, length - 1];
  spans = ``tf.round(float32(noise) / mean)``, at least 1.

Written as plain loops, with numpy float32 standing in for TensorFlow's float32 tensors.
"""

from __future__ import annotations

import numpy as np


def random_spans_helper(
    inputs_length: int,
    noise_density: float,
    mean_noise_span_length: float,
    extra_tokens_per_span_inputs: int = 1,
    extra_tokens_per_span_targets: int = 1,
) -> tuple[int, int]:
    def inputs_and_targets(tokens_length: int) -> tuple[int, int]:
        num_noise_tokens = int(round(tokens_length * noise_density))  # noqa: RUF046 (t5 writes it so)
        num_nonnoise_tokens = tokens_length - num_noise_tokens
        num_noise_spans = int(round(num_noise_tokens / mean_noise_span_length))  # noqa: RUF046
        return (
            num_nonnoise_tokens + num_noise_spans * extra_tokens_per_span_inputs + 1,
            num_noise_tokens + num_noise_spans * extra_tokens_per_span_targets + 1,
        )

    tokens_length = inputs_length - 1
    while inputs_and_targets(tokens_length + 1)[0] <= inputs_length:
        tokens_length += 1
    computed_inputs, targets_length = inputs_and_targets(tokens_length)
    if noise_density == 0.5 and targets_length > computed_inputs:
        tokens_length -= 1
        targets_length -= 1
    return tokens_length, targets_length


def noise_mask_counts(
    length: int, noise_density: float, mean_noise_span_length: float
) -> tuple[int, int]:
    length = max(length, 2)
    num_noise_tokens = int(np.round(np.float32(length) * np.float32(noise_density)))
    num_noise_tokens = min(max(num_noise_tokens, 1), length - 1)
    num_noise_spans = int(
        np.round(np.float32(num_noise_tokens) / np.float32(mean_noise_span_length))
    )
    return num_noise_tokens, max(num_noise_spans, 1)
