"""The grid kinds' confidence network (chroma, pairs, keyframes): a network of its own that reads what the colour
network reads, detached, so its likelihood never reweights the colour; earlier models still start a run (`--init`)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from chromaluma.models import build_model
from chromaluma.models.kinds import LOG_SIGMA0
from chromaluma.train.initial import with_confidence_network

SMALL = {"width": 8, "dilations": [1, 2, 4, 1]}
# where models made before the confidence network had log_sigma among the colour network's outputs (chroma:
# slope 2, offset 2, log_sigma, then density when smooth; pairs: matrix 9, offset 3, log_sigma; keyframes: as chroma)
LEGACY_CHANNEL = {"chroma": 4, "pairs": 12, "keyframes": 4}
GRID_KINDS = [("chroma", {"density": "keep"}), ("chroma", {"density": "smooth"}), ("pairs", {}), ("keyframes", {})]


def _perturbed(kind: str, architecture: dict) -> torch.nn.Module:
    torch.manual_seed(0)
    model = build_model(kind, 0.25, {**SMALL, **architecture}).eval()
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.copy_(torch.randn_like(parameter) * 0.3)
    return model


def _run(model: torch.nn.Module, kind: str, seed: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
    """(restored, log_sigma) of a random 32×40 frame (and two random keyframes for a keyframe model)."""
    generator = torch.Generator().manual_seed(seed)
    frame = torch.rand(1, 32, 40, 4, generator=generator)
    if kind == "keyframes":
        return model(frame, torch.rand(1, 2, 32, 40, 4, generator=generator))
    return model(frame)


@pytest.mark.parametrize(("kind", "architecture"), GRID_KINDS)
def test_the_confidence_likelihood_never_reaches_the_colour_network(kind: str, architecture: dict):
    """A gradient through log_sigma alone moves the confidence network and nothing the colour is made of."""
    model = _perturbed(kind, architecture)
    _, log_sigma = _run(model, kind)
    log_sigma.square().sum().backward()
    moved = {name for name, p in model.named_parameters() if p.grad is not None and p.grad.abs().max() > 0}
    assert moved and all(name.startswith("confidence_net.") for name in moved), sorted(moved)


@pytest.mark.parametrize(("kind", "architecture"), GRID_KINDS)
def test_the_confidence_network_reads_no_further_than_the_colour_network(kind: str, architecture: dict):
    model = build_model(kind, 0.25, {**SMALL, **architecture})
    assert 0 < model.confidence_net.reach <= model.net.reach


def _legacy_state(model: torch.nn.Module, kind: str) -> dict[str, torch.Tensor]:
    """`model`'s weights as a model made before the confidence network had them: log_sigma one more output channel
    of the colour network, at the kind's legacy channel (filled with values that would show if they were kept)."""
    channel = LEGACY_CHANNEL[kind]
    state = {name: value.clone() for name, value in model.state_dict().items()
             if not name.startswith("confidence_net.")}
    for name in ("net.head.weight", "net.head.bias", "net.linear.weight"):
        value = state[name]
        inserted = torch.full_like(value[:1], 5.0)
        state[name] = torch.cat([value[:channel], inserted, value[channel:]], dim=0)
    return state


@pytest.mark.parametrize(("kind", "architecture"), GRID_KINDS)
def test_an_earlier_model_starts_a_run_with_its_colour_and_a_fresh_confidence(kind: str, architecture: dict):
    earlier = _perturbed(kind, architecture)
    legacy = _legacy_state(earlier, kind)
    model = build_model(kind, 0.25, {**SMALL, **architecture}).eval()
    model.load_state_dict(with_confidence_network(legacy, model, Path("earlier.onnx")))
    restored, log_sigma = _run(model, kind)
    with torch.no_grad():
        expected, _ = _run(earlier, kind)
    torch.testing.assert_close(restored, expected.detach())
    torch.testing.assert_close(log_sigma, torch.full_like(log_sigma, LOG_SIGMA0))


def test_weights_in_todays_layout_are_left_as_they_are():
    model = _perturbed("pairs", {})
    state = model.state_dict()
    assert with_confidence_network(state, model, Path("today.onnx")) is state


def test_the_confidence_network_learns_where_the_error_is():
    """A chroma model trained on pairs whose reference colour is noisy wherever the scan is bright (and exact where
    it is dark) ends up less confident on a held-out frame's bright half than on its dark half."""
    from chromaluma.train.objective import training_terms

    rng = np.random.default_rng(0)
    torch.manual_seed(0)
    model = build_model("chroma", 0.25, {"width": 8, "dilations": [1, 2, 1, 2]})
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)

    def pair() -> tuple[torch.Tensor, torch.Tensor]:
        scan = rng.random((1, 32, 32, 4), dtype=np.float32) * 0.2 + 0.1
        bright = rng.random((1, 32, 32)) < 0.5
        bright = np.kron(bright[:, ::8, ::8], np.ones((8, 8), bool))[:, :32, :32]  # whole cells bright or dark
        scan[..., :3] += 0.6 * bright[..., None]
        reference = scan[..., :3].copy()
        reference[..., 0] += np.where(bright, rng.normal(0.0, 0.15, bright.shape), 0.0)
        return torch.from_numpy(scan), torch.from_numpy(reference.astype(np.float32))

    for _ in range(150):
        scan, reference = pair()
        loss, _ = training_terms("chroma", model, scan, reference, torch.ones(scan.shape[:3]))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    scan = np.full((1, 32, 64, 4), 0.2, np.float32)
    scan[:, :, 32:, :3] += 0.6
    with torch.no_grad():
        _, log_sigma = model(torch.from_numpy(scan))
    dark, bright = log_sigma[0, 0, :, 1:3].mean(), log_sigma[0, 0, :, -3:-1].mean()
    assert bright > dark + 0.5, (float(dark), float(bright))


def test_a_repair_models_confidence_is_its_delivered_pixels():
    """Repair: confidence = exp(−matte · sigma / 0.05): the repair's own sigma (learnt on damage only) weighted by
    the damage probability, so a pixel taken for clean (matte near 0, passed through untouched) is sure."""
    from chromaluma.models import CONFIDENCE_SCALE, ContractGraph

    torch.manual_seed(0)
    model = build_model("repair", 0.25, {"width": 8, "dilations": [1, 2], "temporal_radius": 1}).eval()
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.copy_(torch.randn_like(parameter) * 0.3)
    generator = torch.Generator().manual_seed(2)
    frame, others = torch.rand(1, 32, 40, 4, generator=generator), torch.rand(2, 32, 40, 4, generator=generator)
    with torch.no_grad():
        _, log_sigma, matte = model.restore(frame, others.unsqueeze(0))
        _, confidence, matte_out = ContractGraph(model)(frame, others)
    expected = torch.exp(-matte * torch.exp(log_sigma) / CONFIDENCE_SCALE).permute(0, 2, 3, 1)
    torch.testing.assert_close(confidence, expected)
    assert float(matte.std()) > 0.01  # the weights give a matte that varies, so the product is tested
    torch.testing.assert_close(matte_out, matte.permute(0, 2, 3, 1))


@pytest.mark.parametrize(("kind", "architecture"), GRID_KINDS)
def test_resuming_a_run_made_before_the_confidence_network_is_refused_in_one_line(kind: str, architecture: dict):
    from chromaluma.errors import ModelFormatError
    from chromaluma.train.initial import check_resumable

    model = _perturbed(kind, architecture)
    with pytest.raises(ModelFormatError, match=r"--resume run: .*--init run with a new --run-dir") as refused:
        check_resumable(_legacy_state(model, kind), model, Path("run"))
    assert "\n" not in str(refused.value)
    check_resumable(model.state_dict(), model, Path("run"))  # today's layout resumes
