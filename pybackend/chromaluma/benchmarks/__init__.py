"""Benchmarks behind `make bench` / `chromaluma bench`: one module per area, each giving BenchSections.

Each area module (training, inference, plugin, alignment, quality, temporal, keyframes, repair, soak) defines
`run(workdir: Path, quick: bool) -> list[BenchSection]`. `quick=True` is a smoke-sized run for tests; the real
numbers in BENCHMARKS.md come from `quick=False`. Speed goals live here, never in timed tests.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class BenchSection:
    """One titled part of BENCHMARKS.md: a markdown table, notes, plots, and the raw numbers as JSON-able dict."""

    title: str
    table: str
    notes: list[str] = field(default_factory=list)
    plots: list[Path] = field(default_factory=list)
    raw: dict[str, object] = field(default_factory=dict)


def markdown_table(header: list[str], rows: list[list[object]]) -> str:
    """A GitHub markdown table; floats get 3 significant decimals unless already strings."""

    def cell(value: object) -> str:
        return f"{value:.3g}" if isinstance(value, float) else str(value)

    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)
