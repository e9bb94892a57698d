"""`chromaluma apply` with a damage-repair model (docs/CONTRACT.md §1.8): --sensitivity, --matte DIR, the render
log and --resume, and `chromaluma info` on a repair model."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from chromaluma import contract
from chromaluma.cli import main
from chromaluma.io import FrameFormat, read_frame, write_frame
from model_fixtures import REPAIR_COLOUR, pointwise_model, repair_onnx

FRAMES = (1001, 1002, 1003)
LOG = "chromaluma-render.json"
SCAN_FORMAT = FrameFormat(".png", "uint16", 16, 3)


@pytest.fixture(scope="module")
def shot(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A 16-bit scan whose damage (red > 0.95) lies at known pixels, a repair model and a model without a matte."""
    root = tmp_path_factory.mktemp("apply_repair")
    scan = root / "scan"
    scan.mkdir()
    rng = np.random.default_rng(11)
    for frame in FRAMES:
        pixels = rng.random((20, 26, 3), dtype=np.float32)
        pixels[..., 0] *= 0.8
        damage = rng.random((20, 26)) < 0.2
        pixels[..., 0][damage] = 0.97
        write_frame(scan / f"shot.{frame}.png", pixels, SCAN_FORMAT)
    return {"scan": scan, "repair": repair_onnx(root / "repair.onnx"),
            "pointwise": pointwise_model(root / "pointwise.onnx")}


def _apply(shot: dict[str, Path], out: Path, *extra: str, model: str = "repair") -> int:
    return main(["apply", "--model", str(shot[model]), "--input", str(shot["scan"]), "--output", str(out),
                 "--no-progress", *extra])


def _damage(scan: np.ndarray) -> np.ndarray:
    return scan[..., 0] > 0.9


def test_apply_repairs_only_inside_the_matte_and_writes_the_matte(tmp_path, shot):
    out, mattes = tmp_path / "restored", tmp_path / "mattes"
    assert _apply(shot, out, "--matte", str(mattes), "--sensitivity", "0.7") == 0
    log = json.loads((out / LOG).read_text())
    assert log["parameters"]["sensitivity"] == 0.7 and log["output"]["matte_folder"] == str(mattes.resolve())
    for frame in FRAMES:
        scan, _ = read_frame(shot["scan"] / f"shot.{frame}.png")
        restored, restored_format = read_frame(out / f"shot.{frame}.png")
        matte, matte_format = read_frame(mattes / f"shot.{frame}.tif")
        damage = _damage(scan)
        assert (matte_format.sample_type, matte_format.bits, matte.shape[2]) == ("uint16", 16, 1)
        np.testing.assert_array_equal(matte[..., 0], damage.astype(np.float32))
        assert restored_format == SCAN_FORMAT
        np.testing.assert_array_equal(restored[~damage], scan[~damage])  # the same 16-bit samples
        np.testing.assert_allclose(restored[damage], np.broadcast_to(REPAIR_COLOUR, (int(damage.sum()), 3)),
                                   atol=1 / 65535)
        entry = next(item for item in log["frames"] if item["frame"] == frame)
        assert entry["matte"] == f"shot.{frame}.tif"
        assert entry["matte_sha256"] == contract.file_sha256(mattes / f"shot.{frame}.tif")


def test_sensitivity_0_writes_the_scan_unchanged(tmp_path, shot):
    out = tmp_path / "restored"
    assert _apply(shot, out, "--sensitivity", "0") == 0
    for frame in FRAMES:
        np.testing.assert_array_equal(read_frame(out / f"shot.{frame}.png")[0],
                                      read_frame(shot["scan"] / f"shot.{frame}.png")[0])


def test_matte_for_a_model_without_one_is_refused_before_anything_is_written(tmp_path, shot, caplog):
    out, mattes = tmp_path / "restored", tmp_path / "mattes"
    assert _apply(shot, out, "--matte", str(mattes), model="pointwise") == 2
    message = caplog.records[-1].getMessage()
    assert "--matte" in message and "has no damage matte" in message and "\n" not in message
    assert not out.exists() and not mattes.exists()


@pytest.mark.parametrize("where", ["output", "input", "confidence"])
def test_matte_into_the_output_input_or_confidence_folder_is_refused(tmp_path, shot, caplog, where):
    out = tmp_path / "restored"
    folder = {"output": out, "input": shot["scan"], "confidence": tmp_path / "confidence"}[where]
    before = sorted(p.name for p in shot["scan"].iterdir())
    assert _apply(shot, out, "--matte", str(folder), "--confidence", str(tmp_path / "confidence")) == 2
    assert "--matte" in caplog.records[-1].getMessage()
    assert not out.exists() and not (tmp_path / "confidence").exists()
    assert sorted(p.name for p in shot["scan"].iterdir()) == before


@pytest.mark.parametrize("value", ["1.5", "-0.1", "nan"])
def test_sensitivity_outside_0_to_1_is_refused(tmp_path, shot, caplog, value):
    out = tmp_path / "restored"
    assert _apply(shot, out, "--sensitivity", value) == 2
    assert "--sensitivity" in caplog.records[-1].getMessage()
    assert not out.exists()


def test_resume_with_another_sensitivity_refuses_and_with_the_same_renders_what_is_missing(tmp_path, shot, caplog):
    out, mattes = tmp_path / "restored", tmp_path / "mattes"
    assert _apply(shot, out, "--matte", str(mattes)) == 0
    first = {p.name: p.read_bytes() for p in [*out.iterdir(), *mattes.iterdir()] if p.name != LOG}
    assert _apply(shot, out, "--matte", str(mattes), "--sensitivity", "0.8", "--resume") == 2
    assert "--sensitivity (0.5 in the log, 0.8 now)" in caplog.records[-1].getMessage()
    (mattes / "shot.1002.tif").unlink()
    kept = (out / "shot.1001.png").stat().st_mtime_ns
    assert _apply(shot, out, "--matte", str(mattes), "--resume") == 0
    again = {p.name: p.read_bytes() for p in [*out.iterdir(), *mattes.iterdir()] if p.name != LOG}
    assert again == first
    assert (out / "shot.1001.png").stat().st_mtime_ns == kept
    assert _apply(shot, out, "--resume") == 2  # the matte folder is part of the render
    assert "--matte" in caplog.records[-1].getMessage()


def test_resume_of_a_model_without_a_matte_ignores_the_sensitivity(tmp_path, shot):
    out = tmp_path / "restored"
    assert _apply(shot, out, model="pointwise") == 0
    assert _apply(shot, out, "--sensitivity", "0.9", "--resume", model="pointwise") == 0


def test_info_mentions_the_matte_output(shot, capsys):
    assert main(["info", str(shot["repair"])]) == 0
    assert "damage matte output 'matte'" in capsys.readouterr().out
    assert main(["info", str(shot["pointwise"])]) == 0
    assert "matte" not in capsys.readouterr().out
