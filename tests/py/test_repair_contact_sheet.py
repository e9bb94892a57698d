"""scripts/repair_contact_sheet.py: the real-film trial's sheet and checks, on a tiny synthetic scan."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from chromaluma.io import FrameFormat, write_frame
from chromaluma.synth.shots import CameraMove, photo_shot
from model_fixtures import repair_model

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "repair_contact_sheet.py"


@pytest.fixture(scope="module")
def scan_and_model(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("sheet")
    (root / "scan").mkdir()
    for index, frame in enumerate(photo_shot("coffee", 5, 64, 48, CameraMove("pan", 0.1), seed=2)):
        write_frame(root / "scan" / f"reel.{index + 1:04d}.png", frame, FrameFormat(".png", "uint16", 16, 3))
    return root / "scan", repair_model(root / "repair.onnx")


def _run(*arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(SCRIPT), *arguments], capture_output=True, text=True, timeout=120)


def test_the_sheet_has_four_panels_per_frame_and_its_checks(scan_and_model: tuple[Path, Path],
                                                            tmp_path: Path) -> None:
    scan, model = scan_and_model
    result = _run("--model", str(model), "--input", str(scan), "--frames", "1,3", "--out", str(tmp_path / "s.png"))
    assert result.returncode == 0, result.stderr
    sheet = cv2.imread(str(tmp_path / "s.png"))
    assert sheet.shape[1] == 4 * 64 and sheet.shape[0] > 2 * 48
    checks = json.loads((tmp_path / "s.json").read_text())
    assert [entry["frame"] for entry in checks] == [1, 3]
    # the repair never touches a pixel outside its matte, so the grain there is the scan's exactly
    assert all(entry["bit_exact_outside_matte"] and entry["grain_power_ratio_outside_matte"] == 1.0
               for entry in checks)
    assert all(0.0 <= entry["spike_detector_share"] <= 1.0 and entry["repaired_share"] >= 0.0 for entry in checks)
    first_row = sheet[28:28 + 48, :64].astype(np.float32)
    assert first_row.std() > 5  # the scan panel holds the picture, not a blank


def test_a_frame_not_in_the_scan_is_refused_in_one_line(scan_and_model: tuple[Path, Path], tmp_path: Path) -> None:
    scan, model = scan_and_model
    result = _run("--model", str(model), "--input", str(scan), "--frames", "9", "--out", str(tmp_path / "s.png"))
    assert result.returncode == 2 and "--frames: [9] not in" in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "s.png").exists()
