"""What a restorer looks at during training: contact sheets (scan | reference | result) and the loss curve."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from chromaluma.io import FrameFormat, write_frame
from chromaluma.io.atomic import replace_atomically

SHEET_PANEL_WIDTH = 384
TITLE_HEIGHT = 18
_SHEET_FORMAT = FrameFormat(".png", "uint8", 8, 3)


def _panel(frame: np.ndarray, width: int) -> np.ndarray:
    import cv2

    rgb = np.clip(np.nan_to_num(frame[..., :3]), 0.0, 1.0).astype(np.float32)
    if rgb.shape[1] <= width:
        return rgb
    height = max(1, round(rgb.shape[0] * width / rgb.shape[1]))
    return cv2.resize(rgb, (width, height), interpolation=cv2.INTER_AREA)


def write_contact_sheet(path: Path, rows: list[tuple[np.ndarray, np.ndarray, np.ndarray]], title: str = "") -> Path:
    """A title strip (e.g. "STEP 1000"), then one row per preview frame: scan | reference | result, each scaled to
    SHEET_PANEL_WIDTH; written atomically.

    Values are shown as stored (clipped to 0–1), with no display transform: for log or linear pairs the sheet
    looks flat or dark, as the pairs do.
    """
    gap = 4
    panels = [[_panel(image, SHEET_PANEL_WIDTH) for image in row] for row in rows]
    width = sum(p.shape[1] for p in panels[0]) + gap * (len(panels[0]) - 1)
    height = TITLE_HEIGHT + sum(row[0].shape[0] for row in panels) + gap * (len(panels) - 1)
    sheet = np.full((height, width, 3), 0.18, dtype=np.float32)
    _draw_title(sheet, title or "scan | reference | result")
    top = TITLE_HEIGHT
    for row in panels:
        left = 0
        for panel in row:
            sheet[top:top + panel.shape[0], left:left + panel.shape[1]] = panel
            left += panel.shape[1] + gap
        top += row[0].shape[0] + gap
    path.parent.mkdir(parents=True, exist_ok=True)
    write_frame(path, sheet, _SHEET_FORMAT)
    return path


def _draw_title(sheet: np.ndarray, title: str) -> None:
    import cv2

    strip = np.ascontiguousarray(np.rint(sheet[:TITLE_HEIGHT] * 255.0).astype(np.uint8))  # putText draws on 8-bit
    cv2.putText(strip, title, (4, TITLE_HEIGHT - 5), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (230, 230, 230), 1, cv2.LINE_AA)
    sheet[:TITLE_HEIGHT] = strip.astype(np.float32) / 255.0


def write_loss_curve(path: Path, losses: list[tuple[int, float]], validation: list[tuple[int, float]],
                     validation_name: str) -> Path:
    """Training loss per step (and validation score) as a PNG, written atomically."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    figure, axis = plt.subplots(figsize=(7, 4), dpi=100)
    if losses:
        steps, values = zip(*losses, strict=True)
        axis.plot(steps, values, linewidth=0.8, color="tab:blue", label="training loss")
    axis.set_xlabel("step")
    axis.set_ylabel("loss (L1 + confidence NLL; may go below 0)")
    if validation:
        twin = axis.twinx()
        val_steps, val_values = zip(*validation, strict=True)
        twin.plot(val_steps, val_values, "o-", color="tab:orange", label=validation_name)
        twin.set_ylabel(validation_name)
    axis.set_title("Chromaluma training")
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        replace_atomically(path, figure.savefig)
    finally:
        plt.close(figure)
    return path
