"""PNG loss curves of the training patterns (matplotlib, Agg backend; imported only for --plot)."""
from __future__ import annotations

from pathlib import Path
from typing import Any


def available() -> bool:
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return False
    return True


def write(patterns: list[dict[str, Any]], directory: str | Path, title: str) -> list[Path]:
    """One PNG per pattern plus `patterns.png` with all curves; returns the written paths."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    usable = [p for p in patterns if p.get("losses")]
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for p in usable:
        epochs = range(1, len(p["losses"]) + 1)
        ax.plot(epochs, p["losses"], marker="o", markersize=3, label=f"{p['name']} ({p['epochs_run']} ep)")
    _style(ax, f"Training loss per epoch - {title}")
    fig.tight_layout()
    path = out / "patterns.png"
    fig.savefig(path, dpi=100)
    plt.close(fig)
    written.append(path)
    for p in usable:
        fig, ax = plt.subplots(figsize=(5, 3.5))
        ax.plot(range(1, len(p["losses"]) + 1), p["losses"], marker="o", markersize=3, label="training loss")
        if p.get("reduce_mean_twin_losses"):
            ax.plot(range(1, len(p["reduce_mean_twin_losses"]) + 1), p["reduce_mean_twin_losses"], marker="x",
                    markersize=3, label="same loop with tf.reduce_mean")
        _style(ax, f"{p['name']}: {p['epochs_run']} epoch(s)")
        fig.tight_layout()
        path = out / f"{p['name']}.png"
        fig.savefig(path, dpi=100)
        plt.close(fig)
        written.append(path)
    return written


def _style(ax, title: str) -> None:
    ax.set_title(title, fontsize=9)
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss (MSE)")
    ax.set_yscale("log")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=7)
