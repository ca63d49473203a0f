"""``model.generate`` arguments that carry a ``DecodeControl``: a stopping criterion and a
streamer.

Why in a module of its own: both subclass transformers types, so they need transformers
at import; ``engines`` imports this only when it decodes.
"""

from __future__ import annotations

from typing import Any

import torch
from transformers import StoppingCriteria, StoppingCriteriaList
from transformers.generation.streamers import BaseStreamer

from seq2seq_es.inference.decode_control import DecodeControl


class _StopWhen(StoppingCriteria):
    """Stops every sequence at once when ``should_stop()`` (checked after each step)."""

    def __init__(self, control: DecodeControl) -> None:
        self.control = control

    def __call__(self, input_ids: torch.LongTensor, scores: Any, **kwargs: Any) -> torch.BoolTensor:
        stop = self.control.should_stop()
        rows = torch.full((input_ids.shape[0],), stop, dtype=torch.bool, device=input_ids.device)
        return rows  # type: ignore[return-value]


class _TokenStreamer(BaseStreamer):
    """Hands each generated token id to ``on_token``; ``generate`` first puts the decoder's start
    token(s), which are not generated and are skipped."""

    def __init__(self, control: DecodeControl) -> None:
        self.control = control
        self.started = False

    def put(self, value: torch.Tensor) -> None:
        if not self.started:
            self.started = True
            return
        assert self.control.on_token is not None
        for token in value.reshape(-1).tolist():
            self.control.on_token(int(token))

    def end(self) -> None:
        pass


def control_kwargs(control: DecodeControl) -> dict[str, Any]:
    """``stopping_criteria`` (and a ``streamer`` when ``control.on_token``) for
    ``model.generate``."""
    kwargs: dict[str, Any] = {"stopping_criteria": StoppingCriteriaList([_StopWhen(control)])}
    if control.on_token is not None:
        kwargs["streamer"] = _TokenStreamer(control)
    return kwargs
