"""Smoke test of the alignment benchmark (quick size): it runs, aligns correctly and reports its numbers."""

from __future__ import annotations

from pathlib import Path

import pytest

from chromaluma.benchmarks import alignment


@pytest.mark.slow
def test_quick_alignment_benchmark_runs_and_is_correct(tmp_path: Path):
    (section,) = alignment.run(tmp_path, quick=True)
    assert section.raw["frames"] == 8 and section.raw["pairs"] == section.raw["correct"] == 8
    assert section.raw["worst_rms_px"] <= 0.5 and section.raw["s_per_100_frames"] > 0
    assert "s / 100 frames" in section.table and (tmp_path / "align_pairs" / "manifest.json").is_file()
