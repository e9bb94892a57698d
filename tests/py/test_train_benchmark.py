"""The training benchmark runs end to end at smoke size (real numbers come from `make bench`)."""

from __future__ import annotations

from pathlib import Path

import pytest

from chromaluma.benchmarks import training


@pytest.mark.slow
def test_training_benchmark_smoke(tmp_path: Path):
    sections = training.run(tmp_path, quick=True)
    titles = [s.title for s in sections]
    assert titles[0].startswith("Training speed") and "ΔE2000" in titles[1] and "ONNX Runtime" in titles[2]
    assert set(sections[0].raw) == {"chroma", "luma", "pairs", "keyframes", "repair"}
    assert set(sections[2].raw) == {"chroma", "luma", "pairs", "keyframes", "repair"}
    assert all(v["steps_per_s"] > 0 for v in sections[0].raw.values())
    assert sections[1].raw["steps"] >= 1 and sections[1].raw["curve"]
    assert sections[1].raw["scan_delta_e"] > 1.0  # the synthetic fade really faded the shot
    for section in sections:
        assert section.table.startswith("| ") and section.table.count("\n") >= 2


@pytest.mark.slow
def test_distributed_training_speed_has_a_row_for_one_and_two_processes():
    section = training.distributed_speed(quick=True)
    assert set(section.raw) == {"1", "2"}
    for nproc, row in section.raw.items():
        assert row["steps_per_s"] > 0
        assert row["samples_per_s"] == pytest.approx(row["steps_per_s"] * int(nproc) * row["batch_per_process"])
    assert section.table.count("\n") == 3  # header, rule, two rows
