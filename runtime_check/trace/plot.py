"""PNG curves of a trace (--plot DIR): loss per epoch of each fit() call, and per step of each
custom loop (the eager tape.gradient target, or what a user tf.function returned)."""
from __future__ import annotations

import re
from pathlib import Path


def write(doc: dict, directory: str) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    series = []
    for c in doc["calls"]:
        losses = [v for v in c.get("losses") or [] if v is not None]
        if c["method"] == "fit" and losses:
            series.append((f"fit_{Path(c['file']).stem}_{c['line']}", f"{c['file']}:{c['line']} fit()", "epoch",
                           losses, c.get("val_losses") or []))
    for s in doc["steps"]:
        if s["values"]:
            series.append((f"steps_{Path(s['file'] or 'x').stem}_{s['line']}", f"{s['file']}:{s['line']} {s['label']}",
                           "step", s["values"], []))
    seen: dict[str, int] = {}
    for name, title, unit, values, val in series:
        seen[name] = seen.get(name, 0) + 1
        if seen[name] > 1:
            name = f"{name}_{seen[name]}"
        fig, ax = plt.subplots(figsize=(5.5, 3.5))
        ax.plot(range(1, len(values) + 1), values, marker="o" if len(values) < 60 else None, markersize=3,
                label="loss")
        if val:
            ax.plot(range(1, len(val) + 1), val, marker="x", markersize=3, label="val_loss")
        ax.set_title(title, fontsize=8)
        ax.set_xlabel(unit)
        ax.set_ylabel("loss")
        if all(v > 0 for v in values):
            ax.set_yscale("log")
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=7)
        fig.tight_layout()
        path = out / (re.sub(r"[^A-Za-z0-9_.-]", "_", name) + ".png")
        fig.savefig(path, dpi=90)
        plt.close(fig)
        written.append(path)
    return written
