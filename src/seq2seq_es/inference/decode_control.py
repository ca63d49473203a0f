"""What a caller may do to a decoding in progress: stop it between steps, or see its tokens.

Why: a server decodes for clients that may leave, time out or be shut down; finishing a
51 s beam search whose client is gone wastes the only worker. Engines check
``should_stop`` between decoding steps (transformers: a ``StoppingCriteria``; CTranslate2:
the step callback, which exists for greedy and sampled decoding only) and give
``on_token`` each new token id of a one-text decoding (token streaming). Plain data, no
torch: the server and the batcher build it, the engines read it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


def _never() -> bool:
    return False


@dataclass(frozen=True)
class DecodeControl:
    """``should_stop()`` is polled between steps; ``on_token(id)`` is called per new token."""

    should_stop: Callable[[], bool] = _never
    on_token: Callable[[int], None] | None = None


NO_CONTROL = DecodeControl()
