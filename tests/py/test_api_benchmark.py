"""Smoke test of the inference benchmark (quick=True): it runs end to end and reports what BENCHMARKS.md needs."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("chromaluma.export")


@pytest.mark.slow
def test_inference_benchmark_quick_run(tmp_path: Path):
    from chromaluma.benchmarks import inference

    sections = inference.run(tmp_path, quick=True)
    titles = [section.title for section in sections]
    assert titles[0] == "Inference speed (CPU)" and titles[-1].startswith("Inference memory")
    speed = sections[0].raw["rows"]
    assert {row["kind"] for row in speed} == {"chroma", "luma"}
    for row in speed:
        assert row["raw_ms"] > 0 and row["process_ms"] > 0
        assert row["ratio"] == pytest.approx(row["process_ms"] / row["raw_ms"])
    memory = sections[-1].raw["rows"]
    assert all("error" not in row and row["growth_mib"] >= 0 for row in memory), memory
    assert "| chroma |" in sections[0].table
    savings = {row["variant"]: row for row in sections[1].raw["rows"]}
    assert sections[1].title.startswith("Pixel path")
    assert savings["default (everything on)"]["ratio"] == 1.0 and len(savings) == 6
    assert savings["everything off (plain copies)"]["pixel_path"] == "copied"  # the switches really switch
