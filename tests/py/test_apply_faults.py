"""`chromaluma apply` under faults: full disk, read-only output, unreadable input frames, refused arguments.

Full-disk and read-only cases use a real small tmpfs when this process may mount one (root, as in CI); where it
may not, the same test injects the fault instead, so it never silently skips.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest

from chromaluma import contract
from chromaluma.cli import main
from chromaluma.io import FrameFormat, read_frame, write_frame
from chromaluma.io import frames as frames_module
from model_fixtures import pointwise_model

FRAMES = (1001, 1002, 1003, 1004)
PNG16 = FrameFormat(".png", "uint16", 16, 3)


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return pointwise_model(tmp_path_factory.mktemp("fault_models") / "pointwise.onnx")


def _scan(folder: Path, size: int = 36, frame_format: FrameFormat = PNG16) -> Path:
    rng = np.random.default_rng(7)
    folder.mkdir(parents=True)
    for frame in FRAMES:
        write_frame(folder / f"shot.{frame}{frame_format.extension}", rng.random((size, size, 3), np.float32),
                    frame_format)
    return folder


def _apply(model: Path, scan: Path, out: Path, *extra: str) -> int:
    return main(["apply", "--model", str(model), "--input", str(scan), "--output", str(out), "--no-progress",
                 *extra])


def _log(out: Path) -> dict:
    return json.loads((out / "chromaluma-render.json").read_text())


@contextmanager
def _tmpfs(folder: Path, options: str) -> Iterator[bool]:
    """Mount a tmpfs on `folder` if allowed; yields whether it did."""
    folder.mkdir(parents=True, exist_ok=True)
    if os.geteuid() != 0 or shutil.which("mount") is None:
        yield False
        return
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(folder)],
                             capture_output=True).returncode == 0
    try:
        yield mounted
    finally:
        if mounted:
            subprocess.run(["umount", "-l", str(folder)], check=False)


def _lying_png_writer(monkeypatch: pytest.MonkeyPatch) -> None:
    """What OIIO's PNG writer does on a full disk: reports success, leaves a truncated (later empty) file."""
    real_encode = frames_module._encode
    calls = []

    def encode(tmp_path, out_path, samples, frame_format):
        real_encode(tmp_path, out_path, samples, frame_format)
        calls.append(tmp_path)
        if len(calls) > 1:
            data = tmp_path.read_bytes()
            tmp_path.write_bytes(data[: len(data) // 2] if len(calls) == 2 else b"")

    monkeypatch.setattr(frames_module, "_encode", encode)
    monkeypatch.setattr(frames_module.shutil, "disk_usage", lambda _path: shutil._ntuple_diskusage(1, 1, 0))


def test_full_disk_keeps_finished_frames_names_the_frame_and_resume_finishes(tmp_path, model, monkeypatch, caplog):
    scan = _scan(tmp_path / "scan", size=200)
    reference = tmp_path / "reference"
    assert _apply(model, scan, reference) == 0
    disk = tmp_path / "disk"
    with _tmpfs(disk, "size=256k") as mounted:
        if not mounted:
            _lying_png_writer(monkeypatch)
        out = disk / "restored"
        assert _apply(model, scan, out) == 2
        message = caplog.records[-1].getMessage()
        assert "disk full" in message and "shot.1002.png" in message and "--resume" in message
        assert "\n" not in message
        # Only whole frames under final names: frame 1001 (fits) and the log, no 0-byte or temp files.
        assert sorted(p.name for p in out.iterdir()) == ["chromaluma-render.json", "shot.1001.png"]
        assert (out / "shot.1001.png").read_bytes() == (reference / "shot.1001.png").read_bytes()
        log = _log(out)
        assert log["status"] == "failed" and log["failed_frame"] == 1002 and "disk full" in log["error"]
        assert [entry["frame"] for entry in log["frames"]] == [1001]
        if mounted:
            subprocess.run(["mount", "-o", "remount,size=4m", str(disk)], check=True)
        else:
            monkeypatch.undo()
        assert _apply(model, scan, out, "--resume") == 0
        for frame in FRAMES:
            name = f"shot.{frame}.png"
            assert (out / name).read_bytes() == (reference / name).read_bytes()
        assert _log(out)["status"] == "complete"


def test_a_writer_that_reports_success_but_wrote_nothing_is_caught(tmp_path, monkeypatch):
    target = tmp_path / "frame.png"
    _lying_png_writer(monkeypatch)
    pixels = np.full((8, 8, 3), 0.5, np.float32)
    write_frame(target, pixels, PNG16)  # the first write is whole
    for _ in range(2):  # then truncated, then empty: both refused, nothing under the name, no temp file
        target.unlink(missing_ok=True)
        with pytest.raises(frames_module.FrameWriteError, match="disk full"):
            write_frame(target, pixels, PNG16)
        assert list(tmp_path.iterdir()) == []


def test_render_log_on_a_full_disk_keeps_its_last_state_and_names_the_frame(tmp_path, model, monkeypatch, caplog):
    from chromaluma.backend import render_log

    scan = _scan(tmp_path / "scan")
    out = tmp_path / "restored"
    real_write = render_log.write_json_atomically
    writes = []

    def fills_up(path, content):
        writes.append(path)
        if len(writes) >= 3:  # start, after frame 1001, then the disk is full
            raise OSError(28, "No space left on device")
        return real_write(path, content)

    monkeypatch.setattr(render_log, "write_json_atomically", fills_up)
    assert _apply(model, scan, out) == 2
    message = caplog.records[-1].getMessage()
    assert "frame 1002 was written" in message and "disk full" in message
    log = _log(out)
    assert log["status"] == "rendering" and [e["frame"] for e in log["frames"]] == [1001]  # last good state
    assert not [p for p in out.iterdir() if p.name.startswith(".")]


@contextmanager
def _read_only_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    ro = tmp_path / "archive"
    with _tmpfs(ro, "size=1m,ro") as mounted:
        if not mounted and os.geteuid() != 0:
            ro.chmod(0o555)
        elif not mounted:  # root ignores permission bits: inject what access(2) says on a read-only mount
            real_access = os.access
            monkeypatch.setattr(os, "access", lambda p, mode, **kw: False if Path(p) == ro else real_access(p, mode))
        yield ro


@pytest.mark.parametrize("flag", ["--output", "--confidence"])
def test_read_only_output_is_refused_before_anything_is_created(tmp_path, model, monkeypatch, caplog, flag):
    scan = _scan(tmp_path / "scan")
    with _read_only_folder(tmp_path, monkeypatch) as ro:
        target = ro / "new" / "folder"
        out = target if flag == "--output" else tmp_path / "restored"
        extra = ["--confidence", str(target)] if flag == "--confidence" else []
        assert _apply(model, scan, out, *extra) == 2
        message = caplog.records[-1].getMessage()
        assert message.startswith(f"{flag} {target}") and "nothing was created" in message
        assert list(ro.iterdir()) == []
        assert not (tmp_path / "restored").exists()


def test_corrupt_frame_mid_sequence_renders_the_rest_and_fails_listing_it(tmp_path, model, caplog, capfd):
    scan = _scan(tmp_path / "scan")
    reference = tmp_path / "reference"
    assert _apply(model, scan, reference) == 0
    good = (scan / "shot.1002.png").read_bytes()
    (scan / "shot.1002.png").write_bytes(good[: len(good) // 2])
    out = tmp_path / "restored"
    capfd.readouterr()
    assert _apply(model, scan, out) == 2
    message = caplog.records[-1].getMessage()
    assert "1 of 4 input frame(s) could not be read" in message and "shot.1002.png" in message
    assert "--resume" in message and "\n" not in message
    assert "libpng" not in capfd.readouterr().err  # the decoder's own complaints are in the message, not stderr
    assert sorted(p.name for p in out.glob("*.png")) == ["shot.1001.png", "shot.1003.png", "shot.1004.png"]
    log = _log(out)
    assert log["status"] == "failed"
    assert [(e["frame"], e["status"]) for e in log["frames"]] == [
        (1001, "written"), (1002, "failed"), (1003, "written"), (1004, "written")]
    (scan / "shot.1002.png").write_bytes(good)  # the restorer re-scans the frame
    assert _apply(model, scan, out, "--resume") == 0
    for frame in FRAMES:
        assert (out / f"shot.{frame}.png").read_bytes() == (reference / f"shot.{frame}.png").read_bytes()


def test_empty_input_frame_says_0_bytes(tmp_path, model, caplog):
    scan = _scan(tmp_path / "scan")
    (scan / "shot.1003.png").write_bytes(b"")
    assert _apply(model, scan, tmp_path / "restored") == 2
    assert "shot.1003.png: file is empty (0 bytes)" in caplog.records[-1].getMessage()
    (scan / "shot.1001.png").write_bytes(b"")  # the first frame, read to learn the format: refused at once
    assert _apply(model, scan, tmp_path / "second") == 2
    assert "shot.1001.png: file is empty (0 bytes)" in caplog.records[-1].getMessage()
    assert not (tmp_path / "second").exists()


def test_decoder_errors_are_one_line_without_raw_library_output(tmp_path, capfd):
    frame = tmp_path / "shot.1001.png"
    write_frame(frame, np.zeros((16, 16, 3), np.float32), PNG16)
    data = frame.read_bytes()
    frame.write_bytes(data[:60] + b"\x00" * 40 + data[100:])
    capfd.readouterr()
    with pytest.raises(frames_module.FrameReadError) as caught:
        read_frame(frame)
    assert str(caught.value).startswith(f"{frame}: ") and "\n" not in str(caught.value)
    assert capfd.readouterr().err == ""


@pytest.mark.parametrize("flag, what", [("--output", "restored frames"), ("--confidence", "confidence frames")])
def test_input_folder_as_target_names_what_would_be_written(tmp_path, model, caplog, flag, what):
    scan = _scan(tmp_path / "scan")
    before = {p.name: contract.file_sha256(p) for p in scan.iterdir()}
    out = scan if flag == "--output" else tmp_path / "restored"
    extra = ["--confidence", str(scan)] if flag == "--confidence" else []
    assert _apply(model, scan, out, *extra) == 2
    message = caplog.records[-1].getMessage()
    assert message.startswith(f"{flag} {scan}: that is the input folder, which holds the original frames; {what}")
    assert {p.name: contract.file_sha256(p) for p in scan.iterdir()} == before
    assert not (tmp_path / "restored").exists()


def test_frames_outside_the_shot_and_existing_output_are_refused(tmp_path, model, caplog):
    scan = _scan(tmp_path / "scan")
    out = tmp_path / "restored"
    assert _apply(model, scan, out, "--frames", "5-9") == 2
    assert "--frames 5-9" in caplog.records[-1].getMessage() and "1001-1004" in caplog.records[-1].getMessage()
    assert not out.exists()
    assert _apply(model, scan, out) == 0
    finished = {p.name: p.read_bytes() for p in out.iterdir()}
    assert _apply(model, scan, out) == 2
    assert "already exists" in caplog.records[-1].getMessage() and "--overwrite" in caplog.records[-1].getMessage()
    assert {p.name: p.read_bytes() for p in out.iterdir()} == finished
    assert _apply(model, scan, out, "--overwrite", "--resume") == 2
    assert "choose one" in caplog.records[-1].getMessage()
