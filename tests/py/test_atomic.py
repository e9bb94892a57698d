"""chromaluma.io.atomic: a failed or interrupted write never leaves half a file or a temp file behind."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from chromaluma.io.atomic import partial_path, replace_atomically, write_json_atomically, write_stream_atomically


def test_success_replaces_target_and_leaves_only_it(tmp_path: Path):
    target = tmp_path / "card.json"
    target.write_text("old")
    write_json_atomically(target, {"kind": "chroma"})
    assert target.read_text() == '{\n  "kind": "chroma"\n}\n'
    assert [p.name for p in tmp_path.iterdir()] == ["card.json"]


def test_failure_midway_keeps_previous_file_and_removes_temp(tmp_path: Path):
    target = tmp_path / "step_0000010.pt"
    target.write_bytes(b"previous checkpoint")

    def dies_halfway(stream) -> None:
        stream.write(b"half of a new chec")
        raise OSError(28, "No space left on device")

    with pytest.raises(OSError, match="No space left"):
        write_stream_atomically(target, dies_halfway)
    assert target.read_bytes() == b"previous checkpoint"
    assert not partial_path(target).exists()


def test_interrupt_is_cleaned_up_too(tmp_path: Path):
    target = tmp_path / "model.onnx"

    def interrupted(tmp: Path) -> None:
        tmp.write_bytes(b"x")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        replace_atomically(target, interrupted)
    assert list(tmp_path.iterdir()) == []


def test_temp_name_is_hidden_per_process_and_keeps_the_extension():
    tmp = partial_path(Path("/a/loss_curve.png"))
    assert tmp.parent == Path("/a") and tmp.name.startswith(".loss_curve.") and tmp.suffix == ".png"
    assert f".{os.getpid()}." in tmp.name and "partial" in tmp.name


def test_stale_partials_finds_any_process_temp_files_of_the_targets_only(tmp_path: Path):
    from chromaluma.io.atomic import stale_partials

    names = [".shot.1001.4242.partial.png", ".shot.1001.7.partial.png", ".chromaluma-render.99.partial.json",
             ".shot.1002.4242.partial.png", "shot.1001.png", ".shot.1001.png"]
    for name in names:
        (tmp_path / name).write_bytes(b"x")
    found = stale_partials([tmp_path / "shot.1001.png", tmp_path / "chromaluma-render.json"])
    assert sorted(p.name for p in found) == [".chromaluma-render.99.partial.json", ".shot.1001.4242.partial.png",
                                             ".shot.1001.7.partial.png"]


def test_disk_full_is_named_in_the_restorers_words():
    import errno

    from chromaluma.io.atomic import describe_os_error

    assert describe_os_error(OSError(errno.ENOSPC, "No space left on device")) == "disk full"
    assert describe_os_error(OSError(errno.EDQUOT, "Disk quota exceeded")) == "disk full"
    assert describe_os_error(OSError(errno.EROFS, "Read-only file system")) == "read-only filesystem"
