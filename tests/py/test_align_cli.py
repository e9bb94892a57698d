"""`chromaluma align` end to end: files on disk in, the pairs folder of docs/CONTRACT.md §5 out (or nothing)."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from chromaluma.cli import main
from chromaluma.io import FrameFormat, read_frame, write_frame
from chromaluma.synth.telecine import TelecineSettings, TelecineTruth, make_reference
from test_align import camera_film, faded_scan, spatial_rms

SHOTS = [("astronaut", 6, (2.0, 0.5), (0.1, 0.0), 0.0), ("coffee", 6, (-1.5, 1.0), (0.0, 0.06), 0.004)]


def write_sequence(folder: Path, frames: list[np.ndarray], first: int, frame_format: FrameFormat) -> None:
    folder.mkdir(parents=True)
    for offset, frame in enumerate(frames):
        write_frame(folder / f"shot.{first + offset:05d}{frame_format.extension}", frame, frame_format)


def write_mpeg2(path: Path, frames: list[np.ndarray]) -> None:
    """A DVD-like MPEG-2 elementary stream at 25 fps, made with PyAV."""
    import av

    with av.open(str(path), "w") as container:
        stream = container.add_stream("mpeg2video", rate=25)
        stream.width, stream.height, stream.pix_fmt = frames[0].shape[1], frames[0].shape[0], "yuv420p"
        stream.bit_rate = 8_000_000
        for frame in frames:
            rgb = np.clip(np.rint(frame * 255), 0, 255).astype(np.uint8)
            container.mux(stream.encode(av.VideoFrame.from_ndarray(rgb, format="rgb24")))
        container.mux(stream.encode())


@pytest.fixture(scope="module")
def footage(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, TelecineTruth, list[np.ndarray]]:
    root = tmp_path_factory.mktemp("footage")
    film = camera_film(SHOTS)
    rng = np.random.default_rng(5)
    scan = [faded_scan(frame, rng) for frame in film]
    write_sequence(root / "scan", scan, 1001, FrameFormat(".tif", "uint16", 16, 3))
    reference, truth = make_reference(film, TelecineSettings(cadence="2:3", lead_in=2))
    write_sequence(root / "dvd", reference, 0, FrameFormat(".png", "uint8", 8, 3))
    return root / "scan", root / "dvd", truth, reference


def truth_aligned(reference: list[np.ndarray], truth: TelecineTruth, top: int, bottom: int) -> np.ndarray:
    """The reference frame rebuilt from the true fields and warped by the true transform (independent of align)."""
    picture = reference[top].copy()
    picture[1::2] = reference[bottom][1::2]
    return cv2.warpPerspective(picture, truth.reference_to_scan, (480, 360), flags=cv2.INTER_CUBIC)


@pytest.mark.slow
def test_align_writes_the_contract_pairs_folder(footage, tmp_path: Path):
    scan_dir, dvd_dir, truth, reference = footage
    out = tmp_path / "pairs"
    assert main(["align", "--scan", str(scan_dir), "--reference", str(dvd_dir), "--out", str(out),
                 "--scan-fps", "24", "--reference-fps", "29.97"]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pairs"]  # no partial folder left beside it
    assert sorted(p.name for p in out.iterdir()) == ["manifest.json", "mask", "reference", "report", "scan"]
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["format_version"] == 1 and manifest["parameters"]["reference_fps"] == 29.97
    assert [shot["first_scan_frame"] for shot in manifest["shots"]] == [1001, 1007]
    pairs = manifest["pairs"]
    assert len(pairs) >= 10 and any(pair["reference_fields"] for pair in pairs)
    for pair in pairs:
        film_frame = pair["scan_frame"] - 1001
        top, bottom = ((f[0] for f in pair["reference_fields"]) if pair["reference_fields"]
                       else (pair["reference_frame"],) * 2)
        assert truth.fields[top][0] == film_frame and truth.fields[bottom][1] == film_frame
        assert spatial_rms(np.array(pair["transform"]), truth) <= 0.5
        assert pair["score"] >= 0.5
    pair = next(p for p in pairs if p["reference_fields"])
    scan, scan_format = read_frame(out / pair["scan"])
    aligned, reference_format = read_frame(out / pair["reference"])
    mask, mask_format = read_frame(out / pair["mask"])
    assert scan.shape == (360, 480, 3) and aligned.shape == (360, 480, 3) and mask.shape == (360, 480, 1)
    assert (scan_format.bits, reference_format.bits, mask_format.sample_type) == (16, 16, "uint8")
    assert set(np.unique(mask)) == {0.0, 1.0} and 0.80 < mask.mean() < 0.89  # 3 % overscan each edge
    expected = truth_aligned(reference, truth, *[f[0] for f in pair["reference_fields"]])
    inside = cv2.erode(mask[..., 0].astype(np.uint8), np.ones((7, 7), np.uint8)).astype(bool)
    soft = lambda image: cv2.GaussianBlur(image, (0, 0), 1.0)  # noqa: E731 — resampling filters may differ
    off_by_one = cv2.warpAffine(expected, np.float32([[1, 0, 1.0], [0, 1, 0]]), (480, 360))
    error = np.abs(soft(aligned) - soft(expected))[inside].mean()
    assert error < 0.01 and error < 0.6 * np.abs(soft(aligned) - soft(off_by_one))[inside].mean()
    assert (out / manifest["report"]["contact_sheet"]).stat().st_size > 10_000
    assert (out / manifest["report"]["score_plot"]).stat().st_size > 5_000


@pytest.mark.slow
def test_align_reads_a_dvd_video_file(footage, tmp_path: Path):
    scan_dir, _, _, _ = footage
    film = camera_film(SHOTS)
    reference, truth = make_reference(film, TelecineSettings(cadence="pal", lead_in=3, jpeg_quality=95))
    write_mpeg2(tmp_path / "dvd.m2v", reference)
    out = tmp_path / "pairs"
    assert main(["align", "--scan", str(scan_dir), "--reference", str(tmp_path / "dvd.m2v"), "--out", str(out),
                 "--every", "2", "--frames", "1001-1008"]) == 0
    manifest = json.loads((out / "manifest.json").read_text())
    frames = [pair["scan_frame"] for pair in manifest["pairs"]]
    assert frames == [1001, 1003, 1005, 1007]
    assert [pair["reference_frame"] for pair in manifest["pairs"]] == [f - 1001 + 3 for f in frames]
    assert all(spatial_rms(np.array(pair["transform"]), truth) <= 0.5 for pair in manifest["pairs"])


def test_no_common_picture_writes_nothing(tmp_path: Path, caplog: pytest.LogCaptureFixture):
    small = FrameFormat(".png", "uint16", 16, 3)
    rng = np.random.default_rng(2)
    write_sequence(tmp_path / "scan", [faded_scan(f, rng) for f in camera_film(
        [("chelsea", 5, (1.0, 0.0), (0.0, 0.0), 0.0)], size=(240, 180))], 1, small)
    other, _ = make_reference(camera_film([("rocket", 5, (1.0, 0.0), (0.0, 0.0), 0.0)], size=(240, 180)),
                              TelecineSettings(width=360, height=288))
    write_sequence(tmp_path / "dvd", other, 0, small)
    out = tmp_path / "pairs"
    assert main(["align", "--scan", str(tmp_path / "scan"), "--reference", str(tmp_path / "dvd"),
                 "--out", str(out)]) == 2
    assert "no scan frame has a confident match" in caplog.text and "nothing was written" in caplog.text
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dvd", "scan"]


def test_unreadable_video_is_a_clear_error(tmp_path: Path, caplog: pytest.LogCaptureFixture):
    write_sequence(tmp_path / "scan", [np.full((36, 48, 3), 0.5, np.float32)], 1, FrameFormat(".png", "uint8", 8, 3))
    (tmp_path / "dvd.vob").write_bytes(b"\x00\x00\x01\xba not really an MPEG program stream" * 20)
    assert main(["align", "--scan", str(tmp_path / "scan"), "--reference", str(tmp_path / "dvd.vob"),
                 "--out", str(tmp_path / "pairs")]) == 2
    assert "dvd.vob" in caplog.text
    assert not (tmp_path / "pairs").exists()


def test_existing_pairs_folder_is_never_overwritten(tmp_path: Path, caplog: pytest.LogCaptureFixture):
    out = tmp_path / "pairs"
    out.mkdir()
    (out / "manifest.json").write_text("{}")
    assert main(["align", "--scan", str(tmp_path / "missing"), "--reference", str(tmp_path / "missing"),
                 "--out", str(out)]) == 2
    assert "--out" in caplog.text and (out / "manifest.json").read_text() == "{}"


@pytest.mark.slow
def test_handheld_scan_keeps_its_shots_and_leaves_out_what_the_dvd_lacks(tmp_path: Path):
    from chromaluma.synth.shots import handheld_shot

    film = handheld_shot("rocket", 9, 480, 360, seed=21) + handheld_shot("coffee", 8, 480, 360, seed=22)
    rng = np.random.default_rng(6)
    write_sequence(tmp_path / "scan", [faded_scan(frame, rng) for frame in film], 1001,
                   FrameFormat(".tif", "uint16", 16, 3))
    reference, truth = make_reference(film, TelecineSettings(cadence="pal", lead_in=2, drop_film_frames=(5,)))
    write_sequence(tmp_path / "dvd", reference, 0, FrameFormat(".png", "uint8", 8, 3))
    out = tmp_path / "pairs"
    assert main(["align", "--scan", str(tmp_path / "scan"), "--reference", str(tmp_path / "dvd"),
                 "--out", str(out)]) == 0
    manifest = json.loads((out / "manifest.json").read_text())
    assert [(s["first_scan_frame"], s["last_scan_frame"]) for s in manifest["shots"]] == [(1001, 1009), (1010, 1017)]
    written = [pair["scan_frame"] for pair in manifest["pairs"]]
    assert 1006 not in written and 1006 in manifest["left_out"]["unmatched_scan_frames"]  # film frame 5: not on DVD
    assert len(written) >= 15  # every other frame of both shaking shots is matched
    for pair in manifest["pairs"]:
        assert truth.fields[pair["reference_frame"]] == (pair["scan_frame"] - 1001,) * 2


@pytest.mark.slow
def test_failed_write_leaves_no_pairs_folder(footage, tmp_path: Path, caplog: pytest.LogCaptureFixture,
                                             monkeypatch: pytest.MonkeyPatch):
    from chromaluma.align import pairs_folder
    from chromaluma.errors import FrameWriteError

    scan_dir, dvd_dir, _, _ = footage
    calls = []

    def failing_write(path: Path, *args, **kwargs) -> None:
        calls.append(path)
        if len(calls) == 7:  # the third pair's scan frame: some pairs are already on disk
            raise FrameWriteError(f"{path}: no space left on device; free space and run again.")
        write_frame(path, *args, **kwargs)

    monkeypatch.setattr(pairs_folder, "write_frame", failing_write)
    out = tmp_path / "pairs"
    assert main(["align", "--scan", str(scan_dir), "--reference", str(dvd_dir), "--out", str(out)]) == 2
    assert "no space left on device" in caplog.text and len(calls) == 7
    assert sorted(p.name for p in tmp_path.iterdir()) == []  # neither the folder nor its partial twin
