"""`make demo` in quick mode: the picture exists and the restoration is closer to the truth than the faded shot."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _demo_module():
    spec = importlib.util.spec_from_file_location("chromaluma_demo_script", ROOT / "scripts" / "demo.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up here
    spec.loader.exec_module(module)
    return module


def test_demo_without_a_model_says_how_to_make_one(tmp_path: Path, caplog) -> None:
    demo = _demo_module()
    status = demo.main(["--out", str(tmp_path / "demo"), "--quick", "--model", str(tmp_path / "missing.onnx")])
    assert status == 1
    record = json.loads((tmp_path / "demo" / "delta_e.json").read_text())
    assert "missing.onnx" in record["skipped"]["restoration"]
    assert "make_demo_model.py" in caplog.text
    assert len(list((tmp_path / "demo" / "shot" / "faded").glob("faded.*.png"))) == 3


@pytest.mark.slow
def test_quick_demo_restores_the_faded_shot(tmp_path: Path) -> None:
    demo = _demo_module()
    if not demo.DEFAULT_MODEL.is_file():
        pytest.fail(f"the bundled model {demo.DEFAULT_MODEL} is missing; run scripts/make_demo_model.py")
    out = tmp_path / "demo"
    status = demo.main(["--out", str(out), "--quick"])
    picture = out / "before_after.png"
    assert picture.is_file() and picture.stat().st_size > 10_000
    figures = json.loads((out / "delta_e.json").read_text())["figures"]
    renders = [name for name in figures if name != "faded" and "delta_e2000_mean" in figures[name]]
    assert renders, "no render was measured"
    for name in renders:
        assert figures[name]["delta_e2000_mean"] < figures["faded"]["delta_e2000_mean"], name
    assert all(value["agree"] for value in figures.values() if "agree" in value)
    assert status == 0
