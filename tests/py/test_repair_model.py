"""The repair kind's torch model (chromaluma.models.repair) on windows whose neighbours are moved onto the frame as
the backend moves them (chromaluma.align.neighbours): fills, spatial fills, evidence, tiles, alpha."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from chromaluma.models import build_model
from chromaluma.models.graph import ContractGraph
from chromaluma.models.repair import RepairModel, _spatial_fills
from chromaluma.synth.shots import load_photo
from chromaluma.train.repair_samples import moved_window

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


def _moved(window: torch.Tensor) -> torch.Tensor:
    """`window` [1, T, H, W, 4] as a format-5 model reads it: its neighbours moved onto the centre frame, alpha their
    evidence (what the backend and training do)."""
    frames = list(window[0].numpy())
    return torch.from_numpy(moved_window(frames, len(frames) // 2)[None])


def _repaired(model: RepairModel, window: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    with torch.no_grad():
        return model.eval()(_moved(window))


def test_a_moved_neighbour_reproduces_the_frame_it_was_moved_onto():
    model = RepairModel().eval()
    with torch.no_grad():
        model.net.head.bias[2 + 2] = 30.0  # candidate 2 = the frame after (t+1): its weight ≈ 1
    window = _pan_window()
    restored, _, _ = _repaired(model, window)
    inner = (0, slice(16, -16), slice(16, -16))
    frame = window[0, 2]
    error = float((restored[inner][..., :3] - frame[inner[1:]][..., :3]).abs().mean())
    unmoved = float((window[0, 3][inner[1:]][..., :3] - frame[inner[1:]][..., :3]).abs().mean())
    assert error < 0.1 * unmoved, (error, unmoved)


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


def _specked(window: torch.Tensor) -> tuple[torch.Tensor, tuple[slice, slice]]:
    """`window` with a white 4×4 speck on its centre frame (the neighbours clean), and where it is."""
    speck = (slice(50, 54), slice(60, 64))
    damaged = window.clone()
    damaged[0, window.shape[1] // 2, speck[0], speck[1], :3] = 1.0
    return damaged, speck


def test_an_untrained_model_finds_a_speck_and_leaves_the_picture_alone():
    model = RepairModel().eval()
    clean = _pan_window()
    window, speck = _specked(clean)
    window[..., 3] = 0.75
    restored, _, matte = _repaired(model, window)
    found = matte[0, 0] > 0.5  # the default sensitivity
    assert bool(found[speck].all())  # the classical spike test the matte starts from
    elsewhere = torch.ones_like(found)
    elsewhere[speck[0].start - 3:speck[0].stop + 3, speck[1].start - 3:speck[1].stop + 3] = False
    assert float(found[elsewhere].float().mean()) < 0.002, float(found[elsewhere].float().mean())
    def error(frame: torch.Tensor) -> float:
        return float((frame[speck][..., :3] - clean[0, 2][speck][..., :3]).abs().mean())

    assert error(restored[0]) < 0.15 * error(window[0, 2]), (error(restored[0]), error(window[0, 2]))
    assert torch.equal(restored[..., 3], window[:, 2, ..., 3])


def test_copies_of_the_frame_are_no_evidence():
    """At a clip's first frame the edge rule repeats the frame as t−2 and t−1: the speck is found from t+1 and t+2
    alone; with every neighbour a copy there is nothing to compare with and nothing is repaired."""
    model = RepairModel().eval()
    window, speck = _specked(_pan_window())
    first = torch.cat([window[:, 2:3], window[:, 2:3], window[:, 2:]], dim=1)
    alone = window[:, 2:3].repeat(1, 5, 1, 1, 1)
    _, _, at_first = _repaired(model, first)
    _, _, by_itself = _repaired(model, alone)
    assert bool((at_first[0, 0][speck] > 0.5).all())
    assert float(by_itself.max()) < 0.05


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


def test_an_earlier_repair_layout_is_refused_in_one_line_for_resume_and_init():
    """A repair run or model made before the matte started from the spike test has other weights (no spike gain,
    a narrower evidence stem): resuming or fine-tuning it names the weight and says to train afresh."""
    from pathlib import Path

    from chromaluma.errors import ModelFormatError
    from chromaluma.train.initial import InitialWeights, check_resumable, layout_mismatch

    model = RepairModel()
    earlier = {name: value for name, value in model.state_dict().items() if not name.startswith("spike_")}
    earlier["net.stem.weight"] = earlier["net.stem.weight"][:, :-1]
    with pytest.raises(ModelFormatError, match=r"--resume run: .*weight .* earlier version") as refused:
        check_resumable(earlier, model, Path("run"))
    assert "\n" not in str(refused.value)
    reshaped = {**model.state_dict(), "net.stem.weight": earlier["net.stem.weight"]}
    config = type("Config", (), {"processing_scale": 0.25})()
    with pytest.raises(ModelFormatError, match=r"--init old.onnx: weight net.stem.weight .*Train afresh"):
        InitialWeights(Path("old.onnx"), "repair", 0.25, {}, reshaped).check_compatible(config, model)
    assert layout_mismatch(model.state_dict(), model) is None
    check_resumable(model.state_dict(), model, Path("run"))  # today's layout resumes


def test_the_edges_of_a_panning_shot_are_not_taken_for_damage():
    """Along the edge a pan brings picture in from outside, and a patch there is half made of the repeated edge:
    the flow cannot be trusted, and nothing far from real damage is repaired there (or anywhere)."""
    from chromaluma.synth.damage import DamageStatistics, ShotDamage
    from chromaluma.synth.shots import CameraMove, photo_shot

    clean = photo_shot("chelsea", 5, 160, 120, CameraMove("pan", 0.1), seed=5)
    plan = ShotDamage.plan(160, 120, 5, DamageStatistics.default().scaled(20.0), seed=9)
    damaged = [plan.apply(frame, index) for index, frame in enumerate(clean)]
    window = torch.from_numpy(np.stack([np.concatenate([d.frame, np.ones((120, 160, 1), np.float32)], axis=-1)
                                        for d in damaged])[None])
    _, _, matte = _repaired(RepairModel(), window)
    found = matte[0, 0].numpy() > 0.5
    damage = damaged[2].opacity > 0
    far = ~torch.nn.functional.max_pool2d(torch.from_numpy(damage.astype(np.float32))[None, None], 15, 1, 7)[0, 0]\
        .numpy().astype(bool)
    assert not found[far].any(), np.argwhere(found & far)[:5]
    assert found[damaged[2].opacity >= 0.3].mean() > 0.25  # while much of this heavy damage is found


@pytest.mark.parametrize("shift", [0, SHIFT])
def test_dust_does_not_pull_the_flow_its_fill_is_read_along(shift: int):
    """Dust on picture detail pulls the flow measured on it towards whatever resembles it nearby; the fill must come
    along the flow of the picture around the dust, which the neighbours repeat exactly."""
    clean = _pan_window(shift)
    window = clean.clone()
    rows, cols = torch.meshgrid(torch.arange(96.0), torch.arange(128.0), indexing="ij")
    errors = []
    for y, x in ((52, 62), (40, 80), (60, 40)):
        soft = torch.exp(-((rows - y) ** 2 + (cols - x) ** 2) / (2 * 1.8 ** 2))  # a soft dot of dust
        window[0, 2, ..., :3] += 0.1 * soft[..., None]
    restored, _, _ = _repaired(RepairModel(), window)
    for y, x in ((52, 62), (40, 80), (60, 40)):
        dot = (rows - y) ** 2 + (cols - x) ** 2 < 3.2 ** 2
        errors.append(float((restored[0][dot][..., :3] - clean[0, 2][dot][..., :3]).abs().max()))
    assert sum(errors) / len(errors) < 0.008, errors


def test_a_copy_of_the_frame_is_never_a_fill():
    """At a clip's first frame the edge rule repeats the frame as t−2 and t−1: those copies hold the frame's own
    damage, so however the network weighs the candidates, the fill comes from t+1 and t+2."""
    model = RepairModel().eval()
    with torch.no_grad():
        model.net.head.bias[2 + 0] = 30.0  # candidate 0 = the frame before last (t−2): its weight ≈ 1 if present
    clean = _pan_window()
    window, speck = _specked(clean)
    first = torch.cat([window[:, 2:3], window[:, 2:3], window[:, 2:]], dim=1)
    restored, _, matte = _repaired(model, first)
    assert bool((matte[0, 0][speck] > 0.5).all())
    error = float((restored[0][speck][..., :3] - clean[0, 2][speck][..., :3]).abs().mean())
    assert error < 0.05, error


def _scratched(window: torch.Tensor, column: int, contrast: float) -> torch.Tensor:
    """`window` with a faint bright vertical line 2 px wide down every frame at the same `column` of the frame (a
    scratch stays put while the picture moves), `contrast` of the way to white."""
    scratched = window.clone()
    scratched[..., column:column + 2, :3] += contrast * (1.0 - scratched[..., column:column + 2, :3])
    return scratched


def test_a_faint_scratch_that_stays_while_the_picture_moves_is_found_and_filled():
    """Too faint for the spike test (a 2 px line lifted by a few hundredths, the neighbours' range widened towards
    their 3×3 range), a scratch is a line the frame has and its moved neighbours do not: the line test finds it down
    its length."""
    clean = _pan_window()
    window = _scratched(clean, 70, 0.08)
    restored, _, matte = _repaired(RepairModel(), window)
    found = matte[0, 0] > 0.5
    line = found[8:-8, 70:72]  # the picture's edges have a raised threshold
    assert float(line.float().mean()) > 0.9, float(line.float().mean())
    elsewhere = torch.ones_like(found)
    elsewhere[:, 67:75] = False
    assert float(found[elsewhere].float().mean()) < 0.002, float(found[elsewhere].float().mean())
    damaged = (window[0, 2, 8:-8, 70:72, :3] - clean[0, 2, 8:-8, 70:72, :3]).abs().mean()
    left = (restored[0, 8:-8, 70:72, :3] - clean[0, 2, 8:-8, 70:72, :3]).abs().mean()
    assert float(left) < 0.3 * float(damaged), (float(left), float(damaged))


def test_a_vertical_line_that_never_moves_is_the_pictures():
    """In a locked-off shot a line in the same place on every frame is the picture's to any temporal test (a pole,
    a door frame): the line test leaves it alone."""
    window = _scratched(_pan_window(0), 70, 0.08)
    _, _, matte = _repaired(RepairModel(), window)
    assert float((matte[0, 0] > 0.5).float().mean()) < 0.002


@pytest.mark.parametrize(("shape", "rows", "cols"), [((1, 4, 37, 53), 23, 23), ((2, 1, 100, 7), 31, 1),
                                                     ((1, 3, 5, 90), 1, 11), ((1, 2, 9, 9), 5, 5)])
def test_the_exported_box_mean_is_the_average_pool_it_trains_with(shape: tuple[int, ...], rows: int, cols: int):
    from torch.nn import functional as F

    from chromaluma.models.repair import _box_pass

    x = torch.rand(shape, generator=torch.Generator().manual_seed(1))
    pooled = F.avg_pool2d(F.avg_pool2d(x, (rows, 1), stride=1, padding=(rows // 2, 0), count_include_pad=False),
                          (1, cols), stride=1, padding=(0, cols // 2), count_include_pad=False)
    convolved = x
    if rows > 1:
        convolved = _box_pass(convolved, rows, vertical=True)
    if cols > 1:
        convolved = _box_pass(convolved, cols, vertical=False)
    assert torch.allclose(convolved, pooled, atol=2e-6)  # the window shrunk at the edges as the pool shrinks it


@pytest.mark.parametrize(("shape", "rows", "cols"), [((1, 4, 37, 53), 11, 11), ((2, 1, 6, 7), 5, 5),
                                                     ((1, 3, 5, 90), 1, 3), ((1, 2, 9, 9), 3, 3), ((1, 1, 2, 2), 5, 5)])
def test_the_max_over_a_window_in_two_passes_is_the_two_dimensional_max(shape: tuple[int, ...], rows: int, cols: int):
    from torch.nn import functional as F

    from chromaluma.models.repair import _max_box

    x = torch.randn(shape, generator=torch.Generator().manual_seed(2))
    expected = F.max_pool2d(x, (rows, cols), stride=1, padding=(rows // 2, cols // 2))
    assert torch.equal(_max_box(x, rows, cols), expected)


def test_the_neighbours_planes_are_their_colour_luma_and_absence():
    from chromaluma.models.colour import luma
    from chromaluma.models.repair import RepairModel

    model = RepairModel(width=4, dilations=(1,), temporal_radius=2)
    others = torch.rand((2, 4, 6, 5, 4), generator=torch.Generator().manual_seed(3))
    others[..., 3] = (others[..., 3] > 0.3).float()
    colour, lumas, absent = model.neighbour_planes(others)
    assert torch.equal(colour, others[..., :3].permute(0, 1, 4, 2, 3))
    assert torch.allclose(lumas, luma(others), atol=1e-6)
    assert torch.equal(absent, (others[..., 3] < 0.5).float())


def _lumas(*columns: tuple[float, ...]) -> torch.Tensor:
    """[1, K, 1, P]: neighbour k's luma at pixel p is columns[p][k]."""
    return torch.tensor(columns, dtype=torch.float32).T.reshape(1, len(columns[0]), 1, len(columns))


def test_the_trimmed_mean_is_the_median_pair_ranked_by_luma_over_the_neighbours_that_are_evidence():
    from chromaluma.models.repair import _trimmed_mean_weights

    luma = _lumas((0.1, 0.5, 0.3, 0.9), (0.2, 0.5, 0.3, 0.9), (0.2, 0.5, 0.3, 0.9), (1.0, 1.0, 1.0, 0.9),
                  (0.4, 0.4, 0.4, 0.4), (0.2, 0.5, 0.3, 0.9))
    absent = _lumas((0, 0, 0, 0), (1, 0, 0, 0), (1, 0, 0, 1), (0, 0, 0, 0), (0, 0, 0, 0), (1, 1, 1, 1))
    weights = _trimmed_mean_weights(luma, absent)[0, :, 0].T
    expected = [[0, 0.5, 0.5, 0],  # four: the darkest and the brightest left out
                [0, 1, 0, 0],  # three: the median
                [0, 0.5, 0.5, 0],  # two: their mean
                [0.5, 0.5, 0, 0],  # a clipped highlight: equal lumas ranked, one brightest left out
                [0, 0.5, 0.5, 0],  # all equal
                [0, 0, 0, 0]]  # none is evidence
    assert torch.allclose(weights, torch.tensor(expected, dtype=torch.float32), atol=1e-6)


def test_a_fill_that_favours_the_trimmed_mean_takes_whole_colours_of_the_median_pair():
    from chromaluma.models.repair import _trimmed_mean_weights, _weighted_sum

    colours = [torch.tensor(c, dtype=torch.float32).reshape(1, 3, 1, 1) for c in
               ((0.9, 0.1, 0.1), (0.2, 0.6, 0.2), (0.1, 0.1, 0.5), (0.7, 0.7, 0.7))]
    luma = torch.cat([0.2126 * c[:, 0:1] + 0.7152 * c[:, 1:2] + 0.0722 * c[:, 2:3] for c in colours], dim=1)
    trimmed = _trimmed_mean_weights(luma, torch.zeros_like(luma))
    logits = torch.tensor([0, 0, 0, 0, 40.0, 0, 0, 0]).reshape(1, 8, 1, 1)
    spatial = [torch.zeros(1, 3, 1, 1)] * 3
    fill = _weighted_sum(logits, colours, trimmed, spatial).flatten().tolist()
    # lumas 0.27, 0.47, 0.13, 0.70: the red and the green frame are the median pair, blue and grey are left out
    assert fill == pytest.approx([0.55, 0.35, 0.15], abs=1e-5)


def test_equal_lumas_whose_ranking_rounds_away_fall_back_to_the_mean_of_the_evidence():
    # in a half-precision model the neighbour-order tie-break (1e-5 per index) is lost in luma's rounding: where every
    # luma is then equal, or the brightest two are, no neighbour is left between the extremes and the fill takes the
    # mean of those that are evidence
    from chromaluma.models.repair import _trimmed_mean_weights

    luma = _lumas((0.4, 0.4, 0.4, 0.4), (0.9, 0.9, 0.2, 0.2), (0.9, 0.9, 0.2, 0.2)).to(torch.float16)
    absent = _lumas((0, 0, 0, 0), (0, 0, 0, 0), (0, 0, 0, 1)).to(torch.float16)
    weights = _trimmed_mean_weights(luma, absent)[0, :, 0].T.float()
    expected = [[0.25, 0.25, 0.25, 0.25], [0.25, 0.25, 0.25, 0.25], [1 / 3, 1 / 3, 1 / 3, 0]]
    assert torch.allclose(weights, torch.tensor(expected), atol=1e-3)
