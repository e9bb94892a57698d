"""A model file is used only when it really is the model its card describes, and the card's validation numbers
are named for what they measure (agreement with the reference, never with the truth).

Faults covered here: empty, truncated and foreign files; a foreign graph carrying a copied card; a model replaced
on disk while the effect is live; an unexpected failure inside the backend; running out of memory mid-render.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import onnx
import pytest
from onnx import numpy_helper

from chromaluma import api, cli, contract
from chromaluma.backend import pixels, session
from chromaluma.backend.session import InferenceError
from chromaluma.card import VALIDATION_LABEL, describe_card, summary_line
from chromaluma.errors import ChromalumaError, ModelFormatError
from chromaluma.io import FrameFormat, write_frame
from chromaluma.reference_structure import held_out_agreement, structure_agreement
from model_fixtures import GAIN, model_card, pointwise_expected, pointwise_graph, pointwise_model

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "models" / "chromaluma-demo-chroma.onnx"
PNG16 = FrameFormat(".png", "uint16", 16, 3)


@pytest.fixture(autouse=True)
def fresh_cache():
    session.clear_cache()
    yield
    session.clear_cache()


def _with_gain(gain: float) -> onnx.ModelProto:
    """The pointwise graph with another colour gain: same size, same I/O, another model."""
    model = pointwise_graph()
    for node in model.graph.node:
        if node.output[0] == "gain":
            node.attribute[0].t.CopyFrom(numpy_helper.from_array(np.array([gain, gain, gain, 1.0], np.float32),
                                                                 "gain"))
    return model


def _ours(graph: onnx.ModelProto, path: Path, card: dict[str, Any] | None = None) -> Path:
    """`graph` written as export writes a model: metadata whose card records the graph's hash."""
    card = {**(card or model_card("pairs")), contract.CARD_GRAPH_HASH: contract.graph_sha256(graph)}
    fields = contract.ModelContract(kind="pairs", receptive_field=0, processing_scale=1.0, colorspace="display",
                                    card=card)
    del graph.metadata_props[:]
    for key, value in contract.metadata_props(fields).items():
        graph.metadata_props.add(key=key, value=value)
    onnx.save(graph, str(path))
    return path


def _parses(payload: bytes) -> bool:
    try:
        onnx.load_from_string(payload)
    except Exception:  # noqa: BLE001 (any parse failure means no)
        return False
    return True


def _describe(path: Path) -> dict[str, Any]:
    return asdict(api.process(None, None, {"model": str(path)}))


# --- what a model file is -------------------------------------------------------------------------------------


def test_empty_model_file_says_zero_bytes(tmp_path: Path):
    empty = tmp_path / "empty.onnx"
    empty.write_bytes(b"")
    with pytest.raises(ModelFormatError, match=r"empty\.onnx: the model file is empty \(0 bytes\)"):
        api.process(None, None, {"model": str(empty)})


@pytest.mark.parametrize("keep", ["half", "all but one byte", "before the card"])
def test_truncated_model_is_refused_naming_the_file(tmp_path: Path, keep: str):
    whole = _ours(pointwise_graph(), tmp_path / "whole.onnx").read_bytes()
    key = whole.rindex(b"chromaluma.card")
    # where the card's metadata entry begins: a cut there leaves a well-formed file that lacks the card
    card_entry = next(start for start in range(key - 8, key) if whole[start] == 0x72 and _parses(whole[:start]))
    cut = {"half": len(whole) // 2, "all but one byte": len(whole) - 1, "before the card": card_entry}[keep]
    truncated = tmp_path / "truncated.onnx"
    truncated.write_bytes(whole[:cut])
    with pytest.raises(ModelFormatError, match="truncated.onnx: .*(damaged|truncated)"):
        api.process(None, None, {"model": str(truncated)})


def test_image_renamed_onnx_is_named_for_what_it_is(tmp_path: Path):
    renamed = tmp_path / "frame.onnx"
    write_frame(tmp_path / "frame.png", np.zeros((4, 4, 3), np.float32), PNG16)
    (tmp_path / "frame.png").rename(renamed)
    with pytest.raises(ModelFormatError, match="frame.onnx: not an ONNX model: it is a PNG image"):
        api.process(None, None, {"model": str(renamed)})


NEWER_FORMAT = max(contract.SUPPORTED_FORMAT_VERSIONS) + 1


@pytest.mark.parametrize("version,advice", [(NEWER_FORMAT, "newer Chromaluma: upgrade"), (0, "re-export it")])
def test_format_version_we_cannot_read_says_what_to_do(tmp_path: Path, version: int, advice: str):
    path = _ours(pointwise_graph(), tmp_path / "m.onnx")
    model = onnx.load(str(path))
    for prop in model.metadata_props:
        if prop.key == "chromaluma.format_version":
            prop.value = str(version)
    onnx.save(model, str(path))
    with pytest.raises(ModelFormatError, match=f"m.onnx: model format_version {version} .*{advice}"):
        api.process(None, None, {"model": str(path)})


# --- the graph is the one the card describes ------------------------------------------------------------------


def test_foreign_graph_with_a_copied_card_is_refused(tmp_path: Path):
    ours = onnx.load(str(_ours(pointwise_graph(), tmp_path / "ours.onnx")))
    foreign = _with_gain(0.9)
    foreign.metadata_props.extend(ours.metadata_props)  # every chromaluma.* key, hash included, copied over
    path = tmp_path / "foreign.onnx"
    onnx.save(foreign, str(path))
    with pytest.raises(ModelFormatError) as caught:
        api.process(None, None, {"model": str(path)})
    assert str(caught.value) == (f"{path}: its graph does not match the hash in its card: not the model the card "
                                 "describes; re-export it with `chromaluma export`.")


def test_card_edits_keep_the_graph_hash_valid(tmp_path: Path):
    """The hash covers the graph, not the metadata: a card gaining a note (provenance) still loads, checked."""
    path = _ours(pointwise_graph(), tmp_path / "m.onnx")
    model = onnx.load(str(path))
    card = contract.read_model_contract(path).card
    for prop in model.metadata_props:
        if prop.key == "chromaluma.card":
            prop.value = json.dumps({**card, "provenance": {"made_by": "a test"}})
    model.producer_name = "someone else's tool"
    onnx.save(model, str(path))
    assert contract.read_model_contract(path).graph_checked
    src = np.random.default_rng(0).random((3, 5, 3), dtype=np.float32)
    dst = np.zeros_like(src)
    api.process(src, dst, {"model": str(path)})
    np.testing.assert_allclose(dst, pointwise_expected(src), atol=1e-6)


def test_model_without_a_graph_hash_still_loads_as_legacy(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    path = pointwise_model(tmp_path / "legacy.onnx")  # metadata as format 1 wrote it before the hash
    assert contract.CARD_GRAPH_HASH not in contract.read_model_contract(path).card
    assert _describe(path)["kind"] == "pairs"
    assert cli.main(["info", str(path)]) == 0
    assert "no hash in its card" in capsys.readouterr().out


def test_bundled_model_carries_its_graph_hash(capsys: pytest.CaptureFixture[str]):
    read = contract.read_model_contract(DEMO)
    assert read.graph_checked
    assert json.loads(DEMO.with_suffix(".json").read_text()) == read.card  # the card beside it is the same card
    assert cli.main(["info", str(DEMO)]) == 0
    assert f"sha256 {read.card[contract.CARD_GRAPH_HASH]}, matches its card" in capsys.readouterr().out


# --- the live effect follows the file on disk -----------------------------------------------------------------


def test_model_replaced_in_place_with_same_size_and_mtime_is_used(tmp_path: Path):
    """A host keeps calling process() with the same path; the file is overwritten by another model of the same
    size and its modification time set back (a copy that keeps times): the next render uses the new model."""
    path = _ours(_with_gain(GAIN), tmp_path / "live.onnx")
    before = path.stat()
    src = np.random.default_rng(1).random((4, 6, 3), dtype=np.float32)
    dst = np.zeros_like(src)
    api.process(src, dst, {"model": str(path)})
    np.testing.assert_allclose(dst, src * GAIN + 0.25, atol=1e-6)
    replacement = _ours(_with_gain(0.125), tmp_path / "other.onnx").read_bytes()
    assert len(replacement) == before.st_size
    with open(path, "r+b") as stream:  # same inode, same size
        stream.write(replacement)
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert (path.stat().st_size, path.stat().st_mtime_ns) == (before.st_size, before.st_mtime_ns)
    api.process(src, dst, {"model": str(path)})
    np.testing.assert_allclose(dst, src * 0.125 + 0.25, atol=1e-6)


def test_model_replaced_while_loading_is_known_by_what_was_loaded(tmp_path: Path, monkeypatch):
    """The file is hashed, then replaced before the session reads it: the session, the report's model_sha256 and
    the cache all follow the content that was actually loaded."""
    path = _ours(_with_gain(GAIN), tmp_path / "live.onnx")
    hashed_before = contract.file_sha256(path)
    _ours(_with_gain(0.125), path)
    monkeypatch.setattr(session, "model_sha256", lambda _: hashed_before)
    src = np.random.default_rng(3).random((4, 6, 3), dtype=np.float32)
    dst = np.zeros_like(src)
    report = api.process(src, dst, {"model": str(path)})
    np.testing.assert_allclose(dst, src * 0.125 + 0.25, atol=1e-6)
    assert report.model_sha256 == contract.file_sha256(path) != hashed_before
    monkeypatch.undo()
    assert session.load_session(path).sha256 == contract.file_sha256(path)
    assert session.cached_session_count() == 1  # the next render found it under the new content's hash


# --- failures inside the backend ------------------------------------------------------------------------------


def test_unexpected_backend_failure_reaches_the_host_as_a_chromaluma_error(tmp_path: Path, monkeypatch):
    path = pointwise_model(tmp_path / "m.onnx")

    def broken(*args: Any, **kwargs: Any) -> int:
        raise KeyError("a bug")

    monkeypatch.setattr(pixels, "compose", broken)
    frame = np.zeros((4, 4, 3), np.uint8)  # 8-bit: the output is composed in Python, not written by ORT
    with pytest.raises(ChromalumaError) as caught:
        api.process(frame, np.zeros_like(frame), {"model": str(path)})
    assert type(caught.value) is ChromalumaError
    assert f"{path}: Chromaluma failed unexpectedly (KeyError: 'a bug')" in str(caught.value)


class _TightMemory:
    """An ONNX Runtime session on a device that cannot hold inputs of more than `limit` pixels."""

    def __init__(self, real: Any, limit: int) -> None:
        self.real, self.limit, self.sizes = real, limit, []

    def run(self, names: list[str], feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
        height, width = feeds[contract.INPUT_NAME].shape[1:3]
        self.sizes.append((height, width))
        if height * width > self.limit:
            raise RuntimeError("[ONNXRuntimeError] : 6 : RUNTIME_EXCEPTION : Failed to allocate memory for "
                               f"requested buffer of size {height * width * 16}")
        return self.real.run(names, feeds)


def test_out_of_memory_retries_in_smaller_tiles_then_says_what_to_free(tmp_path: Path):
    path = str(pointwise_model(tmp_path / "m.onnx"))
    src = (np.random.default_rng(2).random((64, 64, 3)) * 65535).astype(np.uint16)  # copied input: run() path
    expected = np.zeros_like(src)
    api.process(src, expected, {"model": path})
    loaded = session.load_session(path)
    tight = _TightMemory(loaded.session, limit=20 * 20)
    loaded.session = tight
    dst = np.zeros_like(src)
    report = api.process(src, dst, {"model": path})
    np.testing.assert_array_equal(dst, expected)
    assert max(h * w for h, w in tight.sizes[-16:]) <= tight.limit  # the frame was finished in 16-pixel tiles
    assert any("out of memory" in note and "16-pixel tiles" in note for note in report.warnings)
    tight.limit = 0
    with pytest.raises(InferenceError, match=r"m\.onnx: out of memory on .* even in 8-pixel tiles\. Free memory"):
        api.process(src, dst, {"model": path})


# --- validation numbers named for what they measure -----------------------------------------------------------


def _old_card(density: str | None = None) -> dict[str, Any]:
    card = {**model_card("chroma"), "training": {"parameters": {"steps_done": 10}, "validation_frames": [3]},
            "metrics": {"validation": {"delta_e2000_mean": 1.617, "delta_e2000_p95": 5.209,
                                       "delta_e2000_reference_mean": 2.551, "delta_e2000_reference_p95": 7.548}}}
    if density:
        card["model"] = {"architecture": {"density": density}}
    return card


def test_old_and_new_cards_name_the_score_as_agreement_with_the_reference():
    line = summary_line(_old_card())
    assert f"{VALIDATION_LABEL}: ΔE2000 1.62 (p95 5.21)" in line
    assert "validation delta_e2000" not in line and "delta_e2000_mean" not in line
    assert f"{VALIDATION_LABEL}: ΔE2000 2.55 (p95 7.55)" in summary_line(_old_card("smooth"))
    text = describe_card(_old_card(), "old.onnx")
    assert "ΔE2000 mean 1.62, p95 5.21 against the reference's colour on the scan's luma" in text
    assert "ΔE2000 mean 2.55, p95 7.55 against the reference itself" in text
    assert "not agreement with the truth" in text and "structure agreement with the scan not recorded" in text
    luma = {**model_card("luma"), "metrics": {"validation": {"psnr_db": 31.26}}}
    assert f"{VALIDATION_LABEL}: PSNR 31.3 dB" in summary_line(luma)


def test_plug_in_model_info_names_the_bundled_models_score_honestly(capsys: pytest.CaptureFixture[str]):
    summary = _describe(DEMO)["model_summary"]  # what the plug-in's Model Info shows
    validation = json.loads(DEMO.with_suffix(".json").read_text())["metrics"]["validation"]  # the card beside it
    expected = f"ΔE2000 {validation['delta_e2000_mean']:.2f} (p95 {validation['delta_e2000_p95']:.2f})"
    assert f"agreement with the reference on held-out frames: {expected}" in summary
    assert cli.main(["info", str(DEMO)]) == 0
    assert "Validation  agreement with the reference on held-out frames [1006, 1011]" in capsys.readouterr().out


def test_new_card_shows_the_references_structure_agreement():
    card = _old_card()
    card["metrics"]["reference_structure_agreement"] = {"value": 0.8312, "frames": [3], "measure": "gradients"}
    assert "reference's structure agreement with the scan 0.83" in summary_line(card)
    assert "Reference   structure agreement with the scan 0.831 (gradients)" in describe_card(card, "m.onnx")


def _textured(seed: int, height: int = 64, width: int = 80) -> np.ndarray:
    from scipy.ndimage import gaussian_filter

    noise = np.random.default_rng(seed).random((height, width, 3))
    return np.clip(gaussian_filter(noise, (2.0, 2.0, 0)) * 3 - 1, 0, 1).astype(np.float32)


def test_structure_agreement_sees_registration_and_content_not_density():
    scan = _textured(0)
    graded = scan ** 2.2 * 0.8 + 0.05  # another density curve on the same picture
    shifted = np.roll(graded, 5, axis=1)
    assert structure_agreement(scan, graded) > 0.9
    assert structure_agreement(scan, shifted) < 0.5
    assert abs(structure_agreement(scan, _textured(1))) < 0.2
    valid = np.zeros(scan.shape[:2], np.float32)
    valid[:, :40] = 1.0
    wrong_right_half = graded.copy()
    wrong_right_half[:, 40:] = _textured(2)[:, 40:]
    assert structure_agreement(scan, wrong_right_half, valid) > structure_agreement(scan, wrong_right_half)


def test_held_out_agreement_reads_the_runs_pairs_and_refuses_changed_files(tmp_path: Path):
    from chromaluma.contract import file_sha256

    pairs = tmp_path / "pairs"
    for sub in ("scan", "reference"):
        (pairs / sub).mkdir(parents=True)
    entries = []
    for frame, seed in ((11, 0), (12, 1)):
        scan = _textured(seed)
        names = {"scan": f"scan/{frame}.png", "reference": f"reference/{frame}.png"}
        write_frame(pairs / names["scan"], scan, PNG16)
        write_frame(pairs / names["reference"], np.roll(scan, 2 * (frame - 11), axis=0), PNG16)
        entries.append({"frame": frame, **names, **{f"{role}_sha256": file_sha256(pairs / name)
                                                    for role, name in names.items()}})
    config = SimpleNamespace(pairs_dir=pairs, input=None, target=None, masks=None)
    record = {"pairs": entries, "validation_frames": [11, 12]}
    measured = held_out_agreement(config, record)
    assert measured is not None and measured["frames"] == [11, 12]
    expected = np.mean([structure_agreement(_textured(0), _textured(0)),
                        structure_agreement(_textured(1), np.roll(_textured(1), 2, axis=0))])
    assert measured["value"] == pytest.approx(expected, abs=0.01)
    assert held_out_agreement(config, {"pairs": entries, "validation_frames": []}) is None
    write_frame(pairs / "reference" / "12.png", _textured(5), PNG16)  # changed since training
    assert held_out_agreement(config, record) is None
