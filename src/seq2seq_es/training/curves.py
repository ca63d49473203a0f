"""Loss curves of training runs, read from their ``metrics.jsonl``, as one PNG.

Why here: every run of the training loop writes the same ``metrics.jsonl``; this turns
one or more of them into a picture a reader takes in at a glance (the demo shows its
pretraining and fine-tuning side by side). matplotlib is imported inside (Agg backend).
"""

from __future__ import annotations

import json
from pathlib import Path

from seq2seq_es.files import atomic_write


def read_losses(run: Path) -> dict[str, list[tuple[int, float]]]:
    """Training ``loss`` and ``validation_loss`` by step (empty lists when absent)."""
    curves: dict[str, list[tuple[int, float]]] = {"loss": [], "validation_loss": []}
    path = run / "metrics.jsonl"
    if not path.is_file():
        return curves
    for line in path.read_text(encoding="utf-8").splitlines():
        record = json.loads(line) if line.strip() else {}
        for key, points in curves.items():
            if isinstance(record.get(key), int | float):
                points.append((int(record["step"]), float(record[key])))
    return curves


def plot_loss_curves(panels: dict[str, Path], path: Path) -> Path:
    """One panel per run (title → run folder): training loss, validation loss as markers."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(1, len(panels), figsize=(5.5 * len(panels), 3.8), squeeze=False)
    for axis, (title, run) in zip(axes[0], panels.items(), strict=True):
        curves = read_losses(run)
        if curves["loss"]:
            axis.plot(*zip(*curves["loss"], strict=True), linewidth=1.2, label="training")
        if curves["validation_loss"]:
            axis.plot(
                *zip(*curves["validation_loss"], strict=True),
                "o--",
                markersize=4,
                label="validation",
            )
        axis.set_title(title, fontsize=10)
        axis.set_xlabel("optimizer step")
        axis.set_ylabel("cross-entropy (nats per target token)")
        axis.grid(alpha=0.3)
        axis.legend(fontsize=8)
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_write(path, "wb") as handle:
        figure.savefig(handle, format="png", dpi=110)
    plt.close(figure)
    return path
