"""Which attention kernel a model runs: ``engine.attn_implementation``, set on the model.

Why explicit: transformers 5 picks torch's ``scaled_dot_product_attention`` (SDPA) by default
where an architecture has it (BART, T5, BERT and so BERT2BERT, mBART, mT5) and its plain
matmul-softmax ("eager") elsewhere (LED), so a run's record did not say which kernel ran. The
two agree to float rounding, not bit for bit (``tests/models/test_attention.py``); eager is the
readable reference, and what ``output_attentions`` needs. The value reaches every attention
layer through ``config._attn_implementation``, which each layer reads at each forward call
(``ALL_ATTENTION_FUNCTIONS.get_interface`` in ``modeling_bart.py`` / ``modeling_t5.py``; T5
passes its relative position bias to SDPA as an additive mask).
"""

from __future__ import annotations

import logging
from typing import Any

LOG = logging.getLogger(__name__)


def use_attention(model: Any, requested: str) -> str:
    """Make ``model`` (and its sub-models: a BERT2BERT's encoder and decoder) attend with
    ``requested`` (``sdpa`` or ``eager``); return the implementation it runs.

    An architecture transformers gives no SDPA (LED in transformers 5) keeps eager, with a
    warning, rather than failing a run over a speed setting: the returned value, which the run
    records, is what ran.
    """
    try:
        model.set_attn_implementation(requested)
    except ValueError as exc:  # a sub-model without the requested kernel
        LOG.warning("%s: %s", type(model).__name__, str(exc).splitlines()[0])
    actual = str(model.config._attn_implementation)
    if actual != requested:
        LOG.warning(
            "%s has no %s attention in transformers: it runs %s attention.",
            type(model).__name__,
            requested,
            actual,
        )
    return actual
