"""Smoke test of the plug-in benchmark (`make bench` area `plugin`): quick=True runs all three paths once.

Speed goals are reported by the benchmark, never asserted here (the machine running tests is shared).
"""

from __future__ import annotations

import math
from pathlib import Path

from chromaluma.benchmarks import plugin
from test_plugin import plugin_build


def test_quick_benchmark_times_all_three_paths(tmp_path: Path) -> None:
    plugin_build()  # skips (locally) or fails (CI) with a clear message when the bundle is not built
    sections = plugin.run(tmp_path, quick=True)
    assert len(sections) == 1
    raw = sections[0].raw
    for key in ("plugin_ms", "process_ms", "raw_ort_ms"):
        value = raw[key]
        assert isinstance(value, float) and math.isfinite(value) and value > 0.0, (key, value)
    assert raw["frame"] == [384, 256]
    table = sections[0].table
    for label in ("plug-in through ofx-render", "chromaluma.api.process", "raw ONNX Runtime"):
        assert label in table
