"""`make demo` in quick mode: the picture exists and the restoration is closer to the truth than the density-graded
faded shot it restores."""

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
    assert len(list((tmp_path / "demo" / "shot" / "graded").glob("graded.*.png"))) == 3


def test_demo_grade_is_fitted_without_the_truth(tmp_path: Path) -> None:
    """The density grade only moves lightness towards the truth's: measured, it must lower the luma error."""
    import numpy as np

    from chromaluma.io import read_frame

    demo = _demo_module()
    run = demo.make_demo_shot(tmp_path / "demo", quick=True)
    weights = np.array([0.2126, 0.7152, 0.0722], np.float32)
    errors = {}
    for name, folder in (("faded", run.faded_dir), ("graded", run.graded_dir)):
        frame = read_frame(folder / f"{name}.{run.frame_ids[-1]}.png")[0][..., :3]
        truth = read_frame(run.truth_dir / f"truth.{run.frame_ids[-1]}.png")[0][..., :3]
        errors[name] = float(np.abs((frame - truth) @ weights).mean())
    assert errors["graded"] < 0.6 * errors["faded"]


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
    assert figures["density graded"]["delta_e2000_mean"] < figures["faded"]["delta_e2000_mean"]
    for name in renders:
        if name == "density graded":
            continue
        assert figures[name]["delta_e2000_mean"] < figures["density graded"]["delta_e2000_mean"], name
    assert all(value["agree"] for value in figures.values() if "agree" in value)
    assert status == 0


def test_the_demo_model_script_builds_the_bundled_models_architecture() -> None:
    """scripts/make_demo_model.py reproduces the shipped model: the network it trains has the bundled card's
    architecture and parameter count, whatever the training default has become since."""
    from chromaluma.models import architecture_of, build_model

    spec = importlib.util.spec_from_file_location("chromaluma_make_demo_model", ROOT / "scripts" / "make_demo_model.py")
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    card = json.loads((ROOT / "models" / "chromaluma-demo-chroma.json").read_text())["model"]
    model = build_model("chroma", card["processing_scale"], script.DEMO_ARCHITECTURE)
    built = architecture_of(model)
    assert {key: built[key] for key in card["architecture"]} == card["architecture"]
    assert sum(p.numel() for p in model.parameters()) == card["parameters"]
