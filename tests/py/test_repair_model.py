"""The repair kind's torch model (chromaluma.models.repair): motion, warped fills, spatial fills, tiles, alpha."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from chromaluma.models import build_model
from chromaluma.models.graph import ContractGraph
from chromaluma.models.repair import RepairModel, _spatial_fills
from chromaluma.synth.shots import load_photo

SHIFT = 3  # px per frame of the test pan


def _pan_window(shift: int = SHIFT, height: int = 96, width: int = 128) -> torch.Tensor:
    """Five frames [1, 5, H, W, 4] of a photograph moving right by `shift` px per frame (alpha 1)."""
    photo = load_photo("chelsea")[40:40 + height, :width + 4 * shift + 8]
    frames = []
    for t in range(-2, 3):
        start = 2 * shift + 4 - t * shift  # frame_t(x) = photo(x − shift·t): the picture moves right
        rgb = photo[:, start:start + width]
        frames.append(np.concatenate([rgb, np.ones_like(rgb[..., :1])], axis=-1))
    return torch.from_numpy(np.stack(frames)[None].astype(np.float32))


def _luma(window: torch.Tensor) -> torch.Tensor:
    return window[..., :3] @ torch.tensor([0.2126, 0.7152, 0.0722])


def test_motion_finds_each_neighbours_displacement():
    model = RepairModel().eval()
    window = _pan_window()
    luma = _luma(window)
    with torch.no_grad():
        flow, _ = model.motion(luma[:, 2:3], torch.cat([luma[:, :2], luma[:, 3:]], dim=1))
    inner = (slice(24, -24), slice(24, -24))
    for index, offset in enumerate((-2, -1, 1, 2)):  # neighbour t+k shows frame t's pixel x at x + shift·k
        flow_x = float(flow[0, 2 * index][inner].median())
        flow_y = float(flow[0, 2 * index + 1][inner].median())
        assert abs(flow_x - SHIFT * offset) < 0.75, (offset, flow_x)
        assert abs(flow_y) < 0.5, (offset, flow_y)


def test_a_warped_neighbour_reproduces_the_frame_it_was_matched_to():
    model = RepairModel().eval()
    with torch.no_grad():
        model.net.head.bias[2 + 2] = 30.0  # candidate 2 = the frame after (t+1): its weight ≈ 1
        window = _pan_window()
        restored, _, _ = model(window)
    inner = (0, slice(16, -16), slice(16, -16))
    frame = window[0, 2]
    error = float((restored[inner][..., :3] - frame[inner[1:]][..., :3]).abs().mean())
    unwarped = float((window[0, 3][inner[1:]][..., :3] - frame[inner[1:]][..., :3]).abs().mean())
    assert error < 0.4 * unwarped, (error, unwarped)


def test_spatial_fills_leave_the_matte_out():
    background = torch.full((1, 3, 64, 64), 0.3)
    background[:, 1] = 0.5
    damaged = background.clone()
    damaged[:, :, 28:36, 30:33] = 1.0  # a white speck
    keep = torch.ones(1, 1, 64, 64)
    keep[:, :, 28:36, 30:33] = 0.0
    for fill in _spatial_fills(damaged, keep, 4):
        assert torch.allclose(fill[:, :, 28:36, 30:33], background[:, :, 28:36, 30:33], atol=2e-3)
    unmasked = _spatial_fills(damaged, torch.ones_like(keep), 4)[1]
    assert float(unmasked[:, :, 30, 31].max()) > 0.35  # without the matte the speck bleeds into its fill


def test_an_untrained_model_repairs_nothing_and_copies_alpha(rng: np.random.Generator):
    model = RepairModel().eval()
    window = torch.from_numpy(rng.random((1, 5, 40, 48, 4), dtype=np.float32))
    with torch.no_grad():
        restored, _, matte = model(window)
    assert float(matte.max()) < 0.5  # the default sensitivity repairs where the matte exceeds 0.5
    assert torch.equal(restored[..., 3], window[:, 2, ..., 3])


def _perturbed_repair(seed: int = 0) -> RepairModel:
    torch.manual_seed(seed)
    model = build_model("repair", 0.25, {"width": 8, "dilations": [1, 2], "search": 2,
                                         "temporal_radius": 1}).eval()
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.copy_(torch.randn_like(parameter) * 0.3)
    return model


def test_a_region_with_receptive_field_context_reproduces_the_whole_frame(rng: np.random.Generator):
    model = _perturbed_repair()
    factor, field = model.factor, model.receptive_field
    assert field % factor == 0
    frames = torch.from_numpy(rng.random((3, 232, 224, 4), dtype=np.float32))
    image, neighbours = frames[1:2], torch.cat([frames[:1], frames[2:]])
    with torch.no_grad():
        whole = ContractGraph(model)(image, neighbours)
        top, left, height, width = 27 * factor, 26 * factor, 21, 19
        for context, should_match in ((field, True), (field // 4, False)):
            y0, x0 = top - context, left - context
            y0, x0 = y0 - y0 % factor, x0 - x0 % factor
            rows, cols = slice(max(0, y0), top + height + context), slice(max(0, x0), left + width + context)
            part = ContractGraph(model)(image[:, rows, cols], neighbours[:, rows, cols])
            oy, ox = top - max(0, y0), left - max(0, x0)
            difference = max(float((p[:, oy:oy + height, ox:ox + width]
                                    - w[:, top:top + height, left:left + width]).abs().max())
                             for p, w in zip(part, whole, strict=True))
            assert (difference <= 1e-4) == should_match, (context, difference)


@pytest.mark.parametrize("radius", [0, 9])
def test_a_repair_model_needs_a_window_it_can_read(radius: int):
    with pytest.raises(ValueError, match="temporal_radius"):
        RepairModel(temporal_radius=radius)
