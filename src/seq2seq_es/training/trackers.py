"""Where training numbers go besides metrics.jsonl: TensorBoard, and trackio when asked for.

One small object so the loop logs a record once, whatever the sinks are. Both sinks are
local files (TensorBoard event files under ``output_dir/tensorboard``; trackio's local
database), so nothing needs a network.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel

from seq2seq_es.errors import ConfigError


class Trackers:
    def __init__(
        self,
        output_dir: Path,
        resume_step: int,
        tensorboard: bool,
        trackio: bool,
        run_config: BaseModel | None = None,
    ) -> None:
        self.board: Any = None
        self.trackio: Any = None
        if tensorboard:
            from torch.utils.tensorboard import SummaryWriter

            self.board = SummaryWriter(
                str(output_dir / "tensorboard"), purge_step=resume_step + 1 if resume_step else None
            )
        if trackio:
            try:
                import trackio as trackio_module
            except ImportError:
                raise ConfigError(
                    "engine.trackio=true needs the trackio package: pip install trackio "
                    "(or set engine.trackio=false)."
                ) from None
            trackio_module.init(
                project="seq2seq-es",
                name=output_dir.name,
                resume="allow",
                config=run_config.model_dump(mode="json") if run_config else None,
            )
            self.trackio = trackio_module

    def log(self, record: dict[str, Any], step: int) -> None:
        numbers = {k: v for k, v in record.items() if k != "step" and isinstance(v, int | float)}
        if self.board is not None:
            for key, value in numbers.items():
                self.board.add_scalar(f"train/{key}", value, step)
        if self.trackio is not None:
            self.trackio.log(numbers, step=step)

    def close(self) -> None:
        if self.board is not None:
            self.board.close()
        if self.trackio is not None:
            self.trackio.finish()
