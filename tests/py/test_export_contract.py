"""A real model, trained for a few steps from a pairs folder (CONTRACT §5) through the command line, exported, and
checked against docs/CONTRACT.md §2–§4 by the contract reader and by ONNX Runtime."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest

from chromaluma import cli
from chromaluma.contract import CARD_REQUIRED_KEYS, file_sha256, read_model_contract
from chromaluma.io import FrameFormat, write_frame

PNG16 = FrameFormat(".png", "uint16", 16, 3)
MASK8 = FrameFormat(".png", "uint8", 8, 1)


def _pairs_folder(root: Path, frames: int = 4, height: int = 36, width: int = 44) -> Path:
    """A pairs folder as `chromaluma align` writes it: scan/, reference/, mask/ and manifest.json."""
    rng = np.random.default_rng(11)
    for sub in ("scan", "reference", "mask"):
        (root / sub).mkdir(parents=True)
    entries = []
    for index in range(frames):
        frame = 2001 + index
        reference = rng.random((height, width, 3), dtype=np.float32)
        scan = 0.5 * reference + 0.5 * reference.mean(axis=2, keepdims=True)
        mask = np.ones((height, width, 1), dtype=np.float32)
        mask[:, -6:] = 0.0  # a cropped telecine border
        names = {"scan": f"scan/{frame:05d}.png", "reference": f"reference/{frame:05d}.png",
                 "mask": f"mask/{frame:05d}.png"}
        write_frame(root / names["scan"], scan, PNG16)
        write_frame(root / names["reference"], reference, PNG16)
        write_frame(root / names["mask"], mask, MASK8)
        entries.append({**names, "scan_frame": frame, "reference_frame": frame + 40, "reference_fields": None,
                        "shot": 0, "score": 0.9, "transform": [[1, 0, 0], [0, 1, 0], [0, 0, 1]]})
    manifest = {"format_version": 1, "created": "2026-11-21T09:30:00Z", "chromaluma_version": "0.1.0",
                "scan_source": "synthetic", "reference_source": "synthetic", "parameters": {},
                "shots": [{"id": 0, "first_scan_frame": 2001, "last_scan_frame": 2000 + frames}], "pairs": entries}
    (root / "manifest.json").write_text(json.dumps(manifest))
    return root


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("contract")
    pairs = _pairs_folder(root / "pairs")
    out = root / "models" / "reel.onnx"
    status = cli.main(["train", "--pairs", str(pairs), "--run-dir", str(root / "run"), "--out", str(out),
                       "--steps", "4", "--crop", "24", "--batch", "2", "--val-frames", "1", "--colorspace", "log",
                       "--preview-every", "2", "--checkpoint-every", "2",
                       "--density", "keep"])  # keep: output luma = scan luma exactly, checked below
    assert status == 0
    return pairs, out


def test_trained_model_meets_the_contract(trained: tuple[Path, Path]):
    pairs, out = trained
    contract = read_model_contract(out)
    assert (contract.kind, contract.colorspace, contract.format_version) == ("chroma", "log", 1)
    assert contract.processing_scale == 0.25 and contract.has_confidence
    assert contract.receptive_field > 0 and contract.receptive_field % 4 == 0
    assert (contract.frames_before, contract.frames_after) == (0, 0)
    card = contract.card
    assert set(CARD_REQUIRED_KEYS) <= set(card) and card["opset"] == 17
    training = card["training"]
    assert len(training["validation_frames"]) == 1 and training["validation_frames"][0] in range(2001, 2005)
    assert training["parameters"]["steps_done"] == 4 and training["device"] == "cpu"
    assert "delta_e2000_mean" in card["metrics"]["validation"]
    assert card["metrics"]["validation_label"] == "agreement with the reference on held-out frames"
    # the held-out scan is the reference desaturated: the reference's structure is the scan's
    structure = card["metrics"]["reference_structure_agreement"]
    assert structure["frames"] == training["validation_frames"] and structure["value"] > 0.95
    assert contract.graph_checked
    for pair in training["pairs"]:  # every file is documented by name and content hash
        for role in ("scan", "reference", "mask"):
            assert pair[f"{role}_sha256"] == file_sha256(pairs / pair[role])
    assert json.loads(out.with_suffix(".json").read_text()) == card


def test_trained_model_runs_in_onnx_runtime_at_an_unseen_size(trained: tuple[Path, Path]):
    _, out = trained
    session = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    assert [i.name for i in session.get_inputs()] == ["image"]
    assert [o.name for o in session.get_outputs()] == ["restored", "confidence"]
    frame = np.random.default_rng(2).random((1, 53, 29, 4), dtype=np.float32)
    restored, confidence = session.run(None, {"image": frame})
    assert restored.shape == (1, 53, 29, 4) and confidence.shape == (1, 53, 29, 1)
    assert np.array_equal(restored[..., 3], frame[..., 3])
    assert np.isfinite(restored).all() and 0.0 <= confidence.min() and confidence.max() <= 1.0
    weights = np.array([0.2126, 0.7152, 0.0722], dtype=np.float32)
    np.testing.assert_allclose(restored[..., :3] @ weights, frame[..., :3] @ weights, atol=2e-6)


def test_export_command_rewrites_the_model_from_the_run(trained: tuple[Path, Path], tmp_path: Path,
                                                        capsys: pytest.CaptureFixture[str]):
    pairs, out = trained
    again = tmp_path / "again.onnx"
    assert cli.main(["export", str(out.parent.parent / "run"), "--out", str(again)]) == 0
    assert read_model_contract(again).card["training"] == read_model_contract(out).card["training"]
    assert cli.main(["info", str(again)]) == 0
    text = capsys.readouterr().out
    assert "chroma model" in text and "scan/02001.png" in text and "mask/02001.png" in text
    assert "agreement with the reference on held-out frames: ΔE2000" in text and "matches its card" in text


def test_backend_tiles_reproduce_the_whole_frame(trained: tuple[Path, Path]):
    """The inference backend tiles on the model's receptive_field; tiles must equal one whole-frame run."""
    api = pytest.importorskip("chromaluma.api")
    _, out = trained
    rng = np.random.default_rng(5)
    src = rng.random((420, 760, 4), dtype=np.float32)  # the default chroma receptive field needs tiles of ≥ 363
    src[..., 3] = 1.0
    whole = np.zeros_like(src)
    tiled = np.zeros_like(src)
    api.process(src, whole, {"model": str(out), "premultiplied": False, "tile_size": 0})
    api.process(src, tiled, {"model": str(out), "premultiplied": False, "tile_size": 380})
    np.testing.assert_allclose(tiled, whole, atol=1e-4)
