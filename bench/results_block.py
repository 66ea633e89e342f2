"""The generated blocks of bench/RESULTS.md: each bench script owns the text between its own
start and end markers, and `--write` replaces that block (or appends it the first time)."""
from __future__ import annotations

from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "RESULTS.md"


def write_block(block: str, start: str, end: str, results: Path = RESULTS) -> None:
    """Replace the text from `start` to `end` (markers included) with `block`, which carries both."""
    text = results.read_text()
    if start in text:
        text = text.split(start)[0] + block + text.split(end, 1)[1].lstrip("\n")
    else:
        text = text.rstrip("\n") + "\n\n" + block
    results.write_text(text)
