"""ONNX export: dynamic sizes, contract metadata, ORT == PyTorch or nothing written, `info`, `--init` round trip."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch

from chromaluma import cli, export
from chromaluma.card import build_card
from chromaluma.contract import graph_sha256, read_model_contract
from chromaluma.models import ContractGraph, build_model
from chromaluma.train.initial import initial_weights

SMALL = {"width": 8, "dilations": [1, 2]}


def _card(kind: str) -> dict:
    training = {"pairs": [{"frame": 7, "scan": "scan/00007.png", "scan_sha256": "ab" * 32,
                           "reference": "reference/00007.png", "reference_sha256": "cd" * 32}],
                "validation_frames": [], "parameters": {"steps": 3}, "device": "cpu", "duration_s": 1.0}
    return build_card(kind, "display", training, {"validation": {}}, opset=export.OPSET,
                      model_details={"architecture": SMALL, "receptive_field": 0, "processing_scale": 1.0})


def _perturbed(kind: str, seed: int = 3):
    torch.manual_seed(seed)
    model = build_model(kind, 1.0 if kind == "luma" else 0.25, SMALL)
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.add_(torch.randn_like(parameter) * 0.1)
    return model.eval()


def _session(path: Path) -> ort.InferenceSession:
    return ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])


@pytest.mark.parametrize("kind", ["chroma", "luma", "pairs"])
def test_exported_model_runs_any_size_and_matches_pytorch(tmp_path: Path, rng: np.random.Generator, kind: str):
    model = _perturbed(kind)
    out = export.export_model(model, tmp_path / "m.onnx", "log", _card(kind))
    contract = read_model_contract(out)
    assert (contract.kind, contract.colorspace, contract.has_confidence) == (kind, "log", True)
    assert contract.receptive_field == model.receptive_field
    assert contract.processing_scale == (1.0 if kind == "luma" else 0.25)
    session = _session(out)
    for height, width in ((1, 1), (5, 3), (33, 70)):
        frame = rng.random((1, height, width, 4), dtype=np.float32) * 1.3
        restored, confidence = session.run(["restored", "confidence"], {"image": frame})
        with torch.no_grad():
            expected, expected_confidence = ContractGraph(model)(torch.from_numpy(frame))
        np.testing.assert_allclose(restored, expected.numpy(), atol=1e-4, rtol=1e-4)
        np.testing.assert_allclose(confidence, expected_confidence.numpy(), atol=1e-4)
        assert np.array_equal(restored[..., 3], frame[..., 3])
    assert (tmp_path / "m.json").is_file()
    # the card records the hash of exactly this graph, and loading checked it
    assert contract.graph_checked and contract.card["graph_sha256"] == graph_sha256(onnx.load(str(out)))


def test_exported_chroma_model_keeps_scan_luma_in_onnx_runtime(tmp_path: Path, rng: np.random.Generator):
    out = export.export_model(_perturbed("chroma"), tmp_path / "c.onnx", "linear", _card("chroma"))
    frame = rng.random((1, 41, 59, 4), dtype=np.float32) * 2.0  # scene-linear, above 1.0
    restored = _session(out).run(["restored"], {"image": frame})[0]
    weights = np.array([0.2126, 0.7152, 0.0722], dtype=np.float32)
    assert np.abs(restored[..., :3] - frame[..., :3]).max() > 1e-2
    np.testing.assert_allclose(restored[..., :3] @ weights, frame[..., :3] @ weights, rtol=1e-5, atol=2e-6)


def test_export_refuses_and_writes_nothing_when_onnx_runtime_disagrees(tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(export, "verify_with_onnxruntime", lambda graph, model_bytes: 0.5)
    with pytest.raises(export.ExportError, match=r"m\.onnx.*differs from PyTorch.*nothing written"):
        export.export_model(_perturbed("chroma"), tmp_path / "m.onnx", "display", _card("chroma"))
    assert list(tmp_path.iterdir()) == []


def test_export_of_a_folder_that_is_no_run_names_it(tmp_path: Path):
    with pytest.raises(export.ExportError, match=str(tmp_path)):
        export.export_run(tmp_path, tmp_path / "m.onnx")
    assert not (tmp_path / "m.onnx").exists()


def test_init_from_an_exported_model_recovers_its_weights(tmp_path: Path):
    model = _perturbed("pairs")
    out = export.export_model(model, tmp_path / "p.onnx", "display", _card("pairs"))
    weights = initial_weights(out, "pairs")
    assert weights.architecture == SMALL and weights.processing_scale == 0.25
    fresh = build_model("pairs", 0.25, weights.architecture)
    fresh.load_state_dict(weights.state_dict)
    for name, tensor in model.state_dict().items():
        assert torch.equal(fresh.state_dict()[name], tensor), name


def test_info_prints_the_card_for_a_human(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    out = export.export_model(_perturbed("luma"), tmp_path / "l.onnx", "display", _card("luma"))
    assert cli.main(["info", str(out)]) == 0
    text = capsys.readouterr().out
    assert "luma model" in text and "scan/00007.png" in text and "reference/00007.png" in text
    assert "abababababab" in text and "receptive field" in text and "opset" in text.lower()


def test_info_on_a_foreign_file_fails_cleanly(tmp_path: Path, caplog: pytest.LogCaptureFixture):
    bogus = tmp_path / "not_a_model.onnx"
    bogus.write_bytes(b"\x00garbage")
    assert cli.main(["info", str(bogus)]) == 2
    assert "not_a_model.onnx" in caplog.text
